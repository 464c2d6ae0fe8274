"""``mlops upgrade``: keep every model folder current with ``templates/model`` by a three-way merge.

Each model folder records where it came from in ``.mlops-template.json``: the template's version and
the answers it was rendered with. The version is the git tree id of ``templates/model`` (what
``git rev-parse HEAD:templates/model`` prints once committed): a content address, known before the
change that makes it is committed, so a template change and its folders' upgrades land in one commit
and CI's ``--check`` compares ids without history (a shallow clone is enough). cruft's
``.cruft.json`` records a commit of a separate template repository, which a template inside the same
repository cannot name for its own change, so the record is this plain JSON (docs/templates.md).

Upgrading renders the template at the recorded version and at the current one with the stored
answers, and merges the difference into the folder file by file (``git merge-file``): a line the
template changed and the model did not is updated, a line both changed gets conflict markers, new
template files appear, removed ones go when the model left them as rendered. Paths the template
declares model-owned (``_model_owned`` in its ``cookiecutter.json``) are never written.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core import atomic, project
from mlops.core.console import plural
from mlops.core.errors import MlopsError
from mlops.models.catalog import MARKER

RECORD = ".mlops-template.json"
TEMPLATE = Path("templates") / "model"
LARGEST_SCANNED = 1 << 20  # files above this size (data) are not scanned for conflict markers


def git(*args: str, env: dict[str, str] | None = None, top: bool = False) -> bytes:
    """Run git in the project root (with ``top``, at the top of its repository) and return its output;
    raise naming the problem when it fails."""
    where = project.root()
    if top:
        where = Path(git("rev-parse", "--show-toplevel").decode().strip())
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=where,
            capture_output=True,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except FileNotFoundError:
        raise MlopsError(
            "git is not installed; mlops upgrade reads the template's versions from git"
        ) from None
    if done.returncode:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        if message and "ignored by one of your .gitignore files" in message[0]:
            raise MlopsError(
                f"{TEMPLATE} is ignored by the git repository around {project.root()}, so it has no "
                "versions; keep the project in a repository of its own (git init) and commit the template"
            )
        if message and "not a git repository" in message[0]:
            raise MlopsError(
                f"{project.root()} is not a git repository; mlops upgrade reads the template's versions "
                "from git: run git init and commit the template first"
            )
        raise MlopsError(f"git {' '.join(args[:2])} failed: {message[0] if message else done.returncode}")
    return done.stdout


def template_path() -> str:
    """Return ``templates/model``'s path from the top of the git repository (the project may be a
    folder of a larger repository)."""
    return git("rev-parse", "--show-prefix").decode().strip() + TEMPLATE.as_posix()


def current_version() -> str:
    """Return the git tree id of ``templates/model`` as it is in the work tree (committed or not)."""
    with tempfile.TemporaryDirectory() as folder:
        index = {"GIT_INDEX_FILE": str(Path(folder) / "index")}
        git("add", "--all", "--", str(TEMPLATE), env=index)
        return git("write-tree", f"--prefix={template_path()}/", env=index).decode().strip()


def history() -> list[str]:
    """Return the tree ids ``templates/model`` had in the commits of HEAD, newest first."""
    path = template_path()
    commits = git("log", "--format=%H", "--", str(TEMPLATE)).decode().split()
    trees = [git("rev-parse", f"{commit}:{path}").decode().strip() for commit in commits]
    return list(dict.fromkeys(trees))


def model_owned(version: str) -> list[str]:
    """Return the path patterns (relative to a model folder) template ``version`` declares model-owned."""
    settings = json.loads(git("show", f"{version}:cookiecutter.json"))
    return list(settings.get("_model_owned") or [])


@dataclass
class Record:
    """Where a model folder came from: the template version and the answers it was rendered with."""

    version: str
    answers: dict[str, str]

    @classmethod
    def read(cls, folder: Path) -> Record | None:
        """Return the folder's record, None when it has none."""
        path = folder / RECORD
        if not path.is_file():
            return None
        try:
            found = json.loads(path.read_text())
            return cls(str(found["version"]), dict(found["answers"]))
        except (ValueError, KeyError, TypeError):
            raise MlopsError(
                f"{path.relative_to(project.root())} is not a template record (JSON with version and "
                f"answers); restore it from git or record it again: mlops upgrade --adopt {folder.name}"
            ) from None

    def write(self, folder: Path) -> None:
        """Write the record into ``folder``."""
        text = json.dumps(
            {"template": TEMPLATE.as_posix(), "version": self.version, "answers": self.answers}, indent=2
        )
        atomic.write(folder / RECORD, text + "\n")


