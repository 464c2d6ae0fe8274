"""Scoring shared by every place a registered version answers requests: the local endpoint
(``mlops.serving``), Azure's online scoring script (``mlops.azureml.score``) and the monitor. The
request contract lives in ``contract``, a loaded version and its answers in ``model``."""
