"""Local online endpoints: their records under ``<state>/endpoints/<name>/`` and their server processes.

An endpoint folder holds ``endpoint.json`` (port, pid, deployments, traffic, settings, revision),
``keys.json`` (0600) and ``server.log``. The server re-reads ``endpoint.json`` when it changes, so a
deploy to a running endpoint rewrites the record and waits until /ready reports the new revision.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops.core import atomic, locks, project
from mlops.core.errors import MlopsError
from mlops.registry import lineage
from mlops.serving import keys

HOST = "127.0.0.1"
RECORD = "endpoint.json"
LOG = "server.log"
SERVER_MODULE = "mlops.serving.app"
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,31}")  # Azure's rule for deployment names
READY_SECONDS = 120  # how long deploy waits for the server to load its models
TERM_SECONDS = 15  # how long stop waits after SIGTERM (requests finish, collected data drains) ...
KILL_SECONDS = 5  # ... and after SIGKILL
PROBE_SECONDS = 0.5  # how long a health probe waits


def folder(name: str) -> Path:
    """Return the folder of endpoint ``name``."""
    return project.state_dir() / "endpoints" / name


def names() -> list[str]:
    """Return the names of the endpoints on record."""
    root = project.state_dir() / "endpoints"
    return sorted(path.parent.name for path in root.glob(f"*/{RECORD}"))


def read(name: str) -> dict[str, Any]:
    """Return the record of endpoint ``name``, or raise naming how to create it."""
    try:
        record: dict[str, Any] = json.loads((folder(name) / RECORD).read_text())
        return record
    except FileNotFoundError:
        known = ", ".join(names()) or "none yet"
        raise MlopsError(
            f"no endpoint '{name}' (endpoints: {known}); deploy it with: mlops deploy {name} --online"
        ) from None


def write(record: dict[str, Any]) -> None:
    """Replace the record of an endpoint whole or not at all (a running server applies it)."""
    atomic.write(folder(record["name"]) / RECORD, json.dumps(record, indent=2))


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the endpoint's lock, so two commands never change one endpoint at once."""
    with locks.held(folder(name) / ".lock"):
        yield


def running(pid: int | None) -> bool:
    """Return whether ``pid`` is a live endpoint server: not gone, not a zombie, not a reused pid."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps the server if it is an exited child of this process
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not Path("/proc/self").exists():
        return True  # no procfs (macOS): the pid is all there is to check
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # an empty command line is a process still inside exec, just started by deploy
    return state != "Z" and (not command or SERVER_MODULE.encode() in command)


def request(
    port: int,
    method: str,
    path: str,
    timeout: float,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, http.client.HTTPMessage]:
    """Send one HTTP request to a local endpoint; return status, JSON (or text) body and headers.

    A server may answer from the headers alone (413 from the Content-Length) and close before the
    body is all sent: the send then breaks (a broken pipe or a reset), and, as a real client does,
    the answer waiting on the socket is read all the same. Only a server that closed without
    answering raises (``http.client.RemoteDisconnected`` or ``ConnectionResetError``)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(data), response.headers
    except ValueError:
        return response.status, data.decode(errors="replace"), response.headers


def health(record: dict[str, Any]) -> str:
    """Return ``healthy`` when the server answers its liveness route, ``unresponsive`` when its process
    lives but does not answer, else ``stopped``."""
    if not running(record.get("pid")):
        return "stopped"
    try:
        status, _, _ = request(record["port"], "GET", "/health", PROBE_SECONDS)
    except OSError:
        return "unresponsive"
    return "healthy" if status == 200 else "unresponsive"


def parse_traffic(text: str) -> dict[str, int]:
    """Return ``blue=90,green=10`` as a mapping of deployment to percentage."""
    traffic = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if not share.strip().isdigit():
            raise MlopsError(f"--traffic '{text}': '{part}' is not name=percent; write e.g. blue=90,green=10")
        traffic[name.strip()] = int(share)
    return traffic


def check_traffic(traffic: dict[str, int], deployments: dict[str, str], name: str) -> dict[str, int]:
    """Return the traffic of every deployment (0 where unnamed) after checking names and the sum."""
    unknown = sorted(set(traffic) - set(deployments))
    if unknown:
        raise MlopsError(
            f"--traffic names {', '.join(unknown)}, not deployments of endpoint '{name}' "
            f"({', '.join(deployments)}); name only those"
        )
    if sum(traffic.values()) != 100:
        raise MlopsError(f"--traffic shares sum to {sum(traffic.values())}, not 100; make them add up to 100")
    return {deployment: traffic.get(deployment, 0) for deployment in deployments}


