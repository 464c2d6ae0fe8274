"""The endpoint server: one ASGI app (uvicorn, one process) serving every deployment of one endpoint.

Run by ``mlops deploy`` as ``python -m mlops.serving.app --folder <endpoint folder> --fd <socket>``. It
re-reads the endpoint record when it changes and swaps in the new deployments and traffic once their
models are loaded, so adding, updating or removing a deployment never makes the endpoint unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import logging
import logging.handlers
import os
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.core import jsonio, project
from mlops.core.errors import MlopsError, first_line
from mlops.scoring import contract
from mlops.scoring import model as scoring
from mlops.scoring.batcher import Answer, Batcher
from mlops.scoring.model import Model
from mlops.serving import keys
from mlops.serving.collector import Collector, Scored, new_id
from mlops.serving.endpoints import LOG

logger = logging.getLogger("mlops.serving")

RECORD = "endpoint.json"
LOG_BYTES = 5 * 1024 * 1024  # server.log is rotated at this size into server.log.1 and .2
LOG_BACKUPS = 2
ROUTES = {"/score": "POST", "/health": "GET", "/ready": "GET", "/openapi.json": "GET"}
WATCH_SECONDS = 0.2  # how often the server looks for a changed endpoint record
GRACE_SECONDS = 10  # how long a stopping server lets requests in flight finish
BODY_TIMEOUT_MS = 5000  # deployment.online.body_timeout_ms of records written before it existed
DEPLOYMENT_HEADER = b"azureml-model-deployment"  # pins a deployment; the answer names who scored

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def load_model(name: str, version: str, trusted_types: list[str]) -> Model:
    """Load a registered version for scoring (see ``mlops.scoring.model.load``)."""
    import tempfile

    from mlops import registry

    found = registry.get_version(name, version)
    with tempfile.TemporaryDirectory() as folder:
        return scoring.load(registry.download(found, folder), name, str(version), trusted_types)


class NotCollected(contract.RequestError):
    """A scored request whose records cannot be written (a full disk, say): refused with 503, since
    the endpoint never answers what it did not collect."""


@dataclass
class Deployment:
    """One deployment: a model version and the batcher that scores its requests together."""

    name: str
    batcher: Batcher

    @property
    def model(self) -> Model:
        """Return the version this deployment serves."""
        return self.batcher.model

    async def score(self, request: contract.Request) -> Answer:
        """Queue a request for the next micro-batch and return its predictions and probabilities."""
        return await asyncio.wrap_future(self.batcher.submit(request))

    async def stop(self) -> None:
        """Let the batcher score what is waiting, then end it."""
        await asyncio.to_thread(self.batcher.stop)


class Endpoint:
    """The ASGI app of one endpoint: routes, key auth, traffic split, data collection, hot reload."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.name = folder.name
        self.keyring = keys.KeyRing(folder)
        self.deployments: dict[str, Deployment] = {}
        self.routed: list[str] = []  # deployments with traffic, and their cumulative percentages
        self.cumulative: list[int] = []
        self.revision = 0
        self.failure: dict[str, Any] | None = None
        self.settings: dict[str, Any] = {}
        self.stamp: tuple[int, int, int] | None = None
        self.collector: Collector | None = None
        self.watcher: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        request_id = new_id()
        # Azure's request id header; the same id is the correlationid of the collected records
        headers = [(b"x-request-id", request_id.encode()), (b"azureml-correlation-id", request_id.encode())]
        try:
            status, payload, extra = await self.route(scope, receive, request_id)
        except contract.RequestError as error:
            status, payload, extra = error.status, {"message": str(error)}, []
            if not isinstance(error, NotCollected):  # the collector logs why, at most once a minute
                logger.info("request %s refused %s: %.200s", request_id, status, error)
            if error.status == 401:
                extra = [(b"www-authenticate", b"Bearer")]
            elif error.status == 408:  # the rest of the body may never come: end the connection
                extra = [(b"connection", b"close")]
        except Exception as error:
            logger.error("request %s failed: %s: %s", request_id, type(error).__name__, first_line(error))
            status, payload, extra = 500, {"message": contract.FAILED.format(request=request_id)}, []
        body = jsonio.dumps(payload)
        start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": start + headers + extra})
        await send({"type": "http.response.body", "body": body})

    async def route(
        self, scope: dict[str, Any], receive: Receive, request_id: str
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """Dispatch a request by route; return status, JSON payload and extra headers."""
        path, method = scope["path"], scope["method"]
        if path not in ROUTES:
            routes = ", ".join(f"{verb} {route}" for route, verb in ROUTES.items())
            raise contract.RequestError(404, f"no route {method} {path}; routes: {routes}")
        contract.check_method(path, ROUTES[path], method)
        if path == "/health":
            return 200, {"status": "alive"}, []
        if path == "/ready":
            ready = {"ready": bool(self.deployments), "revision": self.revision, "failure": self.failure}
            return (200 if self.deployments else 503), ready, []
        headers = dict(scope["headers"])
        if not self.keyring.accepts(headers.get(b"authorization")):
            problem = "wrong key in the" if b"authorization" in headers else "no"
            raise contract.RequestError(
                401,
                f"{problem} Authorization header; send 'Authorization: Bearer <key>' "
                f"(mlops keys {self.name} prints the keys)",
            )
        if not self.deployments:
            raise contract.RequestError(
                503, f"endpoint {self.name} is loading its models; retry when /ready is 200"
            )
        if path == "/score":
            return await self.score(headers, receive, request_id)
        deployment = self.pick(headers.get(DEPLOYMENT_HEADER))
        model = deployment.model
        document = contract.openapi(self.name, deployment.name, model.version, model.columns, model.classes)
        return 200, document, [(DEPLOYMENT_HEADER, deployment.name.encode())]

    async def score(
        self, headers: dict[bytes, bytes], receive: Receive, request_id: str
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        """Score a request on the pinned or a traffic-drawn deployment and collect what came in and out."""
        body = await self.body(headers, receive)
        deployment = self.pick(headers.get(DEPLOYMENT_HEADER))  # no await from here to its queue
        model = deployment.model
        request = contract.parse(body, model.columns, model.classes is not None)
        predictions, probabilities = await deployment.score(request)
        scored = Scored(
            deployment.name,
            model.version,
            model.names,
            request.values,
            predictions,
            probabilities,
            request_id,
        )
        assert self.collector is not None  # lifespan startup (uvicorn's lifespan="on") precedes requests
        problem = await asyncio.wrap_future(self.collector.collect(scored))  # answered only once collected
        if problem is not None:
            raise NotCollected(
                503,
                f"the request was scored but its inputs and outputs cannot be collected ({problem}), so "
                "it is not answered; the endpoint's log names the file; retry once it can be written",
            )
        return (
            200,
            scoring.answer(predictions, probabilities),
            [(DEPLOYMENT_HEADER, deployment.name.encode())],
        )

    def pick(self, pinned: bytes | None) -> Deployment:
        """Return the pinned deployment, else one drawn at random by traffic share."""
        if pinned is None:
            draw = random.random() * self.cumulative[-1]
            return self.deployments[self.routed[bisect.bisect(self.cumulative, draw)]]
        name = pinned.decode("latin-1").strip()
        if name not in self.deployments:
            known = ", ".join(self.deployments)
            raise contract.RequestError(
                404, f"endpoint {self.name} has no deployment '{name}'; deployments: {known}"
            )
        return self.deployments[name]

    async def body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """Return the request body after checking its content type and size; a body that does not
        arrive whole within ``body_timeout_ms`` is refused (408) so slow clients cannot hold the server."""
        contract.check_content_type(headers.get(b"content-type", b"").decode("latin-1"))
        limit = self.settings["max_request_bytes"]
        too_big = contract.too_large(limit)
        if int(headers.get(b"content-length", b"0") or 0) > limit:
            raise too_big
        timeout = self.settings.get("body_timeout_ms", BODY_TIMEOUT_MS)
        deadline = asyncio.get_running_loop().time() + timeout / 1000
        chunks, size = [], 0
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(left, 0))
            except TimeoutError:
                raise contract.RequestError(
                    408,
                    f"the request body did not arrive within {timeout} ms "
                    "(deployment.online.body_timeout_ms); send it at once",
                ) from None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Start the collector and the record watcher; on shutdown finish batches and drain the collector."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.collector = Collector(project.collected(self.name), self.name)
                self.watcher = asyncio.get_running_loop().create_task(self.watch())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                assert self.watcher is not None and self.collector is not None  # set at startup
                self.watcher.cancel()
                for deployment in self.deployments.values():
                    await deployment.stop()
                await asyncio.to_thread(self.collector.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def watch(self) -> None:
        """Apply the endpoint record whenever it changes; a record that fails to apply is reported on
        /ready and the deployments before it keep serving."""
        path = self.folder / RECORD
        while True:
            revision = None
            try:
                status = os.stat(path)
                stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
                if stamp != self.stamp:
                    self.stamp = stamp
                    record = json.loads(path.read_text())
                    revision = record["revision"]
                    if revision != self.revision:
                        await self.apply(record)
            except Exception as error:
                message = str(error) if isinstance(error, MlopsError) else f"{type(error).__name__}: {error}"
                if self.failure != (failure := {"revision": revision, "message": message}):
                    logger.exception("cannot apply revision %s of %s", revision, path)
                self.failure = failure
            await asyncio.sleep(WATCH_SECONDS)

    async def apply(self, record: dict[str, Any]) -> None:
        """Load the record's model versions, then swap in its deployments and traffic at once."""
        settings = record["settings"]
        loaded = {d.model.version: d.model for d in self.deployments.values()}
        for version in dict.fromkeys(record["deployments"].values()):
            if version not in loaded:
                loaded[version] = await asyncio.to_thread(
                    load_model, record["model"], version, record["trusted_types"]
                )
        kept = {
            name: deployment
            for name, deployment in self.deployments.items()
            if record["deployments"].get(name) == deployment.model.version
        }
        retired = [deployment for name, deployment in self.deployments.items() if name not in kept]
        deployments = {}
        for name, version in record["deployments"].items():
            wait, rows = settings["batch_wait_ms"] / 1000, settings["max_batch_rows"]
            deployment = kept.get(name) or Deployment(
                name, Batcher(loaded[version], wait, rows, f"deployment {name} (version {version})")
            )
            deployment.batcher.wait_seconds, deployment.batcher.max_rows = wait, rows
            deployments[name] = deployment
        routed = [name for name, share in record["traffic"].items() if share > 0]
        self.settings = settings
        self.deployments = deployments
        self.routed = routed
        self.cumulative = list(itertools.accumulate(record["traffic"][name] for name in routed))
        self.revision = record["revision"]
        self.failure = None
        summary = ", ".join(f"{n} v{v} {record['traffic'][n]}%" for n, v in record["deployments"].items())
        logger.info("revision %s serves %s", self.revision, summary)
        for deployment in retired:
            await deployment.stop()


class Log(logging.handlers.RotatingFileHandler):
    """The server's log, size-capped and rotated; what the process writes to stdout or stderr (a fatal
    error) lands in the current file too."""

    def capture(self) -> None:
        """Point the process's stdout and stderr at the current file."""
        assert self.stream is not None  # opened at once: the handler is not made with delay
        for descriptor in (1, 2):
            os.dup2(self.stream.fileno(), descriptor)

    def doRollover(self) -> None:
        """Rotate, then capture the new file."""
        super().doRollover()
        self.capture()


def log_to(path: Path, max_bytes: int = LOG_BYTES) -> None:
    """Send the process's log, warnings, stdout and stderr to ``path``, rotated at ``max_bytes``."""
    handler = Log(path, maxBytes=max_bytes, backupCount=LOG_BACKUPS)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
    handler.capture()


def main(argv: list[str] | None = None) -> None:
    """Serve the endpoint in ``--folder`` on the listening socket ``--fd`` until SIGTERM."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--folder", type=Path, required=True, help="endpoint folder (endpoint.json, keys.json)"
    )
    parser.add_argument("--fd", type=int, required=True, help="listening socket inherited from mlops deploy")
    args = parser.parse_args(argv)
    os.umask(0o077)  # collected inputs, the log and records are the owner's alone
    log_to(args.folder / LOG)
    config = uvicorn.Config(
        Endpoint(args.folder.resolve()),
        log_config=None,
        access_log=False,  # nothing per request in the log: no headers, so no keys
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])


if __name__ == "__main__":
    main()
