"""Data collection in the Azure ML data-collector layout: one model_inputs and one model_outputs record
per scored request, written as JSON lines by a background thread that writes whatever waits in one
go. Each request's future resolves once its records are written, so an endpoint answers only what is
collected: a crash (even ``kill -9``) never leaves an answered request without its records. When they
cannot be written (a full disk, a read-only file system) the future says why, nothing torn is left in
the file, the failure is logged at most once a minute, and the next write tries again."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from mlops.core import jsonio
from mlops.core.errors import first_line
from mlops.scoring.model import output_rows

logger = logging.getLogger("mlops.serving.collector")

AGENT = "azureml-ai-monitoring/local"
# requests waiting for the writer; beyond this they are dropped (and counted) rather than stall scoring
MAX_PENDING = 10_000
# requests the writer takes from the queue at once: their records go out in one write per file
WRITE_BATCH = 256
FAILURE_LOG_SECONDS = 60.0  # a collector that cannot write logs that at most this often
IDS = random.Random()  # seeded from the OS; ids need to be unique, not secret, and cost no system call


def new_id() -> str:
    """Return a random (version 4) UUID, as Azure's record and request ids are."""
    return str(uuid.UUID(int=IDS.getrandbits(128), version=4))


@dataclass
class Scored:
    """One successful request: what came in, what went out, and who answered."""

    deployment: str
    version: str
    columns: list[str]
    values: list[list[Any]]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    correlation_id: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


