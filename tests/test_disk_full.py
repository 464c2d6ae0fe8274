"""A full disk, a read-only file system: every writing command says so in one line naming the path,
exits 2, leaves nothing partial, and works again once space returns; the endpoint answers 503 while it
cannot collect and 200 with its records after. Real tmpfs mounts (CI runs as root)."""

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlops.core import atomic
from mlops.core.refusals import translated

REPO = Path(__file__).resolve().parents[1]


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


# --- on real tmpfs mounts: the endpoint and every writing command ---------------------------------

TRAIN = ["data=generated", "data.n_rows=2000", "estimator.n_estimators=10"]
# the real taxi trips the model ships for batch scoring and monitoring
BATCH_FILE = REPO / "data-science/models/taxi-fare/data/taxi-batch.csv"
NO_SPACE = "no space left on the file system holding {path}; free space there"


class Tmpfs:
    """A small tmpfs mounted at ``folder``: ``fill`` takes its last free page with a filler file,
    ``free`` deletes it to return the space."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.filler = folder / "filler"

    def fill(self) -> None:
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(descriptor, bytes(1 << 16))
        except OSError as error:
            assert error.errno == errno.ENOSPC
        finally:
            os.close(descriptor)

    def free(self) -> None:
        self.filler.unlink()

    def read_only(self, read_only: bool = True) -> None:
        mode = "ro" if read_only else "rw"
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.folder)], check=True, capture_output=True)

    def files(self) -> list[str]:
        """Return every file and folder in the mount but the filler, relative to it."""
        return sorted(
            str(path.relative_to(self.folder)) for path in self.folder.rglob("*") if path != self.filler
        )


@pytest.fixture
def tmpfs():
    """Return a function that mounts a tmpfs of ``size`` at a folder (made if missing) and returns it
    as a ``Tmpfs``; every mount is unmounted at teardown. Skips when this is not root or mount fails."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str = "5m") -> Tmpfs:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root (CI runs the tests as root)")
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return Tmpfs(folder)

    yield mount
    for folder in reversed(mounted):  # a store this process opened stays open (MLflow caches it): lazily
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(folder)], check=True)


@pytest.fixture(scope="module")
def store(trained_state):
    """Train taxi-fare once (version 1, the champion); the tests add runs, not versions, except the
    train test, which trains into a copy."""
    return trained_state("disk-full-state", [("taxi-fare", TRAIN)])


