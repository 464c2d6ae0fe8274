"""Batch scoring of CSV and Parquet files with a registered version, with the settings and semantics of
an Azure ML batch deployment: ``job`` (the settings, the scoring loop and its summary). Files are read
at their training types by ``mlops.scoring.reading``; the command is ``mlops.cli.batch``."""

__all__ = ["OUTPUT_ACTIONS", "job"]

# what a job writes: every prediction to output_file_name, or the counts in summary.json only
OUTPUT_ACTIONS = ("append_row", "summary_only")