def renormalised(traffic: dict[str, int], removed: str, name: str) -> dict[str, int]:
    """Return the traffic without ``removed``, its share spread over the others in proportion to theirs
    (largest remainders get the rounding); raise when the others have none to scale."""
    rest = {deployment: share for deployment, share in traffic.items() if deployment != removed}
    total = sum(rest.values())
    if not total:
        others = ", ".join(rest) or "none"
        raise MlopsError(
            f"deployment '{removed}' takes all the traffic of endpoint '{name}' (others: {others}); "
            f"give another deployment traffic first with mlops deploy {name} --online --deployment <name> "
            f"--traffic <name>=100, or stop the whole endpoint with: mlops stop {name}"
        )
    exact = {deployment: share * 100 / total for deployment, share in rest.items()}
    shares = {deployment: int(value) for deployment, value in exact.items()}
    by_remainder = sorted(rest, key=lambda deployment: shares[deployment] - exact[deployment])
    for deployment in by_remainder[: 100 - sum(shares.values())]:
        shares[deployment] += 1
    return shares


def listen(port: int) -> socket.socket:
    """Return a socket listening on 127.0.0.1:``port`` (0 picks a free port), to hand to the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    return sock


def start(record: dict[str, Any], port: int | None) -> dict[str, Any]:
    """Start the detached server process of an endpoint; return the record with its port and pid."""
    path = folder(record["name"])
    try:
        sock = listen(port or record.get("port") or 0)
    except OSError:
        if port:
            raise MlopsError(
                f"port {port} on {HOST} is in use; pick another with --port, or omit it"
            ) from None
        sock = listen(0)  # the endpoint's previous port is taken: any free port will do
    command = [sys.executable, "-m", SERVER_MODULE, "--folder", str(path), "--fd", str(sock.fileno())]
    environment = {**os.environ, project.STATE_ENV: str(project.state_dir())}
    with sock, open(path / LOG, "ab") as log:
        process = subprocess.Popen(
            command,
            pass_fds=(sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # detached: survives the command and its terminal
        )
        return {**record, "port": sock.getsockname()[1], "pid": process.pid, "started_at": lineage.now()}


def wait_ready(record: dict[str, Any]) -> None:
    """Wait until the server serves the record's revision; raise naming the log when it fails."""
    log = folder(record["name"]) / LOG
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not running(record["pid"]):
            lines = log.read_text(errors="replace").strip().splitlines() or ["(empty log)"]
            raise MlopsError(f"endpoint '{record['name']}' server exited: {lines[-1].strip()}; see {log}")
        with contextlib.suppress(OSError):
            status, body, _ = request(record["port"], "GET", "/ready", PROBE_SECONDS)
            failure = body.get("failure") if isinstance(body, dict) else None
            if failure and failure["revision"] == record["revision"]:
                raise MlopsError(
                    f"endpoint '{record['name']}' cannot serve revision {record['revision']}: "
                    f"{failure['message']}; see {log}"
                )
            if status == 200 and body["revision"] >= record["revision"]:
                return
        time.sleep(0.1)
    raise MlopsError(f"endpoint '{record['name']}' was not ready within {READY_SECONDS} s; see {log}")


def apply(record: dict[str, Any], previous: dict[str, Any] | None, port: int | None) -> dict[str, Any]:
    """Write a new revision of the record and make the server serve it: a running server reloads
    without downtime, a stopped one is started (on its previous port when free)."""
    record = {**record, "revision": (previous or {}).get("revision", 0) + 1}
    live = previous is not None and running(previous.get("pid"))
    if live and previous is not None and port and port != previous["port"]:
        raise MlopsError(
            f"endpoint '{record['name']}' runs on port {previous['port']}; stop it first "
            f"(mlops stop {record['name']}) to move it to port {port}"
        )
    if not live:
        record = start(record, port)
    write(record)
    try:
        wait_ready(record)
    except MlopsError:  # the endpoint goes back to what it was
        if live:
            assert previous is not None  # live: it runs
            write({**previous, "revision": record["revision"] + 1})
        else:
            terminate(record["pid"])
            if previous:
                write({**previous, "pid": None})
            else:
                (folder(record["name"]) / RECORD).unlink()
        raise
    return record


def deploy(
    name: str,
    deployment: str,
    version: str,
    traffic: dict[str, int] | None,
    port: int | None,
    settings: dict[str, Any],
    trusted_types: list[str],
) -> dict[str, Any]:
    """Add or update ``deployment`` (serving ``version``) on endpoint ``name`` and set the traffic; a new
    deployment gets 0% unless ``traffic`` says otherwise, the first one 100%. Return the record."""
    if not NAME_PATTERN.fullmatch(deployment):
        raise MlopsError(
            f"deployment name '{deployment}' must be 3-32 letters, digits or dashes, starting with a letter "
            "(Azure's rule), e.g. blue"
        )
    with locked(name):
        keys.ensure(folder(name))
        path = folder(name) / RECORD
        previous = json.loads(path.read_text()) if path.exists() else None
        deployments = {**(previous or {}).get("deployments", {}), deployment: str(version)}
        if traffic is not None:
            shares = check_traffic(traffic, deployments, name)
        elif previous and previous["deployments"]:
            shares = {d: previous["traffic"].get(d, 0) for d in deployments}
        else:
            shares = {deployment: 100}
        record = {
            "name": name,
            "model": name,
            **{key: value for key, value in (previous or {}).items() if key in ("port", "pid", "started_at")},
            "deployments": deployments,
            "traffic": shares,
            "settings": settings,
            "trusted_types": list(trusted_types),
        }
        return apply(record, previous, port)


