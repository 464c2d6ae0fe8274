"""Batch scoring of CSV and Parquet files with a registered version, with the settings and semantics of
an Azure ML batch deployment: ``reading`` (files, chunks, typed rows), ``job`` (the scoring loop and
its summary) and ``commands`` (``mlops batch``)."""

# what a job writes: every prediction to output_file_name, or the counts in summary.json only
OUTPUT_ACTIONS = ("append_row", "summary_only")
