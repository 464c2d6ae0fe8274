"""Benchmark hostile input: how servers answer tens of thousands of malformed requests, and whether a
crash or a clean-up job loses collected data.

    python benchmarks/hostile.py                          # 12,000 requests per side, every peer
    python benchmarks/hostile.py --requests 40000 --peers mlflow

Every side serves the same registered taxi-fare random forest on 127.0.0.1 and gets the same requests,
every kind of ``tests/hostile.py`` in turn (40 kinds: broken JSON, out-of-range numbers, wrong types and
columns, oversized and unauthenticated requests, garbage HTTP), from 4 clients. The sides:

- ours: ``mlops deploy`` (key auth, data collection on);
- azmlinfsrv: Azure's inference server running our ``mlops/azureml/runtime/score.py``, as in
  benchmarks/online.py;
- mlflow: ``mlflow models serve -w 1`` (no auth: its "no key" requests are valid ones).

For each side it prints the answers by class, requests that got no answer within 5 s, how much its
log grew and how many tracebacks it holds, and whether a valid request still succeeds afterwards. Then,
for ours: ``kill -9`` of the server under load from 6 clients, after which every answered request must
have its two collected records; and ``rm -rf collected/<model>/*`` under load, after which 2,000
sequential requests must leave 2,000 records in each collection.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import online

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from hostile import KINDS, Hostile, Rows, generate, send  # noqa: E402

PEERS = ("azmlinfsrv", "mlflow")
CLIENTS = 4
ANSWER_SECONDS = 5  # a request unanswered by then counts as "no answer" (a held connection)


def rows() -> Rows:
    """Return valid taxi-fare rows to build hostile requests from."""
    frame = online.trips(40)
    return Rows(json.loads(frame.to_json(orient="records")), numeric="distance", integer="vendor")


def bombard(port: int, key: str, requests: list[Hostile], path: str) -> Counter:
    """Send every request from ``CLIENTS`` threads; count answers by class (``no answer``: timed out)."""

    def one(hostile: Hostile) -> str:
        if hostile.path == "/score":
            hostile = dataclasses.replace(hostile, path=path)
        try:
            status = send(port, key, hostile, timeout=ANSWER_SECONDS)
        except TimeoutError:
            return "no answer"
        except OSError:
            return "closed"
        return "closed" if status == 0 else f"{status // 100}xx"

    with ThreadPoolExecutor(CLIENTS) as pool:
        return Counter(pool.map(one, requests))


def still_scores(port: int, key: str, path: str, body: bytes) -> bool:
    from mlops.serving import endpoints

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    return endpoints.request(port, "POST", path, 30, body, headers)[0] == 200


def measure(port: int, key: str, path: str, log: Path, requests: list[Hostile], valid: bytes) -> dict:
    """Return one side's figures."""
    size = log.stat().st_size if log.exists() else 0
    started = time.perf_counter()
    counts = bombard(port, key, requests, path)
    seconds = time.perf_counter() - started
    text = "".join(path.read_text(errors="replace") for path in sorted(log.parent.glob(f"{log.name}*")))
    return {
        "counts": counts,
        "seconds": seconds,
        "log_mb": (log.stat().st_size - size) / 1e6 if log.exists() else 0,
        "log_files_mb": sum(p.stat().st_size for p in log.parent.glob(f"{log.name}*")) / 1e6,
        "tracebacks": text.count("Traceback"),
        "valid_after": still_scores(port, key, path, valid),
    }


def our_side(state: Path, requests: list[Hostile], valid: bytes) -> dict:
    from omegaconf import OmegaConf

    from mlops.models import catalog
    from mlops.serving import endpoints, keys

    settings = OmegaConf.to_container(catalog.load_config("taxi-fare").deployment.online)
    record = endpoints.deploy("taxi-fare", "blue", "1", None, None, settings, [])
    key = keys.read(endpoints.folder("taxi-fare"))["primary"]
    log = endpoints.folder("taxi-fare") / endpoints.LOG
    try:
        figures = measure(record["port"], key, "/score", log, requests, valid)
        figures["removed"] = removed_under_load(state, record["port"], key, valid)
        figures["killed"] = killed_under_load(state, record["port"], key, record["pid"], valid)
    finally:
        endpoints.stop("taxi-fare")
    return figures


def collected(state: Path) -> dict[str, list[str]]:
    """Return the correlation ids collected per collection (every line must parse: a torn one fails)."""
    found: dict[str, list[str]] = {"model_inputs": [], "model_outputs": []}
    root = state / "collected" / "taxi-fare"
    for path in root.rglob("*.jsonl"):
        found[path.relative_to(root).parts[1]] += [
            json.loads(line)["correlationid"] for line in path.read_bytes().splitlines()
        ]
    return found