def remove(name: str, deployment: str) -> dict[str, Any]:
    """Remove one deployment of endpoint ``name``, its traffic spread over the others; return the record."""
    with locked(name):
        previous = read(name)
        if deployment not in previous["deployments"]:
            known = ", ".join(previous["deployments"])
            raise MlopsError(f"endpoint '{name}' has no deployment '{deployment}'; deployments: {known}")
        traffic = renormalised(previous["traffic"], deployment, name)
        deployments = {d: v for d, v in previous["deployments"].items() if d != deployment}
        record = {**previous, "deployments": deployments, "traffic": traffic}
        if not running(previous.get("pid")):
            record["revision"] = previous["revision"] + 1
            write(record)
            return record
        return apply(record, previous, None)


def terminate(pid: int | None) -> bool:
    """Stop a server: SIGTERM (requests in flight finish, collected data drains), then SIGKILL when it
    outlives ``TERM_SECONDS``. Return whether it had to be killed."""

    def gone(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while running(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    for sig, seconds in ((signal.SIGTERM, TERM_SECONDS), (signal.SIGKILL, KILL_SECONDS)):
        if not running(pid):
            return sig == signal.SIGKILL
        assert pid is not None  # running(None) is False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if gone(seconds):
            return sig == signal.SIGKILL
    raise MlopsError(f"endpoint server {pid} outlived SIGKILL; check it with: ps -p {pid}")


def stop(name: str) -> tuple[dict[str, Any], bool]:
    """Stop the server of endpoint ``name`` and keep its record (deploy starts it again, same port and
    keys); return the record as it was and whether the server had to be killed."""
    with locked(name):
        record = read(name)
        killed = terminate(record.get("pid"))
        write({**record, "pid": None})
    return record, killed


def live(name: str) -> dict[str, Any]:
    """Return the record of endpoint ``name``, or raise naming how to start it when it is stopped."""
    record = read(name)
    if not running(record.get("pid")):
        raise MlopsError(f"endpoint '{name}' is stopped; start it with: mlops deploy {name} --online")
    return record


def invoke(name: str, body: bytes, deployment: str | None) -> tuple[int, Any, str]:
    """Send a scoring request with the primary key; return the status, the JSON answer and who answered."""
    record = live(name)
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {keys.read(folder(name))['primary']}",
    }
    if deployment:
        headers["azureml-model-deployment"] = deployment
    status, answer, answered = request(record["port"], "POST", "/score", 60, body, headers)
    return status, answer, answered.get("azureml-model-deployment", "")


EXAMPLE_FILE = "serving_input_example.json"  # MLflow logs it with every version mlops train registers


def missing(constant: str) -> float | None:
    """Return None for JSON's non-standard ``NaN`` (MLflow writes a missing value so; the endpoint takes
    null) and the float of ``Infinity`` and ``-Infinity``, which the contract judges as values."""
    return None if constant == "NaN" else float(constant)


def example(name: str, deployment: str | None, rows: int | None) -> tuple[bytes, str]:
    """Return a request body built from the logged input example of the version that ``deployment``
    (default: one drawn by traffic share, as the server draws) serves, with its first ``rows`` rows
    (repeated when it has fewer), and the deployment it is for."""
    import random

    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from mlops import registry

    record = read(name)
    deployments = record["deployments"]
    if deployment is None:
        shares = {key: share for key, share in record["traffic"].items() if share > 0}
        deployment = random.choices(list(shares), weights=list(shares.values()))[0]
    elif deployment not in deployments:
        raise MlopsError(
            f"endpoint '{name}' has no deployment '{deployment}'; deployments: {', '.join(deployments)}"
        )
    version = registry.get_version(name, deployments[deployment])
    described = registry.described(name, version.version)
    try:
        text = mlflow.artifacts.load_text(f"{version.source}/{EXAMPLE_FILE}")
    except MlflowException:
        raise MlopsError(
            f"{described} has no logged input example ({EXAMPLE_FILE}); send a request with --file"
        ) from None
    body = json.loads(text, parse_constant=missing)  # NaN, a missing value, is sent as null
    split = body.get("dataframe_split") if isinstance(body, dict) else None
    if rows is not None and isinstance(split, dict) and split.get("data"):
        data = split["data"]
        body["dataframe_split"] = {**split, "data": [data[i % len(data)] for i in range(rows)]}
        body["dataframe_split"].pop("index", None)
    return json.dumps(body).encode(), deployment
