"""The scoring script of every managed online deployment, run by Azure's inference server (azmlinfsrv):
the local endpoint's request contract, status codes and answers, the model loaded with the checked
skops loader (never pickle), concurrent requests scored together as locally (each worker serves
several threads, ``GUNICORN_CMD_ARGS=--threads N``, whose requests share predict calls), and model
inputs and outputs collected with Azure's data collector.

Azure mounts the uploaded code folder under ``/var/azureml-app/<folder>/``, starts in this script's
folder and puts only that folder on ``sys.path`` (``AML_APP_ROOT``), so the first lines make the code
folder (three levels up) importable, whatever Azure names it; the framework finds the model folders
beside its own package. ``init()`` reads ``AZUREML_MODEL_DIR`` (Azure: ``azureml-models/<name>/<version>``)
and what the deployment renders from ``deployment.online``: ``MLOPS_MODEL``, ``MLOPS_MAX_REQUEST_BYTES``,
``MLOPS_BATCH_WAIT_MS`` and ``MLOPS_MAX_BATCH_ROWS``. ``run()`` gets each request whole (``@rawhttp``)
and answers with its status.
"""

from __future__ import annotations

import sys
from pathlib import Path

CODE = Path(__file__).resolve().parents[3]  # <code>/mlops/azureml/runtime/score.py
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

import logging  # noqa: E402  (after the code folder is importable)
import os  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp  # noqa: E402
from azureml_inference_server_http.api.aml_response import AMLResponse  # noqa: E402

from mlops.core import jsonio  # noqa: E402
from mlops.core.errors import first_line  # noqa: E402
from mlops.scoring import contract  # noqa: E402
from mlops.scoring import model as scoring  # noqa: E402
from mlops.scoring.batcher import Batcher  # noqa: E402

COLLECTIONS = ("model_inputs", "model_outputs")  # the deployment's data_collector.collections
logger = logging.getLogger("mlops.azureml.runtime.score")
state: dict[str, Any] = {}


def init() -> None:
    """Load the registered model Azure mounted and its signature's columns, start the batcher that
    scores the requests of this worker's threads together, and make the collectors."""
    from mlops.models import catalog
    from mlops.registry import modelio

    name = os.environ["MLOPS_MODEL"]
    mounted = Path(os.environ["AZUREML_MODEL_DIR"])
    cfg = catalog.load_config(name)
    online = cfg.deployment.online  # the rendered variables win: they are what the deployment was given
    model = scoring.load(modelio.find(mounted), name, mounted.name, catalog.trusted(cfg))
    wait = int(os.environ.get("MLOPS_BATCH_WAIT_MS", online.batch_wait_ms)) / 1000
    rows = int(os.environ.get("MLOPS_MAX_BATCH_ROWS", online.max_batch_rows))
    state["batcher"] = Batcher(model, wait, rows)
    state["max_bytes"] = int(os.environ.get("MLOPS_MAX_REQUEST_BYTES", online.max_request_bytes))
    state["collectors"] = collectors()


def collectors() -> dict[str, Any] | None:
    """Return Azure's data collectors, or None (logged once) where collection is off, as it is
    outside a deployment with ``data_collector`` enabled."""
    from azureml.ai.monitoring import Collector

    refused: list[Exception] = []
    for collection in COLLECTIONS:
        Collector(name=collection, on_error=refused.append)
    if refused:
        logger.warning("data collection is off (%s); scoring without it", refused[0])
        return None
    return {collection: Collector(name=collection, on_error=collection_failed) for collection in COLLECTIONS}


def collection_failed(error: Exception) -> None:
    """Log a record the collector could not queue (a full queue): never fail the request for it."""
    logger.warning("data collection: %s", error)


def respond(body: dict[str, Any], status: int, correlation: str) -> AMLResponse:
    """Return a JSON answer naming the correlation id its collected records carry, as locally."""
    headers = {"Content-Type": "application/json", "azureml-correlation-id": correlation}
    return AMLResponse(jsonio.dumps(body), status, headers)


def correlation_id(request: AMLRequest) -> str:
    """Return the request's id: the one Azure's front end (or the client) sent in x-request-id, which
    the server answers with, else a new one."""
    return request.headers.get("x-request-id") or str(uuid.uuid4())


@rawhttp  # type: ignore[untyped-decorator, unused-ignore]  # azureml-inference-server-http: untyped
def run(request: AMLRequest) -> AMLResponse:
    """Score one request: 200 with ``{"predictions": [...]}`` (and ``"probabilities"``, ``{class: p}``
    per row, when asked for), or the local endpoint's 4xx with ``{"message": ...}`` naming the problem."""
    batcher: Batcher = state["batcher"]
    model = batcher.model
    correlation = correlation_id(request)
    try:
        contract.check_method("/score", "POST", request.method)
        contract.check_content_type(request.headers.get("Content-Type"))
        if (request.content_length or 0) > state["max_bytes"]:
            raise contract.too_large(state["max_bytes"])
        body = request.get_data(cache=False)
        if len(body) > state["max_bytes"]:
            raise contract.too_large(state["max_bytes"])
        parsed = contract.parse(body, model.columns, model.classes is not None)
        predictions, probabilities = batcher.submit(parsed).result()
    except contract.RequestError as error:
        return respond({"message": str(error)}, error.status, correlation)
    except Exception as error:  # a broken model: one line in the log, no internal text in the answer
        logger.error("request %s failed: %s: %s", correlation, type(error).__name__, first_line(error))
        return respond({"message": contract.FAILED.format(request=correlation)}, 500, correlation)
    collect(model, parsed.values, predictions, probabilities, correlation)
    return respond(scoring.answer(predictions, probabilities), 200, correlation)


def collect(
    model: scoring.Model,
    values: list[list[Any]],
    predictions: list[Any],
    probabilities: list[dict[str, float]] | None,
    correlation: str,
) -> None:
    """Hand what came in and went out to the data collector, both records under the request's id."""
    found = state["collectors"]
    if found is None:
        return
    import pandas as pd
    from azureml.ai.monitoring.context import BasicCorrelationContext

    context = BasicCorrelationContext(id=correlation)
    found["model_inputs"].collect(pd.DataFrame(dict(zip(model.names, values, strict=True))), context)
    found["model_outputs"].collect(pd.DataFrame(scoring.output_rows(predictions, probabilities)), context)