def render(version: str, answers: dict[str, str], into: Path) -> Path:
    """Render template ``version`` with ``answers`` into ``into``; return the rendered model folder.
    Raise naming the answers when they do not satisfy that version's rules."""
    from cookiecutter.main import cookiecutter

    template = into / "template"
    template.mkdir(parents=True)
    with tempfile.TemporaryFile() as archive:
        archive.write(git("archive", "--format=tar", version, top=True))  # a tree archives from the top
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(template, filter="data")
    problems = refused(template, answers)
    if problems:
        raise MlopsError(
            f"the answers recorded for '{answers.get('model_name')}' no longer satisfy the template: "
            f"{'; '.join(problems)}; fix them in its {RECORD}"
        )
    output = into / "rendered"
    cookiecutter(
        str(template), no_input=True, output_dir=str(output), extra_context=answers, accept_hooks=False
    )
    return output / answers["model_name"]


def refused(template: Path, answers: dict[str, str]) -> list[str]:
    """Return what the template's own answer rules (``problems`` in its pre-generation hook, given the
    answers it names) find wrong with ``answers``; none for a template without rules."""
    import importlib.util
    import inspect

    hook = template / "hooks" / "pre_gen_project.py"
    if not hook.is_file():
        return []
    spec = importlib.util.spec_from_file_location("template_rules", hook)
    assert spec is not None and spec.loader is not None  # a .py path gets a source loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "problems"):
        return []
    names = inspect.signature(module.problems).parameters
    empty = inspect.Parameter.empty
    given = {name: answers.get(name, parameter.default) for name, parameter in names.items()}
    found: list[str] = module.problems(
        **{name: "" if value is empty else value for name, value in given.items()}
    )
    return found


def files(folder: Path, owned: Iterable[str]) -> dict[str, bytes]:
    """Return the files of ``folder`` by relative path, less the record and the model-owned paths."""
    patterns = list(owned)
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        is_owned = any(fnmatch.fnmatch(relative, pattern) for pattern in patterns)
        if path.is_file() and relative != RECORD and "__pycache__" not in relative and not is_owned:
            found[relative] = path.read_bytes()
    return found


@dataclass
class Change:
    """What upgrading one folder writes: new contents by path (None: delete), conflicted paths."""

    folder: Path
    before: str
    after: str
    writes: dict[str, bytes | None] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # the template's mode of each file it adds
    conflicts: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # removed from the template, changed by the model


