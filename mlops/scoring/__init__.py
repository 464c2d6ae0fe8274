"""Scoring shared by every place a registered version scores rows: the local endpoint
(``mlops.serving``), Azure's scoring scripts (``mlops.azureml.runtime``), batch jobs and the monitor. The
request contract lives in ``contract``, a loaded version and its answers in ``model``, the rows an
estimator cannot take in ``guard``, micro-batching in ``batcher``, reading files at their training types
in ``reading`` and scoring a table outside a request in ``frames``."""

__all__ = ["batcher", "contract", "frames", "guard", "model", "reading"]
