"""Benchmark the local online endpoint against its peers on the same model and load.

    python benchmarks/online.py                      # 8 clients, 10 s per case, every peer
    python benchmarks/online.py --seconds 5 --trees 100
    python benchmarks/online.py --peers azmlinfsrv   # only ours and Azure's server

Every side serves the same registered taxi-fare random forest (50 trees) on 127.0.0.1 and gets the
same load: ``--clients`` threads, each a keep-alive ``http.client`` connection sending the same 1-row,
then 100-row request as fast as answers come. The sides:

- ours: ``mlops deploy`` (one uvicorn process, micro-batching), with key auth and data collection on;
- mlflow: ``mlflow models serve -w 1``;
- azmlinfsrv: Azure's inference server running our ``mlops/azureml/runtime/score.py`` (what a managed online
  deployment runs), in an environment built from the rendered online conda file and nothing else, the
  code as uploaded, ``WORKER_COUNT`` one per core as the deployment renders it per vCPU;
- mlserver: MLServer 1.7 with its scikit-learn runtime and adaptive batching (``max_batch_time`` 2 ms,
  as ours waits), ``parallel_workers: 0`` (its worker pool does not start with the current uvloop); the
  pipeline handed to it as the joblib file its runtime loads, n_jobs=1.

Every side scores with n_jobs=1 whatever the registered value; the floor is one in-process
``pipeline.predict`` call at n_jobs=-1 and 1. The azmlinfsrv and MLServer sides build their
environments with uv (cached after the first run). Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 1.0
PEERS = ("mlflow", "azmlinfsrv", "mlserver")
MLSERVER = ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trips(rows: int):
    """Return ``rows`` unseen taxi-fare feature rows, numeric features as floats."""
    from mlops.models import catalog
    from mlops.models.features import feature_columns

    cfg = catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    frame = load(n_rows=rows, seed=1)[feature_columns(cfg)]
    return frame.astype({column: "float64" for column in cfg.schema.numeric})


def bodies() -> dict[int, bytes]:
    """Return ``dataframe_split`` request bodies of 1 and 100 trips (our contract, MLflow's and Azure's)."""
    frame = trips(100)
    return {
        n: json.dumps({"dataframe_split": frame.head(n).to_dict(orient="split", index=False)}).encode()
        for n in (1, 100)
    }


def v2_bodies() -> dict[int, bytes]:
    """Return the same trips as Open Inference Protocol (V2) requests, one input per column."""
    frame = trips(100)
    result = {}
    for n in (1, 100):
        inputs = [
            {
                "name": column,
                "shape": [n],
                "datatype": "FP64" if frame[column].dtype.kind == "f" else "INT64",
                "data": frame[column].head(n).tolist(),
            }
            for column in frame.columns
        ]
        result[n] = json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()
    return result


def load(port: int, path: str, body: bytes, headers: dict[str, str], clients: int, seconds: float) -> dict:
    """Send ``body`` from ``clients`` keep-alive connections for ``seconds`` after a warm-up; return
    requests/s, p50 and p99 latency (ms) and the count of non-200 answers."""
    headers = {"Content-Type": "application/json", **headers}
    start = time.perf_counter() + WARMUP_SECONDS
    stop = start + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while (sent := time.perf_counter()) < stop:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.getheader("connection", "").lower() == "close":
                connection.close()  # a server without keep-alive (gunicorn's sync workers)
            if sent >= start:
                latencies[number].append(time.perf_counter() - sent)
                errors[number] += response.status != 200
        connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(latency for per_client in latencies for latency in per_client)
    return {
        "rps": len(every) / seconds,
        "p50": every[len(every) // 2] * 1000,
        "p99": every[int(len(every) * 0.99)] * 1000,
        "errors": sum(errors),
    }


def wait_for(port: int, path: str, process: subprocess.Popen, seconds: float = 180) -> None:
    """Wait until ``GET path`` answers 200, or raise when the server exits or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"no answer on port {port}{path} within {seconds} s")