def scoring(port: int, key: str, valid: bytes) -> Callable[[], tuple[int, str]]:
    """Return a function that sends the valid request once and returns (status, request id)."""
    from mlops.serving import endpoints

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def score() -> tuple[int, str]:
        status, _, answer = endpoints.request(port, "POST", "/score", 30, valid, headers)
        return status, answer["x-request-id"]

    return score


def under_load(score: Callable[[], tuple[int, str]], answered: list[str], stop: threading.Event) -> None:
    """Score until stopped or the server is gone, noting the id of every answered request."""
    try:
        while not stop.is_set():
            status, request_id = score()
            if status == 200:
                answered.append(request_id)
    except OSError:
        return


def counted(state: Path, answered: list[str]) -> dict:
    """Return how many answered requests have records in each collection."""
    found = collected(state)
    ids = set(answered)
    return {"answered": len(ids), **{name: len(ids & set(found[name])) for name in found}}


def removed_under_load(state: Path, port: int, key: str, valid: bytes) -> dict:
    """Delete the collected files under load from 4 clients, then count the records of 2,000
    sequential requests."""
    score, stop = scoring(port, key, valid), threading.Event()
    threads = [threading.Thread(target=under_load, args=(score, [], stop)) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    for child in (state / "collected" / "taxi-fare").iterdir():
        shutil.rmtree(child, ignore_errors=True)
    answered = [score()[1] for _ in range(2000)]
    stop.set()
    for thread in threads:
        thread.join()
    return counted(state, answered)


def killed_under_load(state: Path, port: int, key: str, pid: int, valid: bytes) -> dict:
    """``kill -9`` the server under load from 6 clients; count answered requests against records."""
    score, stop, answered = scoring(port, key, valid), threading.Event(), []
    threads = [threading.Thread(target=under_load, args=(score, answered, stop)) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    os.kill(pid, signal.SIGKILL)
    for thread in threads:
        thread.join()
    return counted(state, answered)


def azure_side(state: Path, requests: list[Hostile], valid: bytes) -> dict:
    """azmlinfsrv serving our score.py, as a managed online deployment runs it."""
    server = online.azure_server(state)
    try:
        return measure(server.port, "unused", "/score", server.log, requests, valid)
    finally:
        server.stop()


def mlflow_side(state: Path, requests: list[Hostile], valid: bytes) -> dict:
    """``mlflow models serve -w 1``."""
    port = online.free_port()
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
    }
    command = [
        *(sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/taxi-fare/1"),
        *("--env-manager", "local", "-w", "1", "-h", "127.0.0.1", "-p", str(port)),
    ]
    log = state / "mlflow.log"
    return online.served(
        command,
        environment,
        log,
        port,
        "/ping",
        lambda port: measure(port, "unused", "/invocations", log, requests, valid),
    )


def main() -> None:
    """Train taxi-fare in a temporary state folder, bombard every side and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=12_000, help="hostile requests per side (default 12,000)"
    )
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS), help="peers to measure")
    args = parser.parse_args()
    with online.trained("bench-hostile-", ["estimator.n_estimators=50"]) as state:
        built = rows()
        requests = generate(built, args.requests, seed=7)
        valid = json.dumps({"dataframe_records": built.rows[:3]}).encode()
        sides = {"ours": our_side(state, requests, valid)}
        for peer in args.peers:
            sides[peer] = {"azmlinfsrv": azure_side, "mlflow": mlflow_side}[peer](state, requests, valid)
    print(
        f"{args.requests:,} hostile requests per side ({len(KINDS)} kinds in turn), {CLIENTS} clients, "
        f"{os.cpu_count()} cores"
    )
    print()
    columns = ["2xx", "4xx", "5xx", "closed", "no answer", "seconds", "log grew MB", "log files MB"]
    print(f"| server | {' | '.join(columns)} | tracebacks | valid after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, side in sides.items():
        counts, after = side["counts"], "yes" if side["valid_after"] else "NO"
        print(
            f"| {name} | {counts['2xx']} | {counts['4xx']} | {counts['5xx']} | {counts['closed']} "
            f"| {counts['no answer']} | {side['seconds']:.1f} | {side['log_mb']:.2f} "
            f"| {side['log_files_mb']:.2f} | {side['tracebacks']} | {after} |"
        )
    ours = sides["ours"]
    print()
    for label, key in (
        ("kill -9 under load (6 clients)", "killed"),
        ("rm -rf collected/* under load", "removed"),
    ):
        figures = ours[key]
        print(
            f"{label}: {figures['answered']:,} answered requests, {figures['model_inputs']:,} with "
            f"model_inputs records, {figures['model_outputs']:,} with model_outputs records"
        )


if __name__ == "__main__":
    main()