def merge(ours: bytes, base: bytes, theirs: bytes, name: str) -> tuple[bytes, int]:
    """Return ``git merge-file``'s merge of the template's change (base to theirs) into ours, and its
    number of conflicts."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for label, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(folder) / label
            path.write_bytes(content)
            paths.append(str(path))
        labels = [name, "template (recorded version)", "template (current version)"]
        done = subprocess.run(
            ["git", "merge-file", "-p", *(item for label in labels for item in ("-L", label)), *paths],
            capture_output=True,
            check=False,
        )
    if done.returncode < 0 or done.returncode > 127:
        raise MlopsError(f"git merge-file failed on {name}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout, done.returncode


def planned(folder: Path, record: Record, version: str) -> Change:
    """Return what upgrading ``folder`` from its recorded version to ``version`` writes."""
    change = Change(folder, record.version, version)
    owned = set(model_owned(record.version)) | set(model_owned(version))
    with tempfile.TemporaryDirectory() as temporary:
        base = files(render(record.version, record.answers, Path(temporary) / "base"), owned)
        rendered = render(version, record.answers, Path(temporary) / "theirs")
        theirs = files(rendered, owned)
        change.modes = {path: (rendered / path).stat().st_mode for path in theirs}
    ours = files(folder, owned)
    for path in sorted(set(base) | set(theirs)):
        old, new, mine = base.get(path), theirs.get(path), ours.get(path)
        if old == new:
            continue
        if new is None:  # removed from the template
            if mine == old:
                change.writes[path] = None
            elif mine is not None:
                change.kept.append(path)
            continue
        if mine is None and old is not None:
            continue  # the model deleted a file the template still has
        if mine is None or mine == old:
            change.writes[path] = new
            continue
        if b"\0" in mine + (old or b"") + new:  # git merge-file refuses binary files: the model's stays
            change.conflicts.append(path)
            continue
        merged, conflicts = merge(mine, old or b"", new, f"{folder.name}/{path}")
        if merged != mine:
            change.writes[path] = merged
        if conflicts:
            change.conflicts.append(path)
    return change


def apply(change: Change) -> None:
    """Write a planned change: every file through a temporary one replacing it (so none is left half
    written), then the record."""
    for path, content in change.writes.items():
        target = change.folder / path
        if content is None:
            target.unlink(missing_ok=True)
            continue
        # a file keeps its mode; one the template adds takes the template's (an executable stays one)
        mode = target.stat().st_mode if target.exists() else change.modes.get(path)
        with atomic.made(target.parent), atomic.replacing(target) as handle:
            handle.write(content)
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
    record = Record.read(change.folder)
    assert record is not None  # the change was planned from the record, which no write touches
    Record(change.after, record.answers).write(change.folder)


def diff(change: Change) -> str:
    """Return the unified diff a planned change would apply."""
    lines: list[str] = []
    for path, content in change.writes.items():
        target = change.folder / path
        before = target.read_text(errors="replace").splitlines(keepends=True) if target.exists() else []
        after = [] if content is None else content.decode(errors="replace").splitlines(keepends=True)
        where = f"{change.folder.name}/{path}"
        lines += difflib.unified_diff(before, after, f"a/{where}", f"b/{where}")
    return "".join(lines)


def conflicted(folder: Path) -> list[str]:
    """Return the files of ``folder`` that hold a git conflict marker line."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.stat().st_size <= LARGEST_SCANNED and MARKER.search(path.read_bytes()):
            found.append(path.relative_to(folder).as_posix())
    return found


def adopt(folder: Path, answers: dict[str, str]) -> tuple[str, float]:
    """Record, for a folder made before records, the newest template version whose rendering with
    ``answers`` matches it best; return the version and how much of it matched (0 to 1)."""
    versions = list(dict.fromkeys([current_version(), *history()]))
    best, score = versions[0], -1.0
    for version in versions:
        with tempfile.TemporaryDirectory() as temporary:
            try:
                rendered = files(render(version, answers, Path(temporary)), model_owned(version))
            except Exception:  # an old version these answers cannot render: not the one it came from
                continue
        ours = files(folder, model_owned(version))
        matched = sum(
            difflib.SequenceMatcher(
                None, content.decode(errors="replace"), ours[path].decode(errors="replace")
            ).ratio()
            for path, content in rendered.items()
            if path in ours
        ) / max(len(rendered), 1)
        if matched > score:  # versions run newest first: a tie keeps the newer
            best, score = version, matched
    if score < 0:
        raise MlopsError(
            f"{folder.name}: no version of {TEMPLATE} renders with the answers read from its config "
            f"({', '.join(f'{key}={value!r}' for key, value in answers.items())}); fix config/model.yaml "
            "(task, owner, card.description) so the template accepts them, then adopt again"
        )
    Record(best, answers).write(folder)
    return best, score


def answers_of(folder: Path) -> dict[str, str]:
    """Return the template answers a folder made without a record implies: its name, and the task,
    owner and description of its config."""
    import yaml

    from mlops.models import catalog

    path = folder / "config" / "model.yaml"
    text = path.read_text()
    try:
        with path.open(encoding="utf-8") as stream:  # a stream keeps the name: the error says where
            config = yaml.safe_load(stream) or {}
    except yaml.YAMLError as error:
        raise MlopsError(f"{folder.name}: cannot read its answers: {catalog.yaml_problem(error)}") from None
    if not isinstance(config, dict):
        raise MlopsError(f"{folder.name}: {path.relative_to(project.root())} is not a mapping of config keys")
    card = config.get("card")
    if not isinstance(card, dict):
        card = {}
    first = text.splitlines()[0] if text else ""
    description = (
        card.get("description")
        or first.partition(": ")[2]
        or "A model trained and served by the mlops framework."
    )
    return {
        "model_name": folder.name,
        "task": str(config.get("task", "regression")),
        "description": str(description),
        "owner": str(config.get("owner", "data-science")),
    }