def mlops(*args: str):
    """Run ``mlops ARGS`` in this process through the real command group (no exception is caught: one
    that the group does not turn into an ``error:`` line fails the test with its traceback)."""
    from mlops.cli import cli

    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def one_error(result) -> str:
    """Return the one ``error:`` line of a command that exited 2, having checked there is no other."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


def collected(folder: Path) -> dict[str, list[dict]]:
    """Return every collected record under ``folder`` by collection; every line must be whole JSON."""
    found = {"model_inputs": [], "model_outputs": []}
    for path in sorted(folder.rglob("*.jsonl")):
        text = path.read_text()
        assert not text or text.endswith("\n"), f"{path} ends in a torn line"
        found[path.relative_to(folder).parts[1]] += [json.loads(line) for line in text.splitlines()]
    return found


def test_the_endpoint_answers_503_while_it_cannot_collect_and_200_with_its_records_after(trained, tmpfs):
    from mlops.models import catalog
    from mlops.models.features import feature_columns
    from mlops.serving import endpoints, keys

    disk = tmpfs(trained / "collected" / "taxi-fare")
    cfg = catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    # 50 rows make an inputs record of about 20 kB: more than the page a full tmpfs may have left
    trips = load(n_rows=50, seed=99)[feature_columns(cfg)].astype({c: "float64" for c in cfg.schema.numeric})
    body = json.dumps({"input_data": trips.to_dict(orient="split", index=False)}).encode()
    deployed = mlops("deploy", "taxi-fare", "--online")
    try:
        assert deployed.exit_code == 0, deployed.output
        port = endpoints.read("taxi-fare")["port"]
        key = keys.read(endpoints.folder("taxi-fare"))["primary"]

        def score() -> tuple[int, dict, str]:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            status, answer, sent = endpoints.request(port, "POST", "/score", 30, body, headers)
            return status, answer, sent["x-request-id"]

        before = score()  # the files exist, their last page partly used
        assert before[0] == 200
        disk.fill()
        refused = [score() for _ in range(5)]
        assert [status for status, _, _ in refused] == [503] * 5
        assert "cannot be collected (No space left on device)" in refused[0][1]["message"]
        log = (endpoints.folder("taxi-fare") / endpoints.LOG).read_text()
        failures = [line for line in log.splitlines() if "cannot collect" in line]
        assert len(failures) == 1, failures  # at most once a minute, not once a request
        assert "No space left on device" in failures[0] and str(disk.folder) in failures[0]
        assert "refused 503" not in log

        disk.free()
        answered = [score() for _ in range(3)]
        assert [status for status, _, _ in answered] == [200] * 3
        assert all(len(answer["predictions"]) == 50 for _, answer, _ in answered)
    finally:
        endpoints.stop("taxi-fare")
    log = (endpoints.folder("taxi-fare") / endpoints.LOG).read_text()
    assert "collecting again (5 requests were not collected)" in log
    found = collected(disk.folder)  # stopped: everything written; each line parses, none torn
    for collection, records in found.items():
        ids = [record["correlationid"] for record in records]
        assert sorted(ids) == sorted([before[2], *(request for _, _, request in answered)]), collection
        assert all(len(record["data"]) == 50 for record in records)


OUTPUTS = {
    "batch": (
        lambda out: ["batch", "taxi-fare", "--input", BATCH_FILE, "--output", out],
        "predictions.csv",
        ["predictions.csv", "summary.json"],
    ),
    "card": (
        lambda out: ["card", "taxi-fare", "--output", out],
        "card.json",
        ["card.html", "card.json", "card.md"],
    ),
    "monitor": (
        lambda out: ["monitor", "taxi-fare", "--production", BATCH_FILE, "--stamp", "now", "--out", out],
        "summary.json",
        ["report.html", "summary.json"],
    ),
    "render": (
        lambda out: ["azure", "render", "taxi-fare", "--out", out, "--version", "1"],
        "pipeline.yml",
        ["pipeline.yml"],
    ),
}


@pytest.mark.parametrize("command", sorted(OUTPUTS))
def test_a_command_writing_to_a_full_disk_says_so_leaves_nothing_and_works_once_space_returns(
    trained, tmpfs, tmp_path, command
):
    args, refused, written = OUTPUTS[command]
    disk = tmpfs(tmp_path / "full")
    disk.fill()
    out = disk.folder / "out"

    error = one_error(mlops(*args(out)))
    assert error.startswith("error: " + NO_SPACE.format(path=out / refused)), error
    assert "or choose another folder for the command's output (--out, --output)" in error
    assert disk.files() == []  # no file, no temporary file, no folder made for them

    disk.free()
    result = mlops(*args(out))
    assert result.exit_code in (0, 1), result.output  # monitor exits 1 on an alert
    made = [str(path.relative_to(out)) for path in out.rglob("*")]
    assert set(written) <= set(made) and not [name for name in made if name.endswith(".tmp")], made


def test_a_read_only_file_system_is_named_and_a_remount_read_write_is_enough(trained, tmpfs, tmp_path):
    disk = tmpfs(tmp_path / "read-only")
    disk.read_only()
    out = disk.folder / "card"

    error = one_error(mlops("card", "taxi-fare", "--output", out))
    assert error.startswith(f"error: {out} is on a read-only file system; remount it read-write, or ")

    disk.read_only(False)
    assert mlops("card", "taxi-fare", "--output", out).exit_code == 0
    assert disk.files() == ["card", "card/card.html", "card/card.json", "card/card.md"]


def test_train_and_deploy_with_a_full_state_folder_say_so_and_the_store_trains_on_after(
    trained, tmpfs, tmp_path, run_mlops, monkeypatch
):
    from mlops import registry

    disk = tmpfs(tmp_path / "state", size="16m")
    shutil.copytree(
        trained, disk.folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("collected", "endpoints")
    )
    monkeypatch.setenv("MLOPS_STATE_DIR", str(disk.folder))
    kept = disk.files()
    disk.fill()

    failed = run_mlops("train", "taxi-fare", *TRAIN)  # a real process: what SQLAlchemy logs shows too
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr
    assert failed.stderr.strip().splitlines()[-1] == (
        f"error: {NO_SPACE.format(path=disk.folder / 'mlflow.db')}, or point MLOPS_STATE_DIR at a folder "
        f"with room (the state folder is {disk.folder})"
    )
    assert [line for line in failed.stderr.splitlines() if line.startswith("error: ")] == [
        failed.stderr.strip().splitlines()[-1]
    ]
    assert disk.files() == kept
    error = one_error(mlops("deploy", "taxi-fare", "--online"))  # fails before a server starts
    assert error.startswith("error: " + NO_SPACE.format(path=disk.folder / "endpoints/taxi-fare/keys.json"))
    assert set(disk.files()) - set(kept) == {"endpoints", "endpoints/taxi-fare", "endpoints/taxi-fare/.lock"}

    disk.free()
    trained_again = mlops("train", "taxi-fare", *TRAIN)
    assert trained_again.exit_code == 0, trained_again.output
    versions = registry.client().search_model_versions("name='taxi-fare'")
    assert sorted(int(version.version) for version in versions) == [1, 2]
