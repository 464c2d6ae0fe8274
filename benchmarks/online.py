"""Benchmark the local online endpoint against ``mlflow models serve`` on the same model and load.

    python benchmarks/online.py                      # 8 clients, 10 s per case
    python benchmarks/online.py --seconds 5 --trees 100
    python benchmarks/online.py --n-jobs 1           # register the forest single-threaded for both

Both servers get the same registered taxi-fare random forest (50 trees), one worker process each, on
127.0.0.1, and the same load: ``--clients`` threads, each a keep-alive ``http.client`` connection sending
the same ``dataframe_split`` body (1 row, then 100 rows) as fast as answers come. Ours runs with key
auth and data collection on, and scores with n_jobs=1 whatever the registered value. The floor is one
in-process ``pipeline.predict`` call at n_jobs=-1 and 1. Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP_SECONDS = 1.0


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bodies() -> dict[int, bytes]:
    """Return ``dataframe_split`` request bodies of 1 and 100 unseen taxi-fare trips."""
    from mlops import catalog
    from mlops.features import feature_columns

    cfg = catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    trips = load(n_rows=100, seed=1)[feature_columns(cfg)]
    return {
        n: json.dumps({"dataframe_split": trips.head(n).to_dict(orient="split", index=False)}).encode()
        for n in (1, 100)
    }


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


def wait_for(port: int, path: str, process: subprocess.Popen, seconds: float = 120) -> None:
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


def mlflow_serve(model_uri: str, state: Path, cases: dict[int, bytes], clients: int, seconds: float) -> dict:
    """Measure ``mlflow models serve -w 1`` on every case."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # it runs uvicorn from PATH
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
    }
    command = [
        *(sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"),
        *("-w", "1", "-h", "127.0.0.1", "-p", str(port)),
    ]
    log = open(state / "mlflow-serve.log", "wb")  # noqa: SIM115 - closed after the server
    process = subprocess.Popen(
        command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_for(port, "/ping", process)
        return {rows: load(port, "/invocations", body, {}, clients, seconds) for rows, body in cases.items()}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def endpoint(cases: dict[int, bytes], clients: int, seconds: float) -> dict:
    """Measure our endpoint (key auth, data collection) on every case."""
    from omegaconf import OmegaConf

    from mlops import catalog
    from mlops.serving import endpoints, keys

    cfg = catalog.load_config("taxi-fare")
    settings = OmegaConf.to_container(cfg.deployment.online)
    record = endpoints.deploy("taxi-fare", "blue", "1", None, None, settings, [])
    try:
        auth = {"Authorization": f"Bearer {keys.read(endpoints.folder('taxi-fare'))['primary']}"}
        return {
            rows: load(record["port"], "/score", body, auth, clients, seconds) for rows, body in cases.items()
        }
    finally:
        endpoints.stop("taxi-fare")


def floor(cases: dict[int, bytes]) -> dict[int, dict[str, float]]:
    """Return the median in-process ``predict`` time (ms) per case, as registered (every core) and
    with n_jobs=1 as the endpoint scores."""
    import pandas as pd

    from mlops import registry

    pipeline = registry.load(registry.get_version("taxi-fare", "1"), [])
    result = {}
    for rows, body in cases.items():
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


def main() -> None:
    """Train taxi-fare in a temporary state folder, measure both servers and print the table."""
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-online-") as folder:
        state = Path(folder)
        os.environ.update({"MLOPS_STATE_DIR": str(state), "MLFLOW_DISABLE_TELEMETRY": "true"})
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.chdir(ROOT)
        from mlops.training import train_model

        overrides = [f"estimator.n_estimators={args.trees}", f"estimator.n_jobs={args.n_jobs}"]
        train_model("taxi-fare", overrides, echo=lambda _: None)
        cases = bodies()
        floors = floor(cases)
        theirs = mlflow_serve("models:/taxi-fare/1", state, cases, args.clients, args.seconds)
        ours = endpoint(cases, args.clients, args.seconds)
    print(
        f"taxi-fare random forest, {args.trees} trees registered with n_jobs={args.n_jobs}; "
        f"{args.clients} clients, {args.seconds:g} s per case, {os.cpu_count()} cores"
    )
    print()
    print(
        "| rows/request | mlflow serve req/s | endpoint req/s | ratio | mlflow p50 / p99 ms "
        "| endpoint p50 / p99 ms | p99 ratio | predict floor ms (n_jobs -1 / 1) | errors |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows in cases:
        them, us, alone = theirs[rows], ours[rows], floors[rows]
        print(
            f"| {rows} | {them['rps']:.0f} | {us['rps']:.0f} | {us['rps'] / them['rps']:.1f}x "
            f"| {them['p50']:.1f} / {them['p99']:.1f} | {us['p50']:.1f} / {us['p99']:.1f} "
            f"| {us['p99'] / them['p99']:.2f}x | {alone[-1]:.1f} / {alone[1]:.1f} "
            f"| {them['errors']} / {us['errors']} |"
        )


if __name__ == "__main__":
    main()
