"""``mlops monitor --backfill`` and ``--history`` end to end: past windows from one pass over real
files, one MLflow run per window in the real store, the alert rules across them, the history page."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops import registry
from mlops.models import catalog
from mlops.monitoring import history
from mlops.reports.svg import time_ticks
from mlops.training.run import train_model

SMALL = ["data=generated", "data.n_rows=3000", "estimator.n_estimators=10"]


@pytest.fixture(scope="module")
def store(trained_state):
    """Train taxi-fare once; backfills only add monitor runs."""
    return trained_state("history-state", [("taxi-fare", SMALL)])


def days(first: str, count: int, rows: int, shifted_from: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Return ``count`` daily batches of taxi trips from the model's own generator starting on
    ``first``; from day ``shifted_from`` (0-based) on, distance moves up by half its standard deviation."""
    catalog.load_config("taxi-fare")  # puts the model's code on the path
    from taxi_fare.data import load

    frames = []
    for day in range(count):
        frame = load(n_rows=rows, seed=seed + day).drop(columns="cost")
        if shifted_from is not None and day >= shifted_from:
            frame["distance"] += 0.5 * frame["distance"].std()
        seconds = pd.to_timedelta(np.linspace(0, 86_399, rows), unit="s")
        frames.append(
            frame.assign(timestamp=pd.Timestamp(first, tz="UTC") + pd.Timedelta(days=day) + seconds)
        )
    return pd.concat(frames, ignore_index=True).sample(frac=1, random_state=seed)  # rows out of time order


def write(folder: Path, frame: pd.DataFrame) -> Path:
    """Write production rows as two Parquet files and one CSV file."""
    folder.mkdir(parents=True, exist_ok=True)
    third = len(frame) // 3
    frame.iloc[:third].to_parquet(folder / "a.parquet")
    frame.iloc[third : 2 * third].to_csv(folder / "b.csv", index=False)
    frame.iloc[2 * third :].to_parquet(folder / "c.parquet")
    return folder


def states(result) -> list[str]:
    """Return each backfilled window's alert state as the command printed it, oldest first."""
    return [
        line.rsplit("raw breaches", 1)[1].strip()
        for line in result.stdout.splitlines()
        if "raw breaches" in line
    ]


def test_a_backfill_logs_one_window_a_day_and_a_shift_alerts_when_it_persists(trained, run_mlops, tmp_path):
    production = write(tmp_path / "byo", days("2026-10-01", 8, 3000, shifted_from=5, seed=100))
    window = ["--from", "2026-10-01", "--to", "2026-10-09"]
    result = run_mlops("monitor", "taxi-fare", "--production", str(production), "--backfill", *window)
    assert result.returncode == 1, result.stdout + result.stderr  # the newest window alerts
    assert "taxi-fare: 8 windows of P1D, 8 with production rows" in result.stdout
    found = states(result)
    assert "alert" not in found[:5], found  # days drawn like training never alert
    assert found[5] == "breach held back"  # the shift's first day: 1 of the last 3 windows
    assert found[6:] == ["alert", "alert"]  # its second day meets the default persistence (2 of 3)
    assert "backfilled 8 windows" in result.stdout and "2 alerts" in result.stdout

    runs = registry.client().search_runs(
        [registry.experiment_id("taxi-fare")], "tags.`mlops.run` = 'monitor'", order_by=["tags.window_end"]
    )
    ends = sorted(run.data.tags["window_end"] for run in runs if run.data.tags["window_end"] < "2026-10-10")
    assert ends == [f"2026-10-{day:02d}T00:00:00Z" for day in range(2, 10)]
    assert {
        run.data.tags["production_rows"] for run in runs if run.data.tags["window_end"] < "2026-10-10"
    } == {"3000"}

    again = run_mlops(
        "monitor", "taxi-fare", "--production", str(production), "--backfill", *window, "--json"
    )
    assert again.returncode == 1
    assert [window["alert"]["state"] for window in json.loads(again.stdout)] == found  # the same verdicts

    history = run_mlops("monitor", "taxi-fare", "--history", "--last", "8")
    assert history.returncode == 0, history.stderr
    lines = [line for line in history.stdout.splitlines() if "raw breaches" in line]
    assert len(lines) == 8  # a window backfilled twice is shown once, as its newest run says
    assert lines[0].split()[0] == "2026-10-01T00:00:00Z" and lines[-1].endswith("alert")
    assert "8 windows, " in history.stdout and "2 alerts" in history.stdout
    page = Path(history.stdout.rsplit("history ", 1)[1].strip()).read_text()
    assert page.count("<svg") >= 3  # the windows, and each drift metric with a threshold
    assert "Data drift: normalized_wasserstein_distance" in page
    assert re.search(r'<circle [^>]*class="breach"><title>distance, window ending 2026-10-07T00:00:00Z', page)
    assert "Windows of 1 day" not in page  # one window length: no sections
    assert page.count('class="alert band"') == 2 * (page.count("<svg") - 1)  # both alerts, on every metric


