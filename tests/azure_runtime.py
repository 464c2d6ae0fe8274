"""Run our code the way Azure ML runs it, offline: a virtual environment built from a rendered conda
file's pip list and nothing else, the code folder as ``MLClient`` uploads it (azure-ai-ml's own
.amlignore handling), a registered model mounted as Azure mounts it
(``azureml-models/<name>/<version>/<folder>``), and Azure's own runtime packages inside.

Layouts follow azure-ai-ml's local-endpoint emulation (``_local_endpoints/azureml_image_context.py``):
the code under ``/var/azureml-app/<code folder>/``, ``AML_APP_ROOT`` and the working directory at the
scoring script's folder, ``AZUREML_ENTRY_SCRIPT`` its file name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from mlops.serving import endpoints

REPO = Path(__file__).resolve().parents[1]


def pip_list(conda_file: Path) -> list[str]:
    """Return the pip lines of a rendered conda file."""
    spec = yaml.safe_load(conda_file.read_text())
    return next(item["pip"] for item in spec["dependencies"] if isinstance(item, dict))


def build_environment(conda_file: Path, folder: Path) -> Path:
    """Build a virtual environment from ``conda_file``'s pip list and nothing else (no framework, no
    test tools); return its bin folder. uv reuses the packages the nox session already downloaded."""
    return build_venv(pip_list(conda_file), folder)


def run_bare(python: Path, script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``script`` with ``python`` (a venv's, holding a model's requirements and nothing of the repo):
    no PYTHONPATH, no active venv, MLflow's telemetry off; return how it ended, output captured."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return subprocess.run(
        [str(python), "-c", script, *args],
        cwd=cwd,
        env={**environment, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def build_venv(packages: list[str], folder: Path, uncached: tuple[str, ...] = ()) -> Path:
    """Build a virtual environment holding ``packages`` (requirement lines) and nothing else; return
    its bin folder. The ``uncached`` requirements (and what they need) are installed last, past uv's
    cache: for a project that publishes only a source archive, which uv would otherwise build into a
    new cache entry on every run."""
    requirements = folder.with_suffix(".txt")
    requirements.write_text("\n".join(packages) + "\n")
    uv = shutil.which("uv") or "uv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(folder)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(folder / "bin" / "python")]
    subprocess.run([*install, "-r", str(requirements)], check=True)
    if uncached:
        subprocess.run([*install, "--no-cache", *uncached], check=True)
    return folder / "bin"


def upload(source: Path, app: Path) -> Path:
    """Copy ``source`` into ``app/<source name>`` as MLClient uploads a code folder: every file but
    those its .amlignore (else .gitignore) leaves out; return the copy."""
    from azure.ai.ml._utils._asset_utils import get_ignore_file

    ignore = get_ignore_file(source)
    target = app / source.name
    for root, folders, files in os.walk(source):
        here = Path(root)
        # a folder whose contents the ignore file leaves out is not walked (files are checked below)
        folders[:] = [name for name in folders if not ignore.is_file_excluded((here / name / "x").as_posix())]
        for name in files:
            if ignore.is_file_excluded((here / name).as_posix()):
                continue
            copied = target / (here / name).relative_to(source)
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(here / name, copied)
    return target


def model_with_baseline(folder: Path) -> Path:
    """Write a registered version's MLflow model folder reduced to what a monitor reads (the MLmodel
    file and a monitoring baseline: three training rows with the target and predictions); return it."""
    import pandas as pd

    from mlops.monitoring import baseline

    (folder / "MLmodel").parent.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    sample = pd.DataFrame(
        {
            "distance": [1.5, 2.5, 9.0],
            "vendor": [1, 2, 1],
            "cost": [7.0, 9.5, 30.0],
            "prediction": [7.2, 9.1, 28.4],
        }
    )
    profile = {"format": baseline.FORMAT, "columns": {}}
    baseline.write(baseline.Baseline(profile, sample), folder / baseline.ARTIFACT_PATH)
    return folder


def mount_model(model_folder: Path, app: Path, name: str, version: str) -> Path:
    """Lay an MLflow model folder out as Azure mounts a registered model; return AZUREML_MODEL_DIR."""
    mounted = app / "azureml-models" / name / version
    shutil.copytree(model_folder, mounted / "model")
    return mounted


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """Send one request (``endpoints.request``, which reads an answer sent before the body was);
    return status, parsed JSON answer (or text) and headers."""
    return endpoints.request(port, method, path, 60, body, headers)


class InferenceServer:
    """``azmlinfsrv`` serving the uploaded ``mlops/azureml/runtime/score.py`` from a built environment."""

    def __init__(self, bin_dir: Path, code: Path, model_dir: Path, variables: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        script = code / "mlops" / "azureml" / "runtime" / "score.py"
        server = bin_dir / "azmlinfsrv"
        if not server.is_file():
            raise AssertionError(
                f"azmlinfsrv is not in the online environment ({bin_dir.parent}): the rendered pip list "
                "lacks azureml-inference-server-http, which Azure's managed online deployments run"
            )
        environment = {
            "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
            "HOME": str(log.parent),
            "AML_APP_ROOT": str(script.parent),
            "AZUREML_ENTRY_SCRIPT": script.name,
            "AZUREML_MODEL_DIR": str(model_dir),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            **variables,
        }
        command = [str(server), "--entry_script", script.name, "--port", str(self.port)]
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                command, cwd=script.parent, env=environment, stdout=output, stderr=subprocess.STDOUT
            )
        self.wait()

    def wait(self, seconds: float = 120) -> None:
        """Wait until the workers answer the liveness probe; raise with the log's end if it dies."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"azmlinfsrv exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if request(self.port, "GET", "/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"azmlinfsrv did not answer within {seconds} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        """Return the end of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def score(self, body: bytes, headers: dict | None = None, method: str = "POST"):
        """POST (or ``method``) ``body`` to /score; return status, answer and headers."""
        return request(self.port, method, "/score", body, headers)

    def stop(self) -> None:
        """Stop the server and its workers."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Sidecar:
    """The data collector's receiver on 127.0.0.1 (Azure runs one beside every deployment with
    ``data_collector``): it takes what ``azureml-ai-monitoring`` posts to ``/modeldata/log`` and writes
    each payload as the record Azure stores, under ``<root>/<collection>/yyyy/MM/dd/HH/<name>.jsonl``,
    mapping the headers the collector sends (``worker/sender.py``) to the record's fields as in the
    sample record of Azure's data collection docs."""

    def __init__(self, root: Path, endpoint: str, deployment: str):
        self.root = root
        self.posts: list[dict] = []
        sidecar = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sidecar.store(self.path, dict(self.headers.items()), body, endpoint, deployment)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def store(self, path: str, headers: dict, body: bytes, endpoint: str, deployment: str) -> None:
        """Write one posted payload as a stored data-collector record."""
        headers = {key.lower(): value for key, value in headers.items()}
        self.posts.append({"path": path, "headers": headers, "body": body})
        moment = time.gmtime(int(headers["ce-time"]))
        collection = headers["ce-type"].removeprefix("azureml.inference.")
        data = json.loads(body)
        record = {
            "specversion": "1.0",
            "id": headers["trace-id"],
            "source": f"/onlineEndpoints/{endpoint}/deployments/{deployment}",
            "type": headers["ce-type"],
            "datacontenttype": headers["content-type"],
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment),
            "data": data,
            "path": "/score",
            "method": "POST",
            "contentrange": f"bytes 0-{len(body) - 1}/{len(body)}",
            "correlationid": headers.get("ce-x-request-id"),
            "xrequestid": headers.get("ce-x-request-id"),
            "modelversion": headers.get("ce-model-version", "default"),
            "collectdatatype": headers.get("ce-collect-data-type"),
            "agent": headers.get("ce-agent"),
        }
        folder = self.root / collection / time.strftime("%Y/%m/%d/%H", moment)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "sidecar.jsonl", "a") as records:
            records.write(json.dumps(record) + "\n")

    def config(self, folder: Path, collections: list[str]) -> dict[str, str]:
        """Write the data collector's config as a deployment with these collections gets it, and return
        the environment variables that point the collector at it and at this receiver."""
        path = folder / "mdc-config.json"
        enabled = {name: {"enabled": True, "sampleRatePercentage": 100} for name in collections}
        path.write_text(json.dumps({"collections": enabled, "runMode": "cloud"}))
        return {
            "AZUREML_MDC_CONFIG_PATH": str(path),
            "AZUREML_MDC_HOST": "127.0.0.1",
            "AZUREML_MDC_PORT": str(self.port),
        }

    def stop(self) -> None:
        """Stop receiving."""
        self.server.shutdown()
        self.server.server_close()
