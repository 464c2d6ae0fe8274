"""The model batch deployment as Azure runs it: the rendered batch environment (its pip list and nothing
else), the code folder as uploaded, the champion mounted as Azure mounts a registered model, the
deployment's settings and variables, under an emulation of Azure's batch runtime
(``azure_batch_driver.py``). Every file it can score must come out as ``mlops batch`` scores it, with
the same columns and header, and every bad row and failed file reported as ``mlops batch`` reports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from azure_runtime import REPO, build_environment, mount_model, upload

from mlops import registry
from mlops.azureml import render
from mlops.batch import job
from mlops.core.errors import MlopsError
from mlops.models import catalog

pytestmark = pytest.mark.azure_runtime

TRAIN = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=10"]
CHUNK_ROWS = 100  # rows per chunk on both sides: how a chunk's other rows read decides how a bad value shows
DRIVER = Path(__file__).with_name("azure_batch_driver.py")
SCORABLE = ["a-trips.csv", "c-trips.parquet", "d-header-only.csv", "f-bad-values.csv", "g-trips.csv"]
UNSCORABLE = ["b-empty.csv", "e-no-vendor.csv", "h-notes.txt"]


def trips(rows: int, seed: int) -> pd.DataFrame:
    catalog.load_config("taxi-fare")  # puts the model's code on the path
    from taxi_fare.data import load

    return load(n_rows=rows, seed=seed).drop(columns="cost")


@pytest.fixture(scope="module")
def store(trained_state, use_state) -> Path:
    """taxi-fare trained once, version 1 the champion."""
    folder = trained_state("azure-batch-state", [("taxi-fare", TRAIN)])
    with use_state(folder):
        registry.make_champion("taxi-fare", "1")
    return folder


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """taxi-fare's definitions as ``mlops azure render`` writes them for dev."""
    folder = tmp_path_factory.mktemp("rendered")
    render.render("taxi-fare", "dev", folder, version="3")
    return folder


