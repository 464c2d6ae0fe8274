"""Azure ML's batch runtime, emulated for the tests: runs a batch scoring script over a folder of files
as a model batch deployment job does, and prints what the job would report as one JSON line.

Standard library and pandas only: it runs inside an environment built from a rendered batch conda file.
What it follows (Azure ML docs: how-to-batch-scoring-script.md, reference-yaml-job-parallel.md,
how-to-mlflow-batch.md, reference-yaml-deployment-batch.md):

- the script is loaded from its file with its folder on ``sys.path``, in a temporary working folder;
  ``AZUREML_BI_OUTPUT_PATH`` is the output folder; ``init()`` runs once;
- the input folder's files, sorted (nested folders are not explored, as the docs warn for MLflow
  deployments), are split into mini-batches of ``mini_batch_size`` files; ``run()`` gets each as a list
  of absolute paths;
- a ``run()`` that raises or passes ``timeout`` is tried again up to ``max_retries`` times; each
  element it returns is one succeeded item, the gap to the mini-batch's inputs failed items (all of
  them when it never returns);
- append_row appends what ``run()`` returns to ``output_file_name``: a DataFrame's rows space-separated
  without header or index, a list's elements one per line; summary_only writes nothing;
- past ``error_threshold`` failed items (-1: never) the job is aborted; a job in which no item
  succeeded fails.

Not emulated: mini-batches run one after another (Azure runs max_concurrency_per_instance processes
per node); a timed-out ``run()`` is left running in a thread instead of its process being restarted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any


def arguments(argv: list[str]) -> argparse.Namespace:
    """Parse the job's script, folders and deployment settings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", type=Path, required=True, help="the scoring script")
    parser.add_argument("--input", type=Path, required=True, help="the folder of input files")
    parser.add_argument("--output", type=Path, required=True, help="the job's output folder")
    parser.add_argument("--mini-batch-size", type=int, default=10, help="files per run() call")
    parser.add_argument("--error-threshold", type=int, default=-1, help="failed items tolerated; -1: any")
    parser.add_argument("--max-retries", type=int, default=3, help="times a failed mini-batch is retried")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one run() call may take")
    parser.add_argument("--output-action", choices=("append_row", "summary_only"), default="append_row")
    parser.add_argument("--output-file-name", default="predictions.csv")
    parser.add_argument("--max-concurrency", type=int, default=1, help="accepted; mini-batches run in turn")
    return parser.parse_args(argv)


def load_script(path: Path) -> Any:
    """Import the scoring script from its file as a module named after it (registered in sys.modules,
    as an import would), its folder on sys.path, as Azure's runtime does."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def call(run: Any, mini_batch: list[str], timeout: float) -> tuple[Any, str | None]:
    """Call ``run(mini_batch)`` in a thread; return its result and None, or None and why it failed."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = run(mini_batch)
        except Exception as problem:
            outcome["error"] = f"{type(problem).__name__}: {problem}"

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return None, f"timed out after {timeout:g} s"
    if "error" in outcome:
        return None, outcome["error"]
    if not isinstance(outcome["result"], list) and not hasattr(outcome["result"], "to_csv"):
        return None, f"run() returned a {type(outcome['result']).__name__}, not a list or a DataFrame"
    return outcome["result"], None


def append(result: Any, path: Path) -> None:
    """Append what run() returned as append_row does: DataFrame rows space-separated, no header or
    index; list elements one per line."""
    with open(path, "a") as output:
        if isinstance(result, list):
            output.writelines(f"{element}\n" for element in result)
        else:
            result.to_csv(output, sep=" ", header=False, index=False)


def job(args: argparse.Namespace) -> dict[str, Any]:
    """Run the job; return its counts, status and, when it failed, why."""
    files = sorted(str(path.resolve()) for path in args.input.iterdir() if path.is_file())
    args.output.mkdir(parents=True, exist_ok=True)
    os.environ["AZUREML_BI_OUTPUT_PATH"] = str(args.output.resolve())
    os.chdir(tempfile.mkdtemp(prefix="azureml-worker-"))
    script = load_script(args.script.resolve())
    script.init()
    report: dict[str, Any] = {"items": len(files), "succeeded": 0, "failed": 0, "mini_batches": 0}
    for start in range(0, len(files), args.mini_batch_size):
        mini_batch = files[start : start + args.mini_batch_size]
        report["mini_batches"] += 1
        for _attempt in range(args.max_retries + 1):
            result, failure = call(script.run, mini_batch, args.timeout)
            if failure is None:
                break
            print(f"mini-batch {report['mini_batches']}: {failure}", file=sys.stderr)
        returned = 0 if result is None else len(result)
        report["succeeded"] += returned
        report["failed"] += max(len(mini_batch) - returned, 0)
        if result is not None and args.output_action == "append_row":
            append(result, args.output / args.output_file_name)
        if 0 <= args.error_threshold < report["failed"]:
            return {
                **report,
                "status": "Failed",
                "reason": f"{report['failed']} failed items exceed error_threshold {args.error_threshold}",
            }
    if report["succeeded"] == 0:
        return {
            **report,
            "status": "Failed",
            "reason": "There is no succeeded mini batch item returned from run()",
        }
    return {**report, "status": "Completed", "reason": None}


def main(argv: list[str]) -> int:
    """Run the job, print its report as JSON; exit 0 when it completed, 1 when it failed."""
    report = job(arguments(argv))
    print(json.dumps(report))
    return 0 if report["status"] == "Completed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