def served(
    command: list[str], environment: dict, log: Path, port: int, ready: str, measure: Callable
) -> dict:
    """Start a server process, wait until ``ready`` answers, run ``measure(port)``, stop the server."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(port, ready, process)
        return measure(port)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def cases(
    port: int, path: str, payloads: dict[int, bytes], headers: dict, clients: int, seconds: float
) -> dict:
    """Return the load figures of each request size."""
    return {rows: load(port, path, body, headers, clients, seconds) for rows, body in payloads.items()}


def mlflow_side(state: Path, clients: int, seconds: float) -> dict:
    """Measure ``mlflow models serve -w 1``."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # it runs uvicorn from PATH
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
    }
    command = [
        *(sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/taxi-fare/1"),
        *("--env-manager", "local", "-w", "1", "-h", "127.0.0.1", "-p", str(port)),
    ]
    payloads = bodies()
    return served(
        command,
        environment,
        state / "mlflow.log",
        port,
        "/ping",
        lambda port: cases(port, "/invocations", payloads, {}, clients, seconds),
    )


def our_side(clients: int, seconds: float) -> dict:
    """Measure our endpoint (key auth, data collection)."""
    from omegaconf import OmegaConf

    from mlops.models import catalog
    from mlops.serving import endpoints, keys

    settings = OmegaConf.to_container(catalog.load_config("taxi-fare").deployment.online)
    record = endpoints.deploy("taxi-fare", "blue", "1", None, None, settings, [])
    try:
        auth = {"Authorization": f"Bearer {keys.read(endpoints.folder('taxi-fare'))['primary']}"}
        return cases(record["port"], "/score", bodies(), auth, clients, seconds)
    finally:
        endpoints.stop("taxi-fare")


def azure_server(state: Path):
    """Start azmlinfsrv serving our score.py as a managed online deployment runs it: the environment
    built from the rendered online conda file, the code as uploaded, the model as mounted. The caller
    stops it."""
    sys.path.insert(0, str(ROOT / "tests"))
    import yaml
    from azure_runtime import InferenceServer, build_environment, mount_model, upload

    from mlops import registry
    from mlops.azureml import render

    rendered = state / "rendered"
    render.render("taxi-fare", "dev", rendered)
    app = state / "var" / "azureml-app"
    bin_dir = build_environment(rendered / "environments" / "online.conda.yaml", state / "online-env")
    code = upload(ROOT, app)
    model_dir = mount_model(
        registry.download(registry.get_version("taxi-fare", "1"), state / "d"), app, "taxi-fare", "1"
    )
    deployment = yaml.safe_load((rendered / "online-deployment-blue.yml").read_text())
    variables = {**deployment["environment_variables"], "WORKER_COUNT": str(os.cpu_count())}
    return InferenceServer(bin_dir, code, model_dir, variables, state / "azmlinfsrv.log")


def azure_side(state: Path, clients: int, seconds: float) -> dict:
    """Measure azmlinfsrv serving our score.py as a managed online deployment runs it."""
    server = azure_server(state)
    try:
        return cases(server.port, "/score", bodies(), {}, clients, seconds)
    finally:
        server.stop()


def mlserver_side(state: Path, clients: int, seconds: float) -> dict:
    """Measure MLServer with its scikit-learn runtime and adaptive batching."""
    import joblib
    import sklearn

    from mlops import registry
    from mlops.scoring.model import single_threaded

    folder = state / "mlserver"
    (folder / "taxi-fare").mkdir(parents=True)
    pipeline = registry.load(registry.get_version("taxi-fare", "1"), [])
    single_threaded(pipeline)
    joblib.dump(pipeline, folder / "taxi-fare" / "model.joblib")
    model = {
        "name": "taxi-fare",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
        "max_batch_size": 64,
        "max_batch_time": 0.002,
    }
    (folder / "taxi-fare" / "model-settings.json").write_text(json.dumps(model))
    port = free_port()
    settings = {
        "parallel_workers": 0,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    environment = state / "mlserver-env"
    uv = ["uv", "pip", "install", "--quiet", "--python", str(environment / "bin" / "python")]
    subprocess.run(["uv", "venv", "--quiet", "--python", sys.executable, str(environment)], check=True)
    import numpy
    import pandas

    same = [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
    ]
    subprocess.run([*uv, *MLSERVER, *same], check=True)
    command = [str(environment / "bin" / "mlserver"), "start", str(folder)]
    variables = {"PATH": f"{environment / 'bin'}{os.pathsep}/usr/bin:/bin", "HOME": str(state)}
    path = "/v2/models/taxi-fare/infer"
    return served(
        command,
        variables,
        state / "mlserver.log",
        port,
        "/v2/models/taxi-fare/ready",
        lambda port: cases(port, path, v2_bodies(), {}, clients, seconds),
    )


def floor() -> dict[int, dict[int, float]]:
    """Return the median in-process ``predict`` time (ms) per case, as registered (every core) and
    with n_jobs=1 as every side scores."""
    import pandas as pd

    from mlops import registry

    pipeline = registry.load(registry.get_version("taxi-fare", "1"), [])
    result = {}
    for rows, body in bodies().items():
        frame = pd.DataFrame(**json.loads(body)["dataframe_split"])
        result[rows] = {}
        for n_jobs in (-1, 1):
            pipeline.set_params(estimator__n_jobs=n_jobs)
            times = []
            for _ in range(30):
                started = time.perf_counter()
                pipeline.predict(frame)
                times.append(time.perf_counter() - started)
            result[rows][n_jobs] = statistics.median(times) * 1000
    return result


@contextlib.contextmanager
def trained(prefix: str, overrides: list[str]) -> Iterator[Path]:
    """Yield a temporary state folder (the process's MLflow store) holding taxi-fare version 1."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        state = Path(folder)
        os.environ.update({"MLOPS_STATE_DIR": str(state), "MLFLOW_DISABLE_TELEMETRY": "true"})
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.chdir(ROOT)
        from mlops.training.run import train_model

        train_model("taxi-fare", overrides, echo=lambda _: None)
        yield state


def main() -> None:
    """Train taxi-fare in a temporary state folder, measure every side and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per case (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (default 8)")
    parser.add_argument("--trees", type=int, default=50, help="trees of the random forest (default 50)")
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=-1,
        help="n_jobs the forest is registered with (default -1, as configured)",
    )
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS), help="peers to measure")
    args = parser.parse_args()
    overrides = [f"estimator.n_estimators={args.trees}", f"estimator.n_jobs={args.n_jobs}"]
    with trained("bench-online-", overrides) as state:
        floors = floor()
        sides = {"ours": our_side(args.clients, args.seconds)}
        measure = {
            "mlflow": lambda: mlflow_side(state, args.clients, args.seconds),
            "azmlinfsrv": lambda: azure_side(state, args.clients, args.seconds),
            "mlserver": lambda: mlserver_side(state, args.clients, args.seconds),
        }
        for peer in args.peers:
            sides[peer] = measure[peer]()
    print(
        f"taxi-fare random forest, {args.trees} trees registered with n_jobs={args.n_jobs}; "
        f"{args.clients} clients, {args.seconds:g} s per case, {os.cpu_count()} cores; "
        f"predict floor ms (n_jobs -1 / 1): "
        + ", ".join(f"{rows} rows {f[-1]:.1f} / {f[1]:.1f}" for rows, f in floors.items())
    )
    print()
    print("| rows/request | server | req/s | ours ÷ it | p50 ms | p99 ms | ours p99 ÷ its p99 | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for rows in (1, 100):
        ours = sides["ours"][rows]
        for name, side in sides.items():
            it = side[rows]
            print(
                f"| {rows} | {name} | {it['rps']:.0f} | {ours['rps'] / it['rps']:.2f}x | {it['p50']:.1f} "
                f"| {it['p99']:.1f} | {ours['p99'] / it['p99']:.2f}x | {it['errors']} |"
            )


if __name__ == "__main__":
    main()
