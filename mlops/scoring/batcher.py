"""Micro-batching: requests that arrive together share one ``predict`` call.

A model's per-call overhead (scikit-learn's checks, pandas indexing, one pass per tree) dwarfs the cost
of a few more rows, so a server scores concurrent requests together instead of one by one. A
``Batcher`` owns one thread that waits up to ``wait_seconds`` for more requests once one arrives (at
most ``max_rows`` rows in all), scores them in one call and hands each request its rows. Callers
submit from any thread (the local endpoint's event loop, Azure's inference server threads) and get
a ``concurrent.futures.Future``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from mlops.scoring.contract import Request, RequestError
from mlops.scoring.contract import shown as shown_value
from mlops.scoring.guard import Refusal
from mlops.scoring.model import Model

# what a future resolves to: the predictions and, when asked, {class: p} per row
Answer = tuple[list[Any], list[dict[str, float]] | None]


@dataclass
class Job:
    """A parsed request waiting for its share of a predict call."""

    request: Request
    future: Future[Answer]


class Batcher:
    """Score the requests of one model in micro-batches on a thread of its own."""

    def __init__(self, model: Model, wait_seconds: float, max_rows: int, label: str = ""):
        self.model = model
        self.wait_seconds = wait_seconds
        self.max_rows = max_rows
        self.label = label or f"version {model.version}"
        self.pending: deque[Job] = deque()
        self.condition = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name=f"batcher {self.label}", daemon=True)
        self.thread.start()

    def submit(self, request: Request) -> Future[Answer]:
        """Queue a request for the next micro-batch; the future resolves to its Answer."""
        job = Job(request, Future())
        with self.condition:
            if self.stopping:
                raise RuntimeError(f"the batcher of {self.label} is stopped")
            self.pending.append(job)
            self.condition.notify()
        return job.future

    def stop(self) -> None:
        """Score what is waiting, then end the thread."""
        with self.condition:
            self.stopping = True
            self.condition.notify()
        self.thread.join()

    def run(self) -> None:
        """Take the waiting requests (after up to ``wait_seconds`` for more, unless they already fill
        ``max_rows``) and score them together, until stopped and drained."""
        while True:
            with self.condition:
                while not self.pending and not self.stopping:
                    self.condition.wait()
                if not self.pending:
                    return
                deadline = time.monotonic() + self.wait_seconds
                while self.rows() < self.max_rows and not self.stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.condition.wait(left)
                batch: list[Job] = []
                rows = 0
                while self.pending and (not batch or rows + self.pending[0].request.rows <= self.max_rows):
                    job = self.pending.popleft()
                    batch.append(job)
                    rows += job.request.rows
            self.predict(batch)

    def rows(self) -> int:
        """Return the rows waiting (the caller holds the condition)."""
        return sum(job.request.rows for job in self.pending)

    def predict(self, batch: list[Job]) -> None:
        """Score a batch in one call and hand each request its rows. A request with a row the model
        cannot take fails alone with a 400 (the pass leaves such rows out; see ``Guard``); after a call
        that fails anyway (a model that breaks on some input) the failing requests are found without
        predicting and the others scored in one more call (``isolate``), so one bad request never
        fails the others."""
        requests = [job.request for job in batch]
        values = [
            list(itertools.chain.from_iterable(parts))
            for parts in zip(*(r.values for r in requests), strict=True)
        ]
        try:
            scores = self.model.predict(values, any(r.probabilities for r in requests))
        except Exception as error:
            if len(batch) == 1:  # the caller logs it, naming the request
                batch[0].future.set_exception(error)
            else:
                self.isolate(batch)
            return
        start = 0
        for job in batch:
            end = start + job.request.rows
            refused = next((row for row in range(start, end) if row in scores.refused), None)
            if refused is not None:
                job.future.set_exception(self.refusal(job.request, refused - start, scores.refused[refused]))
            else:
                probabilities = None
                if job.request.probabilities:
                    # asked: the batch was scored with them, and a request holds at least one row
                    assert scores.probabilities is not None
                    probabilities = self.model.labelled(scores.probabilities[start:end])
                job.future.set_result((scores.predictions[start:end], probabilities))
            start = end

    def isolate(self, batch: list[Job]) -> None:
        """After a failed pass, fail the requests the model's preprocessing cannot take (checked one by
        one, without predicting) and score the others in one more pass; where preprocessing takes every
        request, score them one by one."""
        good = []
        for job in batch:
            try:
                self.model.preprocess(job.request.values)
            except Exception as error:
                job.future.set_exception(error)
            else:
                good.append(job)
        if len(good) < len(batch):
            if good:
                self.predict(good)
            return
        for job in batch:
            self.predict([job])

    def refusal(self, request: Request, row: int, refusal: Refusal) -> RequestError:
        """Return the 400 of a request whose ``row`` the model refused."""
        names = self.model.names
        shown = (
            shown_value(request.values[names.index(refusal.column)][row])
            if refusal.column in names
            else "its value"
        )
        return RequestError(400, refusal.message(row, shown))