def test_windows_drawn_from_training_raise_no_alert_and_the_report_counts_raw_breaches(
    trained, run_mlops, tmp_path
):
    production = write(tmp_path / "byo", days("2026-09-01", 14, 3000, seed=300))
    result = run_mlops(
        "monitor", "taxi-fare", "--production", str(production), "--backfill",
        "--from", "2026-09-01", "--to", "2026-09-15", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    windows = json.loads(result.stdout)
    assert len(windows) == 14 and not [w for w in windows if w["alert"]["raised"]]
    report = Path(next(Path(trained, "monitoring", "taxi-fare").glob("window-20260915T000000Z/report.html")))
    text = report.read_text()
    assert "14 windows: Azure's verdict alone breached in <strong>" in text  # the history section counts
    assert "monitoring.alerting raised <strong>0</strong> alerts" in text


def test_a_shift_retrains_once_on_its_alert_and_not_again_in_the_cooldown(run_mlops, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))
    train_model("taxi-fare", SMALL, echo=lambda _line: None)
    production = write(tmp_path / "byo", days("2026-08-01", 22, 3000, shifted_from=19, seed=500))
    back = run_mlops(
        "monitor", "taxi-fare", "--production", str(production), "--backfill",
        "--from", "2026-08-01", "--to", "2026-08-20", "--json",
    )  # fmt: skip
    assert back.returncode == 0, back.stderr  # 19 days drawn like training: no alert
    outcomes, alerts = [], []
    for day in (20, 21, 22):  # the shift starts on day 20; one monitor run a day, as a schedule would
        window = ["--from", f"2026-08-{day:02d}", "--to", f"2026-08-{day + 1:02d}"]
        out = ["--out", str(tmp_path / f"day-{day}")]
        outcomes.append(
            run_mlops(
                "monitor", "taxi-fare", "--production", str(production), *window, *out, "--on-breach",
                "retrain", *SMALL,
            )
        )  # fmt: skip
    alerts = [
        json.loads((tmp_path / f"day-{day}" / "summary.json").read_text())["alert"] for day in range(20, 23)
    ]
    assert [alert["state"] for alert in alerts] == ["breach held back", "alert", "alert"]
    assert [alert["retrain"] for alert in alerts] == [False, True, False]
    assert [o.returncode for o in outcomes] == [0, 1, 1]
    assert (
        "retraining because a threshold was breached and alerted" in outcomes[1].stdout + outcomes[1].stderr
    )
    assert (
        "retraining held: the window of the last retrain on an alert ended 2026-08-22T00:00:00Z"
        in alerts[2]["reason"]
    )
    assert len(registry.client().search_model_versions("name='taxi-fare'")) == 2  # trained once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "soon"], "--every 'soon' is not a positive ISO 8601 duration"),
        (
            ["--every", "PT1M"],
            "--every PT1M cuts 2026-07-01T00:00:00Z to 2026-07-02T00:00:00Z into 1,440 windows",
        ),
        (["--on-breach", "retrain"], "--on-breach retrain acts on the present, --backfill on past windows"),
        (["--model", "."], "a --model folder has no history: drop --model or --backfill"),
    ],
)
def test_backfill_mistakes_name_the_fix(trained, run_mlops, tmp_path, args, message):
    production = write(tmp_path / "byo", days("2026-07-01", 1, 200))
    result = run_mlops(
        "monitor", "taxi-fare", "--production", str(production), "--backfill",
        "--from", "2026-07-01", "--to", "2026-07-02", *args,
    )  # fmt: skip
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_history_before_any_monitor_run_says_how_to_start(run_mlops, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(tmp_path / "state"))  # an empty store: nothing trained yet
    result = run_mlops("monitor", "credit-default", "--history", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "credit-default: no monitor run is logged yet; run mlops monitor credit-default" in result.stdout
    assert "No monitor run of credit-default is logged yet" in (tmp_path / "history.html").read_text()
    assert registry.client().get_experiment_by_name("credit-default") is None  # reading created nothing
    unknown = run_mlops("monitor", "no-such-model", "--history")
    assert unknown.returncode == 2 and "no-such-model" in unknown.stderr and "Traceback" not in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--every", "P1D"], "--every goes with --backfill"), (["--last", "5"], "--last goes with --history")],
)
def test_an_option_without_the_flag_it_belongs_to_is_refused(run_mlops, args, message):
    result = run_mlops("monitor", "taxi-fare", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def summary(
    start: datetime, length: timedelta, values: dict[str, float], backfill: str | None = None
) -> dict:
    """Return a monitor window's summary with the fields the history draws: its time, rows, alert
    state and one data drift row per feature (``values``: feature -> distance, threshold 0.1)."""
    rows = [
        {
            "signal": "data_drift",
            "metric": "normalized_wasserstein_distance",
            "feature": feature,
            "value": value,
            "threshold": 0.1,
            "breached": value > 0.1,
        }
        for feature, value in values.items()
    ]
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "window": {"start": start.strftime(stamp), "end": (start + length).strftime(stamp)},
        "production": {"rows": 500},
        "alert": {"state": "no breach", "reason": "no threshold breached"},
        "breached": any(row["breached"] for row in rows),
        "rows": rows,
        "backfill": backfill,
    }