def rows(columns: list[str], values: list[list[Any]]) -> list[dict[str, Any]]:
    """Return column-wise values as row objects."""
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def record(endpoint: str, scored: Scored, collection: str, data: list[dict[str, Any]]) -> bytes:
    """Return one data-collector record as a JSON line."""
    payload = jsonio.dumps(data)
    size = len(payload)
    head = {
        "specversion": "1.0",
        "id": new_id(),
        "source": f"/local/onlineEndpoints/{endpoint}/deployments/{scored.deployment}",
        "type": f"azureml.inference.{collection}",
        "datacontenttype": "application/json",
        "time": scored.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    tail = {
        "path": "/score",
        "method": "POST",
        "contentrange": f"bytes 0-{size - 1}/{size}",
        "correlationid": scored.correlation_id,
        "xrequestid": scored.correlation_id,
        "modelversion": scored.version,
        "collectdatatype": "pandas.core.frame.DataFrame",
        "agent": AGENT,
    }
    return b"".join((jsonio.dumps(head)[:-1], b',"data":', payload, b",", jsonio.dumps(tail)[1:], b"\n"))


def same_file(file: BinaryIO, path: Path) -> bool:
    """Return whether the open ``file`` is still the one at ``path`` (not deleted, moved or replaced)."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(file.fileno())
    return (found.st_ino, found.st_dev) == (opened.st_ino, opened.st_dev)


class Collector:
    """Write records under ``<root>/<deployment>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl``."""

    def __init__(self, root: Path, endpoint: str):
        self.root = root
        self.endpoint = endpoint
        self.instance = f"local-{os.getpid()}"
        self.queue: queue.Queue[tuple[Scored, Future[str | None]] | None] = queue.Queue(MAX_PENDING)
        self.files: dict[tuple[str, str], tuple[Path, BinaryIO]] = {}
        self.dropped = 0
        self.failed = 0  # requests not collected since the failure was last logged
        self.logged = -FAILURE_LOG_SECONDS  # when it was (time.monotonic)
        self.refused: Path | None = None  # the file or folder the last failed write named
        self.thread = threading.Thread(target=self.run, name="collector", daemon=True)
        self.thread.start()

    def collect(self, scored: Scored) -> Future[str | None]:
        """Queue a scored request for writing; the future resolves to None once its records are
        written, else to why they were not. Dropped (counted, logged) when the writer is far behind."""
        written: Future[str | None] = Future()
        try:
            self.queue.put_nowait((scored, written))
        except queue.Full:
            written.set_result(f"the collector is {MAX_PENDING} requests behind")
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("collector is %d records behind; %d dropped so far", MAX_PENDING, self.dropped)
        return written

    def close(self) -> None:
        """Write every queued record, then close the files."""
        self.queue.put(None)
        self.thread.join()
        for _, file in self.files.values():
            file.close()
        logger.info("collector drained; %d records dropped", self.dropped)

    def run(self) -> None:
        """Write queued requests until ``close``: whatever waits goes out together, one write per file,
        then each request's future says whether its records are on disk (None) or why not."""
        while True:
            batch = [self.queue.get()]
            while len(batch) < WRITE_BATCH and batch[-1] is not None:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            waiting = [item for item in batch if item is not None]
            try:
                problem = self.write([scored for scored, _ in waiting])
            except Exception as error:  # a record that cannot be built: the writer must live on
                problem, self.refused = f"{type(error).__name__}: {first_line(error)}", None
            self.report(problem, len(waiting))
            for _, future in waiting:
                future.set_result(problem)
            if batch[-1] is None:
                return

    def report(self, problem: str | None, requests: int) -> None:
        """Log a failure to collect ``requests`` at most once per ``FAILURE_LOG_SECONDS`` (with the
        count since the last line), and the first success after one."""
        if problem is None:
            if self.failed:
                logger.warning("collecting again (%d requests were not collected)", self.failed)
            self.failed = 0
            return
        self.failed += requests
        now = time.monotonic()
        if now - self.logged >= FAILURE_LOG_SECONDS:
            where = f" ({self.refused})" if self.refused else ""
            logger.error("cannot collect %d requests: %s%s", self.failed, problem, where)
            self.logged = now

    def write(self, scored: list[Scored]) -> str | None:
        """Write the records of ``scored`` requests, one write per file; return None when all went out,
        else why not (the system's reason, e.g. "No space left on device": the file is in ``refused``),
        having cut the files it did write back to where they were: no request half collected."""
        lines: dict[tuple[str, str, Path], list[bytes]] = {}
        for one in scored:
            for collection, data in (
                ("model_inputs", rows(one.columns, one.values)),
                ("model_outputs", output_rows(one.predictions, one.probabilities)),
            ):
                lines.setdefault(self.place(one, collection), []).append(
                    record(self.endpoint, one, collection, data)
                )
        written: list[tuple[Path, int]] = []  # each file written and its size before
        for place, chunk in lines.items():
            try:
                written.append(self.append(place, b"".join(chunk)))
            except OSError as error:
                for path, size in written:
                    with contextlib.suppress(OSError):
                        os.truncate(path, size)
                self.refused = Path(error.filename or place[2])
                return error.strerror or str(error)
        return None

    def place(self, scored: Scored, collection: str) -> tuple[str, str, Path]:
        """Return where a request's record of ``collection`` goes: its deployment, the collection and
        the file of the hour it was scored in."""
        hour = scored.time.strftime("%Y/%m/%d/%H")
        path = self.root / scored.deployment / collection / hour / f"{self.instance}.jsonl"
        return scored.deployment, collection, path

    def append(self, place: tuple[str, str, Path], lines: bytes) -> tuple[Path, int]:
        """Append whole lines with unbuffered writes, so a crash never leaves a torn earlier line; a
        write that fails part way (a full disk) is cut off again, so the file holds whole lines only.
        Return the file and its size before."""
        deployment, collection, path = place
        key = (deployment, collection)
        current = self.files.get(key)
        gone = current is not None and current[0] == path and not same_file(current[1], path)
        if gone:  # an export or clean-up job removed it: records written on would be lost
            logger.warning("%s was removed or replaced; collecting into a new file", path)
        if current is None or current[0] != path or gone:
            if current is not None:
                current[1].close()
            path.parent.mkdir(parents=True, exist_ok=True)
            current = self.files[key] = (path, open(path, "ab", buffering=0))  # noqa: SIM115 - kept open
        descriptor = current[1].fileno()
        start = os.fstat(descriptor).st_size
        view = memoryview(lines)
        try:
            while view:
                view = view[current[1].write(view) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, start)
            raise
        return path, start