@pytest.fixture(scope="module")
def azure(store, use_state, rendered, tmp_path_factory) -> dict[str, Path]:
    """A batch node as Azure fills it: the environment built from the rendered batch conda file, the
    code as uploaded and the champion mounted (AZUREML_MODEL_DIR)."""
    root = tmp_path_factory.mktemp("node") / "azureml-app"
    with use_state(store):
        source = registry.download(registry.champion("taxi-fare"), tmp_path_factory.mktemp("download"))
    conda_file = rendered / "environments" / "batch.conda.yaml"
    return {
        "bin": build_environment(conda_file, tmp_path_factory.mktemp("env") / "batch"),
        "code": upload(REPO, root),
        "model_dir": mount_model(source, root, "taxi-fare", "1"),
        "home": tmp_path_factory.mktemp("home"),
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """One input folder: good CSV and Parquet files (shuffled and extra columns, an infinite number in
    the Parquet one), a 0-byte file, a header-only file, a file without a feature column, a file with
    bad values (text and infinity in numeric columns) and a text file. Sorted, the files that cannot be
    scored share mini-batches with good ones."""
    folder = tmp_path_factory.mktemp("inputs")
    good = trips(300, seed=1)
    good[list(np.random.default_rng(0).permutation(good.columns))].assign(trip_id=range(300)).to_csv(
        folder / "a-trips.csv", index=False
    )
    (folder / "b-empty.csv").write_bytes(b"")
    parquet = trips(200, seed=2)
    parquet.loc[7, "distance"] = np.inf
    parquet.to_parquet(folder / "c-trips.parquet")
    (folder / "d-header-only.csv").write_text(",".join(good.columns) + "\n")
    trips(50, seed=3).drop(columns="vendor").to_csv(folder / "e-no-vendor.csv", index=False)
    bad = trips(250, seed=4).astype({"distance": object, "vendor": object})
    bad.loc[3, "distance"] = "far"
    bad.loc[120, "distance"] = "inf"
    bad.loc[200, "vendor"] = "green"
    bad.to_csv(folder / "f-bad-values.csv", index=False)
    trips(120, seed=5).to_csv(folder / "g-trips.csv", index=False)
    (folder / "h-notes.txt").write_text("not a table\n")
    return folder.resolve()  # Azure hands run() absolute paths


def deployment(rendered: Path) -> dict:
    """Return the rendered model batch deployment."""
    return yaml.safe_load((rendered / "batch-deployment.yml").read_text())


def run_job(
    azure, rendered, inputs, output, variables=(), **changes
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run the batch job with the rendered settings (``changes`` overriding some) and variables (plus
    ``variables``) in the built environment; return the process and the driver's report."""
    settings = deployment(rendered)["settings"]
    options = {
        "mini_batch_size": settings["mini_batch_size"],
        "error_threshold": settings["error_threshold"],
        "max_retries": settings["retry_settings"]["max_retries"],
        "timeout": settings["retry_settings"]["timeout"],
        "output_action": settings["output_action"],
        "output_file_name": settings.get("output_file_name", "predictions.csv"),  # Azure's default
        "max_concurrency": settings["max_concurrency_per_instance"],
        **changes,
    }
    flags = [item for key, value in options.items() for item in (f"--{key.replace('_', '-')}", str(value))]
    script = azure["code"] / "mlops" / "azureml" / "runtime" / "score_batch.py"
    command = [str(azure["bin"] / "python"), str(DRIVER), "--script", str(script)]
    command += ["--input", str(inputs), "--output", str(output), *flags]
    environment = {
        "PATH": f"{azure['bin']}{os.pathsep}/usr/bin:/bin",
        "HOME": str(azure["home"]),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "AZUREML_MODEL_DIR": str(azure["model_dir"]),
        **settings["environment_variables"],
        **dict(variables),
    }
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    assert lines, f"the driver printed no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return done, json.loads(lines[-1])


@pytest.fixture(scope="module")
def tolerant(azure, rendered, inputs, tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """The job with error_threshold -1, three files per mini-batch and 100-row chunks."""
    output = tmp_path_factory.mktemp("tolerant")
    done, report = run_job(
        azure,
        rendered,
        inputs,
        output,
        {"MLOPS_CHUNK_ROWS": str(CHUNK_ROWS)},
        error_threshold=-1,
        mini_batch_size=3,
    )
    return done, report, output


@pytest.fixture(scope="module")
def local(store, use_state, inputs, tmp_path_factory) -> dict[str, object]:
    """``mlops batch`` on each input file on its own, in the job's chunks: (its summary, its predictions
    folder), or the error that stopped it."""
    found: dict[str, object] = {}
    chunks = [f"deployment.batch.mini_batch_size={CHUNK_ROWS}"]
    with use_state(store):
        for name in SCORABLE + UNSCORABLE:
            output = tmp_path_factory.mktemp(f"local-{name}")
            try:
                found[name] = (
                    job.score("taxi-fare", str(inputs / name), output, overrides=chunks, echo=lambda _: None),
                    output,
                )
            except MlopsError as error:
                found[name] = error
    return found


def summaries(output: Path) -> dict[str, dict]:
    """Return the job's per-file summaries by input file name."""
    read = (json.loads(path.read_text()) for path in (output / "summaries").glob("*.json"))
    return {Path(summary["file"]).name: summary for summary in read}


def test_the_rendered_job_fails_on_a_file_it_cannot_score_after_scoring_the_rest(
    azure, rendered, inputs, tmp_path
):
    done, report = run_job(azure, rendered, inputs, tmp_path / "out")
    assert done.returncode == 1, done.stderr[-3000:]
    assert report == {
        "items": 8,
        "succeeded": 5,
        "failed": 3,
        "mini_batches": 1,  # rendered mini_batch_size: 10 files
        "status": "Failed",
        "reason": "3 failed items exceed error_threshold 0",
    }
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["predictions", "summaries"]
    assert sorted(path.name for path in (tmp_path / "out" / "predictions").iterdir()) == [
        "a-trips.csv",
        "c-trips.parquet.csv",
        "d-header-only.csv",
        "f-bad-values.csv",
        "g-trips.csv",
    ]
    assert sorted(summaries(tmp_path / "out")) == sorted(SCORABLE + UNSCORABLE)


def test_with_error_threshold_minus_one_every_mini_batch_scores_its_good_files(tolerant):
    done, report, output = tolerant
    assert done.returncode == 0, done.stderr[-3000:]
    assert report == {
        "items": 8,
        "succeeded": 5,
        "failed": 3,
        "mini_batches": 3,  # [a, b-empty, c], [d, e-no-vendor, f], [g, h-notes]
        "status": "Completed",
        "reason": None,
    }
    found = summaries(output)
    assert {name for name, summary in found.items() if summary["failed"] is None} == set(SCORABLE)
    assert {name: found[name]["predictions"] for name in UNSCORABLE} == dict.fromkeys(UNSCORABLE)
    assert not list((output / "predictions").glob(".*"))  # no temporary file left behind


def test_every_good_row_comes_out_as_mlops_batch_writes_it(tolerant, local):
    _, _, output = tolerant
    for name in SCORABLE:
        summary, folder = local[name]
        written = output / "predictions" / (name if name.endswith(".csv") else f"{name}.csv")
        expected = folder / "predictions.csv"
        assert written.read_text().splitlines()[0] == expected.read_text().splitlines()[0], name  # header
        got, want = pd.read_csv(written), pd.read_csv(expected)
        assert len(got) == summary.scored, name
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, obj=name)
    assert len(pd.read_csv(output / "predictions" / "f-bad-values.csv")) == 247


def test_bad_rows_and_failed_files_are_reported_as_mlops_batch_reports_them(tolerant, local, inputs):
    _, _, output = tolerant
    found = summaries(output)
    for name in [*SCORABLE, "e-no-vendor.csv"]:
        summary, _ = local[name]
        assert (found[name]["rows"], found[name]["scored"], found[name]["errors"]) == (
            summary.rows,
            summary.scored,
            summary.errors,
        ), name
        assert found[name]["first_errors"] == summary.first_errors, name
    assert [(error["line"], error["reason"]) for error in found["f-bad-values.csv"]["first_errors"]] == [
        (5, "column 'distance' holds 'far', not a finite number"),
        (122, "column 'distance' holds inf, not a finite number"),  # its chunk reads as numbers
        (202, "column 'vendor' holds 'green', not a finite number"),
    ]
    assert found["c-trips.parquet"]["first_errors"][0] | {"reason": ""} == {
        "file": str(inputs / "c-trips.parquet"),
        "row": 7,
        "line": None,
        "reason": "",
    }
    assert found["e-no-vendor.csv"]["failed"] == local["e-no-vendor.csv"][0].first_errors[0]["reason"]
    assert found["e-no-vendor.csv"]["failed"] == "lacks the feature column vendor"
    assert found["b-empty.csv"]["failed"] == str(local["b-empty.csv"])  # mlops batch refuses it alike
    assert found["b-empty.csv"]["failed"].startswith(f"cannot read {inputs / 'b-empty.csv'}: No columns")
    assert found["h-notes.txt"]["failed"] == "h-notes.txt is neither CSV nor Parquet"
    assert "is neither CSV nor Parquet" in str(local["h-notes.txt"])
    assert found["d-header-only.csv"] | {"seconds": 0} == {
        "model": "taxi-fare",
        "version": "1",
        "file": str(inputs / "d-header-only.csv"),
        "rows": 0,
        "scored": 0,
        "errors": 0,
        "first_errors": [],
        "predictions": "predictions/d-header-only.csv",
        "failed": None,
        "seconds": 0,
    }


def test_two_inputs_with_one_name_score_the_first_and_refuse_the_other(azure, rendered, inputs, tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        trips(20 if folder == "x" else 30, seed=6).to_csv(tmp_path / folder / "trips.csv", index=False)
    files = [str(tmp_path / "x" / "trips.csv"), str(tmp_path / "y" / "trips.csv")]
    program = (
        "import json, sys; from pathlib import Path; import azure_batch_driver as driver; "
        "script = driver.load_script(Path(sys.argv[1])); script.init(); "
        "print(json.dumps([script.run(sys.argv[2:]) for _attempt in range(2)]))"
    )
    script = azure["code"] / "mlops" / "azureml" / "runtime" / "score_batch.py"
    environment = {
        "PATH": f"{azure['bin']}{os.pathsep}/usr/bin:/bin",
        "HOME": str(azure["home"]),
        "PYTHONPATH": str(DRIVER.parent),
        "AZUREML_MODEL_DIR": str(azure["model_dir"]),
        "AZUREML_BI_OUTPUT_PATH": str(tmp_path / "out"),
        **deployment(rendered)["settings"]["environment_variables"],
    }
    command = [str(azure["bin"] / "python"), "-c", program, str(script), *files]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [files[:1], files[:1]]  # a retry: the same
    first = json.loads((tmp_path / "out" / "summaries" / "trips.csv.json").read_text())
    assert (first["file"], first["scored"], first["failed"]) == (files[0], 20, None)
    refused = [path for path in (tmp_path / "out" / "summaries").glob("trips.csv.*.json")]
    assert len(refused) == 1
    assert json.loads(refused[0].read_text())["failed"] == (
        f"another input file named trips.csv ({files[0]}) is scored into the same outputs; "
        "give input files unique names"
    )
    assert len(pd.read_csv(tmp_path / "out" / "predictions" / "trips.csv")) == 20


RUNTIME_PROBE = """
import os, time
from pathlib import Path

import pandas as pd


def init():
    Path("init-ran").write_text("")  # in the worker's temporary folder, never the script's


def run(mini_batch):
    names = [Path(file).name for file in mini_batch]
    with open(Path(os.environ["AZUREML_BI_OUTPUT_PATH"]) / "attempts", "a") as attempts:
        attempts.write(" ".join(names) + "\\n")
    if "boom.txt" in names:
        raise ValueError("cannot score boom.txt")
    if "slow.txt" in names:
        time.sleep(3)
    if "partial.txt" in names:
        return names[:1]
    return pd.DataFrame({"file": names, "rows": [len(name) for name in names]})
"""


def drive(tmp_path: Path, files: list[str], **options) -> tuple[int, dict, Path]:
    """Run the driver with the system Python on a probe script over ``files``; return its exit code,
    its report and the output folder."""
    (tmp_path / "code").mkdir(parents=True, exist_ok=True)
    (tmp_path / "code" / "probe.py").write_text(RUNTIME_PROBE)
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True, exist_ok=True)
    (folder / "nested" / "ignored.txt").write_text("")
    for name in files:
        (folder / name).write_text("")
    flags = [item for key, value in options.items() for item in (f"--{key.replace('_', '-')}", str(value))]
    output = tmp_path / "out"
    command = [sys.executable, str(DRIVER), "--script", str(tmp_path / "code" / "probe.py")]
    done = subprocess.run(
        [*command, "--input", str(folder), "--output", str(output), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path / "code",
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1]), output


def test_the_driver_counts_retries_and_appends_rows_as_azure_does(tmp_path):
    code, report, output = drive(
        tmp_path, ["a.txt", "bb.txt", "boom.txt", "c.txt", "partial.txt", "z.txt"], mini_batch_size=2
    )
    assert code == 0
    assert report == {
        "items": 6,  # nested/ is not explored
        "succeeded": 3,  # [a, bb]: 2; [boom, c]: raises every time; [partial, z]: returns 1 of 2
        "failed": 3,
        "mini_batches": 3,
        "status": "Completed",  # error_threshold -1
        "reason": None,
    }
    attempts = (output / "attempts").read_text().splitlines()
    assert attempts == ["a.txt bb.txt", *["boom.txt c.txt"] * 4, "partial.txt z.txt"]  # 3 retries
    assert (output / "predictions.csv").read_text() == "a.txt 5\nbb.txt 6\npartial.txt\n"  # no header
    assert not (tmp_path / "code" / "init-ran").exists()


def test_the_driver_aborts_past_the_threshold_and_fails_without_a_success(tmp_path):
    code, report, output = drive(
        tmp_path, ["a.txt", "boom.txt", "c.txt"], mini_batch_size=1, error_threshold=0
    )
    assert (code, report["status"], report["mini_batches"], report["failed"]) == (1, "Failed", 2, 1)
    assert report["reason"] == "1 failed items exceed error_threshold 0"
    assert not (output / "predictions.csv").read_text().count("c.txt")
    code, report, output = drive(
        tmp_path / "slow", ["slow.txt"], timeout=0.2, max_retries=1, output_action="summary_only"
    )
    assert (code, report["succeeded"], report["failed"]) == (1, 0, 1)
    assert report["reason"] == "There is no succeeded mini batch item returned from run()"
    assert not (output / "predictions.csv").exists()