def labels(chart) -> list:
    """Return the time-axis labels of a chart (the tick texts below the plot), left to right."""
    bottom = max(line.y1 for line in chart.lines if line.style == "axis")
    below = [text for text in chart.texts if text.style == "tick" and text.anchor == "middle"]
    return sorted((text for text in below if text.y > bottom), key=lambda text: text.x)


def test_windows_sit_on_a_time_axis_each_length_apart_and_every_feature_has_its_colour():
    first, day = datetime(2026, 11, 2, tzinfo=UTC), timedelta(days=1)
    features = [f"feature_{i}" for i in range(10)]

    def values(i: int) -> dict[str, float]:  # feature_9 breaches from day 1 on, the others never
        return {name: 0.01 * (j + 1) + 0.001 * i for j, name in enumerate(features)}

    daily = [summary(first + day * i, day, values(i), "P1D") for i in (0, 1, 2, 4, 5)]  # day 3 missing
    daily.append(summary(first + day * 6, timedelta(hours=12), values(6), "P1D"))  # a shorter last one
    weekly = summary(first, 7 * day, values(0))  # a plain 7-day monitor run
    windows = sorted([*daily, weekly], key=lambda window: window["window"]["end"])

    found = history.figures(windows)
    groups = list(dict.fromkeys(figure.group for figure in found))
    assert groups == [
        "Windows of 1 day: 6 windows, 2026-11-02T00:00:00Z to 2026-11-08T12:00:00Z",
        "Windows of 7 days: 1 window, 2026-11-02T00:00:00Z to 2026-11-09T00:00:00Z",
    ]
    drift = next(f for f in found if f.group == groups[0] and f.heading.startswith("Data drift"))
    lines = {polyline.tip: polyline for polyline in drift.chart.polylines}
    assert len(lines) == 10 and len({polyline.style for polyline in lines.values()}) == 9  # 8 colours, grey
    ranked = [f"feature_{i}" for i in range(9, 1, -1)]  # the one that breached, then the closest
    assert drift.legend == [
        *((name, f"s{i}") for i, name in enumerate(ranked)),
        ("2 other features", "muted"),
    ]
    assert all(lines[name].style == f"line {css}" for name, css in drift.legend[:8])
    assert lines["feature_0"].style == lines["feature_1"].style == "line muted"
    xs = [dot.x for dot in drift.chart.dots if dot.tip.startswith("feature_9,") and dot.style != "breach"]
    assert len(xs) == 6 and abs((xs[3] - xs[2]) - 2 * (xs[1] - xs[0])) < 0.2  # the gap of day 3
    assert abs((xs[5] - xs[4]) - 0.75 * (xs[1] - xs[0])) < 0.2  # a half-day window, drawn at its middle
    ticks = labels(drift.chart)
    assert [tick.text for tick in ticks] == ["Nov 2", "Nov 3", "Nov 4", "Nov 5", "Nov 6", "Nov 7", "Nov 8"]
    assert min(b.x - a.x for a, b in itertools.pairwise(ticks)) > 90  # labels never run into each other


def test_the_history_page_is_well_formed_with_a_section_per_window_length(tmp_path):
    first, day = datetime(2026, 11, 2, tzinfo=UTC), timedelta(days=1)
    windows = [summary(first + day * i, day, {"distance": 0.05, "hour": 0.2}, "P1D") for i in range(3)]
    windows.append(summary(first, 3 * day, {"distance": 0.04, "hour": 0.03}))
    page = history.write(tmp_path / "history.html", "taxi-fare", windows).read_text()
    charts = [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]
    assert len(charts) == 4  # rows and data drift, for each length
    assert '<h3 class="group">Windows of 1 day: 3 windows' in page
    assert '<h3 class="group">Windows of 3 days: 1 window' in page
    assert '<span class="swatch s0"></span>hour' in page and '<span class="swatch s1"></span>distance' in page


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        (timedelta(hours=20), [f"2026-11-27T{hour:02d}:00" for hour in range(0, 16, 3)]),
        (
            timedelta(days=30),
            ["2026-11-30T00:00", "2026-12-07T00:00", "2026-12-14T00:00", "2026-12-21T00:00"],
        ),
        (
            timedelta(days=200),
            [
                "2026-12-01T00:00",
                "2027-01-01T00:00",
                "2027-02-01T00:00",
                "2027-03-01T00:00",
                "2027-04-01T00:00",
                "2027-05-01T00:00",
                "2027-06-01T00:00",
            ],
        ),
    ],
)
def test_time_ticks_fall_on_round_times(span, expected):
    low = datetime(2026, 11, 26, 21, 4, 9, tzinfo=UTC)
    found = time_ticks(low, low + span)
    assert [tick.strftime("%Y-%m-%dT%H:%M") for tick in found] == expected  # hours, Mondays, months
