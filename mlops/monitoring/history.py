"""A model's monitoring over time: every window its monitor runs logged to MLflow (one per window:
the newest run of a window monitored twice), and the time-series charts of each thresholded metric
across them, with thresholds, raw breaches and alerts marked, for ``mlops monitor --history`` and
the history section of each report."""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.monitoring import production
from mlops.svg import Bar, Chart, Dot, Frame, Line, Polyline, Text, compact, ticks

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from mlflow.entities import Run

LAST = 30  # windows shown unless --last says otherwise (mlops monitor's --help says it too)
PALETTE = 8  # features drawn in colour (those that breached most); the rest are grey
WIDTH, HEIGHT = 620, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 40
TITLES = {
    "data_drift": "Data drift",
    "prediction_drift": "Prediction drift",
    "data_quality": "Data quality",
    "model_performance": "Model performance",
    "estimated_performance": "Estimated performance",
}
STATE_CLASS = {
    "alert": "alert",
    "breach held back": "held",
    "insufficient data": "insufficient",
    "no breach": "quiet",
}


def monitor_runs(name: str) -> list[Run]:
    """Return model ``name``'s monitor runs, one per window (the newest run of each), oldest window
    first."""
    from mlops import registry

    experiment = registry.client().get_experiment_by_name(name)  # reading creates nothing
    if experiment is None:
        return []
    found = registry.client().search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlops.run` = 'monitor' and tags.model_name = '{name}'",
        max_results=5000,
        order_by=["start_time DESC"],
    )
    newest: dict[tuple[str, str], Run] = {}
    for run in found:
        tags = run.data.tags
        if "window_end" in tags:
            newest.setdefault((tags.get("window_start", ""), tags["window_end"]), run)
    return sorted(
        newest.values(), key=lambda run: (run.data.tags["window_end"], run.data.tags["window_start"])
    )


@functools.lru_cache(maxsize=4096)
def summary_of(run_id: str) -> dict[str, Any] | None:
    """Return the summary.json a monitor run logged (None when it has none)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from mlops.monitoring.monitor import SUMMARY_FILE

    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SUMMARY_FILE)
    except (MlflowException, OSError):  # a run logged without its summary is left out
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def summaries(name: str, last: int = LAST) -> list[dict[str, Any]]:
    """Return the summaries of model ``name``'s last ``last`` monitor windows, oldest first."""
    return summaries_of(monitor_runs(name), last)


def summaries_of(runs: list[Run], last: int, before: datetime | None = None) -> list[dict[str, Any]]:
    """Return the summaries of the last ``last`` of the monitor ``runs`` (ending before ``before``
    when given), oldest first."""
    end = production.stamp(before) if before is not None else None
    kept = [run for run in runs if end is None or run.data.tags["window_end"] < end]
    found = [summary_of(run.info.run_id) for run in kept[-last:]] if last > 0 else []
    return [summary for summary in found if summary is not None]


@dataclass(frozen=True)
class Figure:
    """One chart of the history with its heading, legend entries (feature, CSS class) and caption."""

    heading: str
    chart: Chart
    legend: list[tuple[str, str]]
    caption: str


def counts(windows: list[dict[str, Any]]) -> dict[str, int]:
    """Return how many windows there are, how many Azure's raw verdict breached, how many alerted,
    how many had too few rows, and how many metric breaches they held."""
    states = Counter(window["alert"]["state"] for window in windows)
    return {
        "quiet": [f"{TITLES.get(signal, signal)}: {metric}" for signal, metric in quiet(windows)],
        "windows": len(windows),
        "breached": sum(bool(window["breached"]) for window in windows),
        "breaches": sum(row["breached"] for window in windows for row in window["rows"]),
        "alerts": states["alert"],
        "insufficient": states["insufficient data"],
    }


def day(stamp: str) -> str:
    """Return an axis label for a window end: the month and day, with the hour when not midnight."""
    date, time = stamp[5:10], stamp[11:16]
    return date if time == "00:00" else f"{date} {time}"


def frame_of(count: int, top: float) -> Frame:
    """Return the plot frame of ``count`` windows, one step each, and values from 0 to ``top``."""
    return Frame(
        LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM, [-0.5, count - 0.5], ticks(0, top, 4)
    )


def time_axes(frame: Frame, windows: list[dict[str, Any]], y_label: str) -> tuple[list[Line], list[Text]]:
    """Return the frame's horizontal grid, its axes, a window-end label every few windows and the y
    label."""
    lines = [Line(frame.left, frame.y(y), frame.right, frame.y(y)) for y in frame.ys[1:]]
    lines += [
        Line(frame.left, frame.bottom, frame.right, frame.bottom, "axis"),
        Line(frame.left, frame.top, frame.left, frame.bottom, "axis"),
    ]
    texts = [Text(frame.left - 6, frame.y(y) + 4, compact(y), "end") for y in frame.ys]
    every = max(1, -(-len(windows) // 8))
    for i in range(0, len(windows), every):
        texts.append(Text(frame.x(i), frame.bottom + 16, day(windows[i]["window"]["end"])))
    texts.append(
        Text(frame.left - 52, round(frame.top + frame.height / 2, 1), y_label, style="label", angle=-90)
    )
    texts.append(
        Text(round(frame.left + frame.width / 2, 1), frame.bottom + 34, "window end (UTC)", style="label")
    )
    return lines, texts


def bands(frame: Frame, windows: list[dict[str, Any]]) -> list[Bar]:
    """Return a shaded band behind each window that alerted or had too few rows to judge."""
    step = frame.x(1) - frame.x(0)
    return [
        Bar(
            round(frame.x(i) - step / 2, 1),
            frame.top,
            round(step, 1),
            frame.height,
            STATE_CLASS[window["alert"]["state"]] + " band",
            f"{window['window']['end']}: {window['alert']['state']} ({window['alert']['reason']})",
        )
        for i, window in enumerate(windows)
        if window["alert"]["state"] in ("alert", "insufficient data")
    ]


def overview(windows: list[dict[str, Any]]) -> Figure:
    """Return the chart of production rows per window, each bar coloured by its alert state."""
    most = max((window["production"]["rows"] for window in windows), default=0)
    frame = frame_of(len(windows), most or 1)
    lines, texts = time_axes(frame, windows, "production rows")
    step = frame.x(1) - frame.x(0)
    bars = [
        Bar(
            round(frame.x(i) - step * 0.4, 1),
            frame.y(window["production"]["rows"]),
            round(step * 0.8, 1),
            round(frame.bottom - frame.y(window["production"]["rows"]), 1),
            STATE_CLASS[window["alert"]["state"]],
            f"{window['window']['end']}: {window['production']['rows']:,} rows; {window['alert']['state']}",
        )
        for i, window in enumerate(windows)
    ]
    tally = counts(windows)
    description = (
        f"Production rows in each of {tally['windows']} windows; {tally['breached']} breached a threshold "
        f"(Azure's verdict), {tally['alerts']} alerted, {tally['insufficient']} had too few rows."
    )
    legend = [(state, css) for state, css in STATE_CLASS.items()]
    chart = Chart("history-rows", WIDTH, HEIGHT, "Windows", description, bars, texts, lines, "")
    return Figure("Production rows and alert state per window", chart, legend, description)


def series(windows: list[dict[str, Any]], signal: str, metric: str) -> dict[str, list[dict | None]]:
    """Return each feature's thresholded metric row per window (None where the window has none)."""
    found: dict[str, list[dict | None]] = {}
    for i, window in enumerate(windows):
        for row in window["rows"]:
            if row["signal"] == signal and row["metric"] == metric and row["threshold"] is not None:
                found.setdefault(row["feature"], [None] * len(windows))[i] = row
    return found


def metric_chart(windows: list[dict[str, Any]], signal: str, metric: str, number: int) -> Figure:
    """Return the chart of one metric of one signal across the windows: a line per feature (the
    features that breached most in colour, the others grey), the threshold dashed, every raw breach
    a red dot, and the windows that alerted or had too few rows shaded."""
    lines_of = series(windows, signal, metric)
    judged = [window["alert"]["state"] != "insufficient data" for window in windows]
    breached = Counter(  # a window too thin to judge colours no line: its noise breaches everywhere
        feature
        for feature, rows in lines_of.items()
        for row, counts in zip(rows, judged, strict=True)
        if row is not None and row["breached"] and counts
    )
    coloured = [feature for feature, _ in breached.most_common(PALETTE)]
    values = [row["value"] for rows in lines_of.values() for row in rows if row and row["value"] is not None]
    thresholds = Counter(
        row["threshold"] for rows in lines_of.values() for row in rows if row and row["threshold"] is not None
    )
    usual = thresholds.most_common(1)[0][0] if thresholds else None
    frame = frame_of(len(windows), max([*values, usual or 0, 1e-9]))
    grid, texts = time_axes(frame, windows, metric.replace("_", " "))
    polylines, dots = [], []
    for feature in sorted(lines_of, key=lambda name: name in coloured):  # coloured lines drawn last
        style = f"line s{coloured.index(feature)}" if feature in coloured else "line muted"
        run: list[tuple[float, float]] = []
        for i, row in enumerate([*lines_of[feature], None]):
            if row is not None and row["value"] is not None:
                run.append((frame.x(i), frame.y(row["value"])))
                if row["breached"]:
                    when, value = windows[i]["window"]["end"], row["value"]
                    tip = f"{feature} on {when}: {value:.4g} (threshold {row['threshold']:.4g})"
                    dots.append(Dot(frame.x(i), frame.y(row["value"]), 3.5, "breach", tip))
            elif run:
                polylines.append(Polyline(tuple(run) if len(run) > 1 else (run[0], run[0]), style, feature))
                run = []
    if usual is not None:
        grid.append(Line(frame.left, frame.y(usual), frame.right, frame.y(usual), "threshold"))
    others = len(lines_of) - len(coloured)
    raw = sum(row is not None and row["breached"] for rows in lines_of.values() for row in rows)
    grey = f"; {others} other feature{'s' if others != 1 else ''} (no breach where rows sufficed) in grey"
    caption = (
        f"{metric} of {len(lines_of)} feature{'s' if len(lines_of) != 1 else ''}"
        + (f", threshold {usual:.4g} (dashed)" if usual is not None else "")
        + (" or its own where a feature sets one" if len(thresholds) > 1 else "")
        + f"; {raw} raw breaches (red dots)"
        + (grey if coloured and others else "")
        + "."
    )
    title = f"{TITLES.get(signal, signal)}: {metric}"
    chart = Chart(
        f"history-{number}",
        WIDTH,
        HEIGHT,
        title,
        caption,
        bands(frame, windows),
        texts,
        grid,
        "",
        polylines,
        dots,
    )
    return Figure(title, chart, [(feature, f"s{i}") for i, feature in enumerate(coloured)], caption)


def figures(windows: list[dict[str, Any]]) -> list[Figure]:
    """Return the overview and one chart per (signal, metric) with a threshold in some window, leaving
    out the metrics that were 0 in every window (``quiet`` names them)."""
    if not windows:
        return []
    pairs = dict.fromkeys(
        (row["signal"], row["metric"])
        for window in windows
        for row in window["rows"]
        if row["threshold"] is not None
    )
    loud = [pair for pair in pairs if pair not in quiet(windows)]
    return [overview(windows)] + [
        metric_chart(windows, signal, metric, number) for number, (signal, metric) in enumerate(loud)
    ]


def quiet(windows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return the thresholded (signal, metric) pairs whose every value was 0 and never breached."""
    values: dict[tuple[str, str], bool] = {}
    for window in windows:
        for row in window["rows"]:
            if row["threshold"] is not None:
                pair = (row["signal"], row["metric"])
                values[pair] = values.get(pair, True) and not row["value"] and not row["breached"]
    return [pair for pair, zero in values.items() if zero]


def write(path: Path, name: str, windows: list[dict[str, Any]]) -> Path:
    """Write the history page of model ``name``'s ``windows`` to ``path``, atomically; return it."""
    from mlops import atomic, page

    template = page.template("mlops.monitoring", "history.html.j2")
    atomic.write(
        path, template.render(name=name, windows=windows, counts=counts(windows), figures=figures(windows))
    )
    return path