def dirty(folders: Iterable[Path]) -> list[str]:
    """Return the paths under ``folders`` with changes git has not committed."""
    paths = [str(folder.relative_to(project.root())) for folder in folders]
    status = git("status", "--porcelain", "--untracked-files=all", "--", *paths).decode()
    return [line[3:] for line in status.splitlines() if line.strip()]


def known(version: str, folder: Path) -> None:
    """Raise naming the fix when git does not hold template ``version`` a folder records."""
    try:
        git("cat-file", "-e", f"{version}^{{tree}}")
    except MlopsError:
        if git("rev-parse", "--is-shallow-repository").decode().strip() == "true":
            raise MlopsError(
                f"{folder.name}: its template version {version[:12]} is not in this clone (a shallow clone "
                "has only the newest commits): run git fetch --unshallow, then mlops upgrade again"
            ) from None
        raise MlopsError(
            f"{folder.name}: its template version {version[:12]} is in no commit of this repository (it was "
            f"recorded from template changes never committed); record the version again: mlops upgrade "
            f"--adopt {folder.name}"
        ) from None


def recorded(folder: Path) -> Record:
    """Return a folder's record, or raise naming the way to make one."""
    record = Record.read(folder)
    if record is None:
        raise MlopsError(
            f"{folder.name} has no {RECORD} (made before template versions were recorded); record "
            f"the version it came from: mlops upgrade --adopt {folder.name}"
        )
    return record


def check(folders: list[Path], echo: Callable[[str], object]) -> int:
    """Print whether each folder is current with the template; return 1 when any is not."""
    version, failed = current_version(), 0
    for folder in folders:
        record = Record.read(folder)
        markers = conflicted(folder)
        if record is None:
            state = f"no template record: mlops upgrade --adopt {folder.name}"
        elif record.version != version:
            state = f"behind (template {record.version[:12]} -> {version[:12]}): mlops upgrade {folder.name}"
        elif markers:
            state = (
                f"{len(markers)} unresolved conflict{'s' if len(markers) > 1 else ''}: {', '.join(markers)}"
            )
        else:
            echo(f"{folder.name}: current")
            continue
        failed = 1
        echo(f"{folder.name}: {state}")
    return failed


def upgrade(folders: list[Path], dry_run: bool, echo: Callable[[str], object]) -> int:
    """Bring ``folders`` to the current template; print a line per folder (and, with ``dry_run``, the
    diff instead of writing). Return 1 when a conflict is left. Nothing is written when any folder is
    dirty, has no record, names an unknown version or has answers the template refuses."""
    changed = dirty(folders)
    if changed and not dry_run:
        unsaved = [str(folder.relative_to(project.root())) for folder in folders if dirty([folder])]
        raise MlopsError(
            f"uncommitted changes under the folders to upgrade ({', '.join(changed[:5])}"
            f"{', ...' if len(changed) > 5 else ''}); commit them first, so the upgrade's own changes "
            f"stand apart: git add {' '.join(unsaved)} && git commit -m 'before mlops upgrade'"
        )
    version = current_version()
    records = {folder: recorded(folder) for folder in folders}
    for folder, record in records.items():
        known(record.version, folder)
    changes = [
        planned(folder, record, version) for folder, record in records.items() if record.version != version
    ]
    failed = 0
    for folder in folders:
        change = next((change for change in changes if change.folder == folder), None)
        if change is None:
            echo(f"{folder.name}: current")
            continue
        if dry_run:
            echo(diff(change) or f"{folder.name}: only the record would move to {version[:12]}")
            continue
        apply(change)
        line = f"{folder.name}: upgraded {change.before[:12]} -> {change.after[:12]}"
        line += f" ({plural(len(change.writes), 'file')})"
        if change.kept:
            line += f"; kept {', '.join(change.kept)} (removed from the template, changed here)"
        if change.conflicts:
            failed = 1
            line += f"; {len(change.conflicts)} conflict{'s' if len(change.conflicts) > 1 else ''}: "
            line += ", ".join(f"{folder.name}/{path}" for path in change.conflicts)
        echo(line)
    return failed
