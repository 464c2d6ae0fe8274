"""What runs inside Azure ML, from the uploaded code folder and the model's own environment (no SDK):
the online scoring script (``score``), the batch scoring script (``score_batch``) and the monitor's
Spark preprocessing (``spark_preprocess``). Nothing here imports the rest of ``mlops.azureml``."""

__all__ = ["score", "score_batch", "spark_preprocess"]
