"""The GitHub workflows call only what exists, offline: every `mlops ...` command line resolves to a
command of `mlops.cli.cli` with options it has and the arguments it requires, every `nox -s` names a
session of the noxfile, every call of a local reusable workflow gives inputs it declares (and all it
requires) and reads outputs it has. Third-party actions are pinned to full commit SHAs, no `run:`
script expands a `${{ }}` expression (data reaches scripts through `env:` only), checkouts keep no
credentials, and permissions and timeouts are set per job. Each check is a function of a workflow
folder, so the tests at the end show it catching a broken workflow in a temporary folder.

actionlint, zizmor and the workflow JSON schema run in tools/check_workflows.py; the checks here are
the ones they cannot make (actionlint's wasm build cannot read a local reusable workflow)."""

from __future__ import annotations

import itertools
import json
import re
import runpy
import shlex
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml

from mlops.cli import cli

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
NOXFILE = REPO / "noxfile.py"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(\.\d+)*\s*$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
# shell words that may stand before a command (or alone), and operators that end a command
KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "esac", "!", "time", "{", "}"}
SEPARATORS = {"&&", "||", ";", ";;", "|", "|&", "&", "(", ")"}
REDIRECTS = {">", ">>", "<", "<<", "<<-", "<<<", ">&", "<&", "&>", "&>>", ">|"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
HEREDOC = re.compile(r"<<(?!<)-?\s*(['\"]?)([A-Za-z_]\w*)\1")


# --- reading workflows ---------------------------------------------------------------------------


def load(path: Path) -> dict:
    """Read one workflow; YAML 1.1 reads an unquoted `on:` key as True, put it back."""
    document = yaml.safe_load(path.read_text()) or {}
    if True in document:
        document["on"] = document.pop(True)
    return document


def workflow_files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def triggers(document: dict) -> dict:
    """Return a workflow's `on:` as a mapping of event → settings."""
    on = document.get("on") or {}
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {event: {} for event in on}
    return {event: settings or {} for event, settings in on.items()}


@dataclass(frozen=True)
class Step:
    file: Path
    job: str
    index: int
    step: dict

    def __str__(self) -> str:
        name = self.step.get("name") or self.step.get("uses") or self.step.get("run", "").splitlines()[0]
        return f"{self.file.name}: job {self.job}, step {self.index + 1} ({name})"


def steps(folder: Path) -> Iterator[Step]:
    for file in workflow_files(folder):
        for job_id, job in (load(file).get("jobs") or {}).items():
            for index, step in enumerate(job.get("steps") or []):
                yield Step(file, job_id, index, step)


# --- command lines in run scripts ----------------------------------------------------------------


def shell_commands(script: str) -> list[list[str]]:
    """Return the simple commands of a bash script as word lists: continuation lines joined,
    here-document bodies and comments skipped, a line split at `&&`, `||`, `;`, `|` and parentheses
    (so `x=$(mlops list --json | jq ...)` gives `mlops list --json`), leading assignments and
    keywords dropped, and redirections with their targets removed."""
    commands = []
    lines = script.replace("\\\n", " ").splitlines()
    ending = None
    for line in lines:
        if ending is not None:
            if line.strip() == ending:
                ending = None
            continue
        heredoc = HEREDOC.search(line)
        if heredoc:
            ending = heredoc[2]
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:  # an unbalanced quote: not a line these checks can read
            continue
        command: list[str] = []
        for word in [*words, ";"]:
            if word in SEPARATORS:
                commands.append(simple(command))
                command = []
            else:
                command.append(word)
    return [words for words in commands if words]


def simple(words: list[str]) -> list[str]:
    """Drop leading keywords and assignments, and every redirection with its target."""
    while words and (words[0] in KEYWORDS or ASSIGNMENT.match(words[0])):
        words = words[1:]
    kept, target = [], False
    for word in words:
        if target:
            target = False
        elif word in REDIRECTS:
            if kept and kept[-1].isdigit():  # the 2 of 2>/dev/null
                kept.pop()
            target = True
        else:
            kept.append(word)
    return kept


@dataclass(frozen=True)
class Command:
    where: Step
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: `{shlex.join(self.words)}`"


def commands(folder: Path, program: str) -> list[Command]:
    """Every command line of PROGRAM (`mlops` or `nox`) in the run scripts of FOLDER's workflows."""
    found = []
    for step in steps(folder):
        for words in shell_commands(step.step.get("run") or ""):
            if Path(words[0]).name == program:
                found.append(Command(step, tuple(words)))
    return found


# --- (a) mlops commands and nox sessions ---------------------------------------------------------


def resolve(words: tuple[str, ...]) -> tuple[click.Command, list[str], list[str]]:
    """Walk the click groups from `mlops`; return the command, its path and the rest of the words."""
    command: click.Command = cli
    path, rest = ["mlops"], list(words[1:])
    while isinstance(command, click.Group):
        if not rest or rest[0].startswith("-"):
            raise LookupError(f"`{' '.join(path)}` needs a command")
        sub = command.get_command(click.Context(command), rest[0])
        if sub is None:
            raise LookupError(f"`{' '.join(path)}` has no command {rest[0]!r}")
        path.append(rest.pop(0))
        command = sub
    return command, path, rest


def literal(word: str) -> bool:
    """Whether a word is the same text at run time (no shell expansion in it)."""
    return "$" not in word and "`" not in word and "*" not in word


def usage_problems(command: click.Command, name: str, words: list[str]) -> list[str]:
    """Parse WORDS against COMMAND's options and arguments without running anything."""
    params = command.get_params(click.Context(command))
    flags = [param for param in params if isinstance(param, click.Option)]
    options = {opt: param for param in flags for opt in param.opts + param.secondary_opts}
    problems, positionals, used = [], [], set()
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            positionals += words[index:]
            break
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        flag, equals, value = word.partition("=")
        option = options.get(flag)
        if option is None:
            problems.append(f"`{name}` has no option {flag}")
            continue
        used.add(option.name)
        if option.is_flag or option.count:
            continue
        if not equals:
            if index >= len(words):
                problems.append(f"`{name} {flag}` needs a value")
                continue
            value = words[index]
            index += 1
        if isinstance(option.type, click.Choice) and literal(value) and value not in option.type.choices:
            problems.append(f"`{name} {flag} {value}`: {value!r} is not one of {list(option.type.choices)}")
    for param in params:
        if isinstance(param, click.Option) and param.required and param.name not in used:
            problems.append(f"`{name}` needs {param.opts[0]}")
    for argument in (param for param in params if isinstance(param, click.Argument)):
        if argument.nargs == -1:
            taken, positionals = positionals, []
        else:
            taken, positionals = positionals[: argument.nargs], positionals[argument.nargs :]
        if argument.required and len(taken) < max(argument.nargs, 1):
            problems.append(f"`{name}` needs the argument {argument.human_readable_name}")
    if positionals:
        problems.append(f"`{name}` takes no further arguments: {positionals}")
    return problems


def mlops_command_problems(folder: Path) -> list[str]:
    problems = []
    for command in commands(folder, "mlops"):
        try:
            found, path, rest = resolve(command.words)
        except LookupError as error:
            problems.append(f"{command}: {error}")
            continue
        problems += [f"{command}: {problem}" for problem in usage_problems(found, " ".join(path), rest)]
    return problems


def stub_nox(registered: list[tuple[str, list[str], bool]]) -> types.ModuleType:
    """A stand-in `nox` module that records each session and its parametrization when a noxfile
    runs, so the session names are known without nox installed (the `tests` session has none)."""
    module = types.ModuleType("nox")
    module.options = types.SimpleNamespace()
    module.Session = type("Session", (), {})

    def parametrize(arg_names, arg_values_list, ids=None):
        names = [name.strip() for name in arg_names.split(",")] if isinstance(arg_names, str) else arg_names
        calls = []
        for position, values in enumerate(arg_values_list):
            values = (values,) if len(names) == 1 else tuple(values)
            pairs = zip(names, values, strict=True)
            calls.append(ids[position] if ids else ", ".join(f"{n}={v!r}" for n, v in pairs))

        def mark(function):
            function.__dict__.setdefault("nox_parametrize", []).insert(0, calls)
            return function

        return mark

    def session(function=None, **settings):
        def register(function):
            name = settings.get("name") or function.__name__
            grid = function.__dict__.get("nox_parametrize", [])
            calls = [", ".join(labels) for labels in itertools.product(*grid)] if grid else []
            registered.append((name, calls, settings.get("default", True)))
            return function

        return register(function) if function is not None else register

    module.session, module.parametrize = session, parametrize
    return module


def nox_sessions(noxfile: Path, default_only: bool = False) -> set[str]:
    """Every name `nox -s` accepts: each session, and each parametrized call as `name(args)`
    (with DEFAULT_ONLY, only those of sessions that a bare `nox` runs)."""
    registered: list[tuple[str, list[str], bool]] = []
    saved = sys.modules.get("nox")
    sys.modules["nox"] = stub_nox(registered)
    try:
        runpy.run_path(str(noxfile), run_name="noxfile")
    finally:
        if saved is None:
            del sys.modules["nox"]
        else:
            sys.modules["nox"] = saved
    names = set()
    for name, calls, default in registered:
        if default_only and not default:
            continue
        names.add(name)
        names.update(f"{name}({call})" for call in calls)
    return names


def session_selected(selector: str, sessions: set[str]) -> bool:
    """Whether a `-s` value names a session; a shell variable in it ($MODEL) stands for any text."""
    if literal(selector):
        return selector in sessions
    pattern = re.sub(r"\\\$(\\\{)?\w+(\\\})?", ".+", re.escape(selector))
    return any(re.fullmatch(pattern, name) for name in sessions)


def nox_command_problems(folder: Path, noxfile: Path = NOXFILE) -> list[str]:
    sessions = nox_sessions(noxfile)
    problems = []
    for command in commands(folder, "nox"):
        words, selected, index = list(command.words[1:]), [], 0
        while index < len(words) and words[index] != "--":
            word = words[index]
            index += 1
            if word in ("-s", "--session", "--sessions", "-e"):
                while index < len(words) and not words[index].startswith("-"):
                    selected.append(words[index])
                    index += 1
            elif word.startswith(("--session=", "--sessions=")):
                selected.append(word.partition("=")[2])
        problems += [
            f"{command}: the noxfile has no session {name!r} (nox --list)"
            for name in selected
            if not session_selected(name, sessions)
        ]
    return problems


# --- (b) local reusable workflows ----------------------------------------------------------------


def outputs_read(document: dict) -> Iterator[tuple[str, str]]:
    """Each `needs.<job>.outputs.<name>` an expression of the workflow reads."""
    text = json.dumps(document)
    for expression in EXPRESSION.findall(text):
        yield from re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", expression)


def reusable_call_problems(folder: Path) -> list[str]:
    """Calls of `./.github/workflows/X.yml`: the file exists and is `on: workflow_call`, every `with:`
    key is a declared input (booleans and numbers of the right type when literal), every required
    input without a default is given, and each output read through `needs` is declared; and each
    workflow_call output's value names a job output that exists."""
    root = folder.parent.parent
    problems = []
    for file in workflow_files(folder):
        document = load(file)
        jobs = document.get("jobs") or {}
        declared_outputs: dict[str, set[str]] = {}
        for job_id, job in jobs.items():
            declared_outputs[job_id] = set(job.get("outputs") or {})
            uses = job.get("uses") or ""
            if not uses.startswith("./"):
                continue
            where = f"{file.name}: job {job_id}: {uses}"
            called = root / uses
            if not called.is_file():
                problems.append(f"{where}: no such file")
                continue
            call = triggers(load(called)).get("workflow_call")
            if call is None:
                problems.append(f"{where}: is not `on: workflow_call`")
                continue
            inputs = call.get("inputs") or {}
            declared_outputs[job_id] = set(call.get("outputs") or {})
            given = job.get("with") or {}
            for key, value in given.items():
                spec = inputs.get(key) or {}
                if key not in inputs:
                    problems.append(f"{where}: no input {key!r} (inputs: {sorted(inputs)})")
                elif isinstance(value, str) and "${{" in value:
                    continue
                elif spec.get("type") == "boolean" and not isinstance(value, bool):
                    problems.append(f"{where}: input {key!r} is boolean, given {value!r}")
                elif spec.get("type") == "number" and not isinstance(value, int | float):
                    problems.append(f"{where}: input {key!r} is a number, given {value!r}")
            for key, spec in inputs.items():
                if (spec or {}).get("required") and "default" not in (spec or {}) and key not in given:
                    problems.append(f"{where}: the required input {key!r} is not given")
            secrets = job.get("secrets")
            if isinstance(secrets, dict):
                known = call.get("secrets") or {}
                problems += [f"{where}: no secret {key!r}" for key in secrets if key not in known]
        for job_id, name in outputs_read(document):
            if job_id in declared_outputs and name not in declared_outputs[job_id]:
                problems.append(
                    f"{file.name}: reads needs.{job_id}.outputs.{name}, which {job_id} does not have"
                )
        call = triggers(document).get("workflow_call") or {}
        for name, spec in (call.get("outputs") or {}).items():
            value = str((spec or {}).get("value"))
            for job_id, output in re.findall(r"jobs\.([\w-]+)\.outputs\.([\w-]+)", value):
                if output not in set((jobs.get(job_id) or {}).get("outputs") or {}):
                    read = f"jobs.{job_id}.outputs.{output}"
                    problems.append(f"{file.name}: output {name!r} reads {read}, which that job does not set")
    return problems


# --- (c) pinned actions, (d) no expressions in scripts, and the job policy -----------------------


def pin_problems(folder: Path) -> list[str]:
    """Every `uses:` of another repository names a 40-hex commit and says its release in a
    `# vX.Y.Z` comment; one action is pinned to one commit everywhere."""
    problems, pins = [], {}
    for file in workflow_files(folder):
        for number, line in enumerate(file.read_text().splitlines(), 1):
            match = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if not match or match[1].startswith(("./", "docker://")):
                continue
            where = f"{file.name}:{number}: {match[1]}"
            if not PINNED.match(match[1]):
                problems.append(f"{where}: not pinned to a full commit SHA (owner/repo@<40 hex>)")
                continue
            if not VERSION_COMMENT.search(match[2]):
                problems.append(f"{where}: no `# vX.Y.Z` comment naming the release of that commit")
            action, sha = match[1].split("@")
            pins.setdefault(action, {}).setdefault((sha, match[2].strip()), []).append(where)
    for action, seen in pins.items():
        if len(seen) > 1:
            problems.append(f"{action} is pinned to different commits: {sorted(seen)}")
    return problems


def expansion_problems(folder: Path) -> list[str]:
    """No `${{ }}` inside a `run:` script (nor an actions/github-script `script:`): a value expanded
    into a script is code; pass it through `env:` and quote the variable instead."""
    problems = []
    for step in steps(folder):
        scripts = [step.step.get("run") or ""]
        if str(step.step.get("uses", "")).startswith("actions/github-script@"):
            scripts.append(str((step.step.get("with") or {}).get("script", "")))
        for script in scripts:
            problems += [
                f"{step}: expands ${{{{{expression}}}}} in its script; pass it through env: instead"
                for expression in EXPRESSION.findall(script)
            ]
    return problems


def checkout_problems(folder: Path) -> list[str]:
    return [
        f"{step}: set `persist-credentials: false`"
        for step in steps(folder)
        if str(step.step.get("uses", "")).startswith("actions/checkout@")
        and (step.step.get("with") or {}).get("persist-credentials") is not False
    ]


def policy_problems(folder: Path) -> list[str]:
    """The workflow grants nothing (`permissions: {}`), every job says what it needs, and every job
    that runs steps has a timeout."""
    problems = []
    for file in workflow_files(folder):
        document = load(file)
        if document.get("permissions") != {}:
            problems.append(f"{file.name}: top-level `permissions:` must be {{}}; grant per job")
        for job_id, job in (document.get("jobs") or {}).items():
            if "permissions" not in job:
                problems.append(f"{file.name}: job {job_id} does not set its permissions")
            if "steps" in job and "timeout-minutes" not in job:
                problems.append(f"{file.name}: job {job_id} has no timeout-minutes")
    return problems


# --- the workflows of this repository ------------------------------------------------------------


def test_the_workflows_run_the_commands_they_are_for():
    """The extraction is not vacuous: the CLI commands each workflow exists for are found."""
    found = {(c.where.file.name, " ".join(filter(literal, c.words))) for c in commands(WORKFLOWS, "mlops")}
    found |= {(c.where.file.name, " ".join(c.words)) for c in commands(WORKFLOWS, "nox")}
    expected = {
        ("changes.yml", "mlops changed --base --json"),
        ("ci.yml", "mlops azure validate --all"),
        ("ci.yml", "nox -s lint typecheck tests template azure-runtime workflows infra"),
        ("ci.yml", "nox -s model(name='$MODEL')"),
        ("ci.yml", "mlops azure lock --check"),
        ("ci.yml", "mlops azure validate"),
        ("train.yml", "mlops train --target azure --env --json"),
        ("deploy-online.yml", "mlops deploy --online --target azure --env"),
        ("deploy-online.yml", "mlops deploy --online --target azure --env --version"),
        ("deploy-online.yml", "mlops list --json"),
        ("deploy-online.yml", "mlops monitor --target azure --env"),
        ("deploy-batch.yml", "mlops deploy --batch --target azure --env"),
        ("monitor.yml", "mlops azure download --env --out --json"),
        ("monitor.yml", "mlops monitor --model --version --production --window P1D --out --json"),
        ("release-model.yml", "mlops azure promote --version --from staging --to prod"),
        ("monitor-schedule.yml", "mlops list --json"),
        ("retrain-dispatch.yml", "mlops list --json"),
    }
    assert expected <= found, sorted(expected - found)


def test_every_mlops_command_exists_with_its_options_and_arguments():
    assert mlops_command_problems(WORKFLOWS) == []


def test_every_nox_session_exists():
    assert nox_command_problems(WORKFLOWS) == []


def test_local_reusable_workflows_are_called_with_their_inputs_and_outputs():
    assert reusable_call_problems(WORKFLOWS) == []


def called_workflows(file: Path) -> set[Path]:
    """The local reusable workflows a workflow's jobs call."""
    jobs = load(file).get("jobs") or {}
    return {REPO / job["uses"] for job in jobs.values() if str(job.get("uses", "")).startswith("./")}


def test_reusable_workflows_nest_within_githubs_limits():
    """GitHub Enterprise Server connects at most four levels of workflows (github.com ten), and a
    workflow's whole tree may call at most 20 distinct reusable workflows."""

    def depth(file: Path) -> int:
        return 1 + max((depth(called) for called in called_workflows(file)), default=0)

    def tree(file: Path) -> set[Path]:
        return set().union(*({called} | tree(called) for called in called_workflows(file)))

    levels = {file.name: depth(file) for file in workflow_files(WORKFLOWS)}
    assert levels["monitor-schedule.yml"] == 4  # → monitor-model → release-model → train, deploy
    assert max(levels.values()) <= 4, levels
    assert all(len(tree(file)) <= 20 for file in workflow_files(WORKFLOWS))


def test_third_party_actions_are_pinned_to_commits():
    assert pin_problems(WORKFLOWS) == []


def test_no_run_script_expands_an_expression():
    assert expansion_problems(WORKFLOWS) == []


def test_checkouts_keep_no_credentials():
    assert checkout_problems(WORKFLOWS) == []


def test_permissions_and_timeouts_are_set_per_job():
    assert policy_problems(WORKFLOWS) == []


def test_the_session_names_are_the_ones_nox_lists():
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json", "-f", str(NOXFILE)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    rows = json.loads(listed.stdout)  # the sessions a bare `nox` runs
    listed_names = {row["session"] for row in rows} | {row["name"] for row in rows}
    assert nox_sessions(NOXFILE, default_only=True) == listed_names


# --- the checks catch a broken workflow ----------------------------------------------------------


def test_shell_commands_are_split_like_bash_does():
    script = """\
# a comment: mlops nothing
mlops train "$MODEL" --target azure \\
  --env "$ENVIRONMENT"
status=0; mlops monitor "$MODEL" --json > "$RUNNER_TEMP/out.json" || status=$?
enabled=$(mlops list --json | jq --arg m "$M" 'any(.[]; .name == $m)')
if ! mlops list --json 2>/dev/null | jq -e . > /dev/null; then exit 1; fi
python - <<'EOF'
mlops inside a here-document is not a command
EOF
FOO=1 nox -s "model(name='$MODEL')" -- -x
"""
    assert shell_commands(script) == [
        ["mlops", "train", "$MODEL", "--target", "azure", "--env", "$ENVIRONMENT"],
        ["mlops", "monitor", "$MODEL", "--json"],
        ["mlops", "list", "--json"],
        ["jq", "--arg", "m", "$M", "any(.[]; .name == $m)"],
        ["mlops", "list", "--json"],
        ["jq", "-e", "."],
        ["exit", "1"],
        ["python", "-"],
        ["nox", "-s", "model(name='$MODEL')", "--", "-x"],
    ]


BROKEN_CALLER = """\
name: broken
on: push
permissions:
  contents: write
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@0123456789abcdef0123456789abcdef01234567
      - run: |
          mlops train "$MODEL" --target azur --env dev --epochs 3
          mlops deploy --online
          mlops azure promote "$MODEL" --version 3 --from staging
          mlops change --base HEAD~1
          echo "${{ github.event.head_commit.message }}"
          nox -s lint unit "model(name='$MODEL')" "tests(python='3.9')"
  train:
    uses: ./.github/workflows/called.yml
    permissions: {}
    with:
      modell: taxi-fare
      dry_run: "yes"
  after:
    needs: train
    runs-on: ubuntu-24.04
    permissions: {}
    timeout-minutes: 5
    steps:
      - env:
          RESULT: ${{ needs.train.outputs.breach }}
        run: echo "$RESULT"
  missing:
    uses: ./.github/workflows/nowhere.yml
    permissions: {}
"""
BROKEN_CALLED = """\
on:
  workflow_call:
    inputs:
      model: {type: string, required: true}
      dry_run: {type: boolean, required: false, default: false}
    outputs:
      breached:
        value: ${{ jobs.run.outputs.breached }}
permissions: {}
jobs:
  run:
    runs-on: ubuntu-24.04
    permissions: {}
    timeout-minutes: 5
    steps:
      - run: echo
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "broken.yml").write_text(BROKEN_CALLER)
    (folder / "called.yml").write_text(BROKEN_CALLED)
    return folder


def test_a_wrong_mlops_command_line_is_named(broken):
    problems = "\n".join(mlops_command_problems(broken))
    assert "broken.yml: job build, step 3" in problems
    assert "'azur' is not one of ['local', 'azure']" in problems
    assert "`mlops train` has no option --epochs" in problems
    assert "`mlops deploy` needs the argument NAME" in problems
    assert "`mlops azure promote` needs --to" in problems
    assert "`mlops` has no command 'change'" in problems
    assert len(mlops_command_problems(broken)) == 5


def test_an_unknown_nox_session_is_named(broken):
    problems = nox_command_problems(broken)
    assert [problem.split(": ")[-1] for problem in problems] == [
        "the noxfile has no session 'unit' (nox --list)",
        "the noxfile has no session \"tests(python='3.9')\" (nox --list)",
    ]


def test_a_wrong_call_of_a_local_reusable_workflow_is_named(broken):
    call = "broken.yml: job train: ./.github/workflows/called.yml"
    assert reusable_call_problems(broken) == [
        f"{call}: no input 'modell' (inputs: ['dry_run', 'model'])",
        f"{call}: input 'dry_run' is boolean, given 'yes'",
        f"{call}: the required input 'model' is not given",
        "broken.yml: job missing: ./.github/workflows/nowhere.yml: no such file",
        "broken.yml: reads needs.train.outputs.breach, which train does not have",
        "called.yml: output 'breached' reads jobs.run.outputs.breached, which that job does not set",
    ]


def test_unpinned_actions_are_named(broken):
    assert pin_problems(broken) == [
        "broken.yml:9: actions/checkout@v4: not pinned to a full commit SHA (owner/repo@<40 hex>)",
        "broken.yml:10: actions/setup-python@0123456789abcdef0123456789abcdef01234567: no `# vX.Y.Z` comment"
        " naming the release of that commit",
    ]


def test_an_expression_in_a_script_is_named(broken):
    assert expansion_problems(broken) == [
        'broken.yml: job build, step 3 (mlops train "$MODEL" --target azur --env dev --epochs 3): expands'
        " ${{ github.event.head_commit.message }} in its script; pass it through env: instead"
    ]


def test_credentials_permissions_and_timeouts_are_named(broken):
    assert checkout_problems(broken) == [
        "broken.yml: job build, step 1 (actions/checkout@v4): set `persist-credentials: false`"
    ]
    assert policy_problems(broken) == [
        "broken.yml: top-level `permissions:` must be {}; grant per job",
        "broken.yml: job build does not set its permissions",
        "broken.yml: job build has no timeout-minutes",
    ]


def test_ci_runs_the_framework_job_only_when_the_change_touches_the_framework():
    jobs = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())["jobs"]
    assert jobs["framework"]["needs"] == "changes"
    assert jobs["framework"]["if"] == "needs.changes.outputs.framework == 'true'"
    assert "framework" in jobs["ci-ok"]["needs"]  # a skipped framework job is fine, a failed one is not
    model_steps = " ".join(step.get("run", "") for step in jobs["model"]["steps"])
    assert "mlops azure lock --check" in model_steps and 'mlops azure validate "$MODEL"' in model_steps
