"""Data collection in the Azure ML data-collector layout: one model_inputs and one model_outputs record
per scored request, written as JSON lines by a background thread so responses never wait for the disk."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

logger = logging.getLogger("mlops.serving.collector")

AGENT = "azureml-ai-monitoring/local"
# requests waiting for the writer; beyond this they are dropped (and counted) rather than stall scoring
MAX_PENDING = 10_000


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


def outputs(scored: Scored) -> list[dict[str, Any]]:
    """Return the output rows: the prediction and, when the client asked for them, the probabilities."""
    if scored.probabilities is None:
        return [{"prediction": value} for value in scored.predictions]
    return [
        {"prediction": value, **{f"probability_{label}": p for label, p in probabilities.items()}}
        for value, probabilities in zip(scored.predictions, scored.probabilities, strict=True)
    ]


def record(endpoint: str, scored: Scored, collection: str, data: list[dict[str, Any]]) -> bytes:
    """Return one data-collector record as a JSON line."""
    payload = json.dumps(data, separators=(",", ":"))
    size = len(payload.encode())
    head = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
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
    line = f'{json.dumps(head)[:-1]}, "data": {payload}, {json.dumps(tail)[1:]}\n'
    return line.encode()


class Collector:
    """Write records under ``<root>/<deployment>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl``."""

    def __init__(self, root: Path, endpoint: str):
        self.root = root
        self.endpoint = endpoint
        self.instance = f"local-{os.getpid()}"
        self.queue: queue.Queue[Scored | None] = queue.Queue(MAX_PENDING)
        self.files: dict[tuple[str, str], tuple[Path, BinaryIO]] = {}
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, name="collector", daemon=True)
        self.thread.start()

    def collect(self, scored: Scored) -> None:
        """Queue a scored request for writing; drop it (counted, logged) when the writer is far behind."""
        try:
            self.queue.put_nowait(scored)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("collector is %d records behind; %d dropped so far", MAX_PENDING, self.dropped)

    def close(self) -> None:
        """Write every queued record, then close the files."""
        self.queue.put(None)
        self.thread.join()
        for _, file in self.files.values():
            file.close()
        logger.info("collector drained; %d records dropped", self.dropped)

    def run(self) -> None:
        """Write queued records until ``close``."""
        while (scored := self.queue.get()) is not None:
            try:
                self.write(scored, "model_inputs", rows(scored.columns, scored.values))
                self.write(scored, "model_outputs", outputs(scored))
            except OSError:
                logger.exception("cannot write collected data for request %s", scored.correlation_id)

    def write(self, scored: Scored, collection: str, data: list[dict[str, Any]]) -> None:
        """Append one record with a single unbuffered write, so a crash never leaves a torn earlier line."""
        path = (
            self.root
            / scored.deployment
            / collection
            / scored.time.strftime("%Y/%m/%d/%H")
            / f"{self.instance}.jsonl"
        )
        key = (scored.deployment, collection)
        current = self.files.get(key)
        if current is None or current[0] != path:
            if current is not None:
                current[1].close()
            path.parent.mkdir(parents=True, exist_ok=True)
            current = self.files[key] = (path, open(path, "ab", buffering=0))  # noqa: SIM115 - kept open
        view = memoryview(record(self.endpoint, scored, collection, data))
        while view:
            view = view[current[1].write(view) :]
