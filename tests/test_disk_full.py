"""A full disk, a read-only file system: every writing command says so in one line naming the path,
exits 2, leaves nothing partial, and works again once space returns; the endpoint answers 503 while it
cannot collect and 200 with its records after. Real tmpfs mounts (CI runs as root)."""

import errno
import os

import pytest

from mlops import atomic
from mlops.errors import translated


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "reports" / "page.html"
    atomic.write(path, "first")
    atomic.write(path, "second")
    assert path.read_text(encoding="utf-8") == "second"
    assert [child.name for child in path.parent.iterdir()] == ["page.html"]


def test_a_failed_write_leaves_the_old_files_and_no_folder_it_made(tmp_path):
    atomic.write(tmp_path / "kept.txt", "old")

    with pytest.raises(OSError) as raised, atomic.replacing(tmp_path / "made.txt") as handle:
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert raised.value.filename == str(tmp_path / "made.txt")  # the target, not the temporary file
    too_long = "x" * 300  # a real refusal of the last file, after the others are written
    with pytest.raises(OSError, match="too long"):
        atomic.write_all(tmp_path, {"kept.txt": "new", "made/deeper/other.txt": "new", too_long: "new"})
    assert sorted(child.name for child in tmp_path.iterdir()) == ["kept.txt"]
    assert (tmp_path / "kept.txt").read_text() == "old"


def test_the_refusals_are_translated_and_others_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "out" / "summary.json"))
    assert str(translated(full)) == (
        f"no space left on the file system holding {tmp_path / 'out' / 'summary.json'}; free space there, "
        "or choose another folder for the command's output (--out, --output)"
    )
    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "state" / "cards" / "x"))
    assert "is on a read-only file system; remount it read-write, or point MLOPS_STATE_DIR" in str(
        translated(read_only)
    )
    denied = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/somewhere/file")
    assert str(translated(denied)).startswith(
        "permission denied writing /somewhere/file; fix the permissions"
    )
    try:  # as SQLite's error reaches mlops: raised from SQLAlchemy's, raised from sqlite3's
        try:
            raise RuntimeError("(sqlite3.OperationalError) database or disk is full")
        except RuntimeError as error:
            raise ValueError("the store failed") from error
    except ValueError as error:
        wrapped = error
    assert f"holding {tmp_path / 'state' / 'mlflow.db'}; free space there" in str(translated(wrapped))
    assert translated(FileNotFoundError(errno.ENOENT, "gone", "x")) is None
    assert translated(ValueError("bad value")) is None
