"""A model's monitoring over time: every window its monitor runs logged to MLflow (one per window:
the newest run of a window monitored twice), and the time-series charts of each thresholded metric
across them, with thresholds, raw breaches and alerts marked, for ``mlops monitor --history`` and
the history section of each report."""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlops.core.console import plural
from mlops.monitoring import production
from mlops.monitoring.summary import MetricRow, Summary
from mlops.reports.svg import Bar, Chart, Dot, Frame, Line, Polyline, Text, compact, ticks, time_ticks

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow.entities import Run

LAST = 30  # windows shown unless --last says otherwise (mlops monitor's --help says it too)
PALETTE = 8  # features drawn in colour and named in the legend (those that breached most); the rest grey
WIDTH, HEIGHT = 900, 220
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
def summary_of(run_id: str) -> Summary | None:
    """Return the summary.json a monitor run logged (None when it has none)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from mlops.monitoring import SUMMARY_FILE

    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=SUMMARY_FILE)
    except (MlflowException, OSError):  # a run logged without its summary is left out
        return None
    with open(path, encoding="utf-8") as handle:
        summary: Summary = json.load(handle)
        return summary


def summaries(name: str, last: int = LAST) -> list[Summary]:
    """Return the summaries of model ``name``'s last ``last`` monitor windows, oldest first."""
    return summaries_of(monitor_runs(name), last)


def summaries_of(runs: list[Run], last: int, before: datetime | None = None) -> list[Summary]:
    """Return the summaries of the last ``last`` of the monitor ``runs`` (ending before ``before``
    when given), oldest first."""
    end = production.stamp(before) if before is not None else None
    kept = [run for run in runs if end is None or run.data.tags["window_end"] < end]
    found = [summary_of(run.info.run_id) for run in kept[-last:]] if last > 0 else []
    return [summary for summary in found if summary is not None]


@dataclass(frozen=True)
class Figure:
    """One chart of the history with its heading, legend entries (label, CSS class), caption and the
    heading of the window length its windows share (empty when every window has the same length)."""

    heading: str
    chart: Chart
    legend: list[tuple[str, str]]
    caption: str
    group: str = ""


def counts(windows: list[Summary]) -> dict[str, Any]:
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


def moment(stamp: str) -> datetime:
    """Return a summary's ISO 8601 UTC time as a datetime."""
    return datetime.fromisoformat(stamp)


def length(window: Summary) -> timedelta:
    """Return a window's length: its backfill's step (the last window of a backfill may be shorter),
    else its end less its start."""
    if window.get("backfill"):
        return production.parse_duration(window["backfill"], "backfill")
    return moment(window["window"]["end"]) - moment(window["window"]["start"])


def spoken(duration: timedelta) -> str:
    """Return a window length in words: ``1 day``, ``7 days``, ``12 hours``, ``90 minutes``."""
    seconds = duration.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return plural(int(seconds // size), unit)
    return plural(int(seconds), "second")


def lengths(windows: list[Summary]) -> list[list[Summary]]:
    """Return the windows grouped by length, oldest first in each, the group with the most windows
    first (on a tie, the one with the newest window): a distance over a week of rows is not
    comparable with one over a day, so they are never drawn on one line."""
    groups: dict[timedelta, list[Summary]] = {}
    for window in windows:
        groups.setdefault(length(window), []).append(window)
    return sorted(groups.values(), key=lambda group: (len(group), group[-1]["window"]["end"]), reverse=True)


def frame_of(windows: list[Summary], top: float, whole: bool = False) -> Frame:
    """Return the plot frame of ``windows`` on a time axis from the first start to the last end, and
    values from 0 to ``top`` (with ``whole``, ticked at whole numbers: counts)."""
    low = min(moment(window["window"]["start"]).timestamp() for window in windows)
    high = max(moment(window["window"]["end"]).timestamp() for window in windows)
    height = HEIGHT - TOP - BOTTOM
    return Frame(LEFT, TOP, WIDTH - LEFT - RIGHT, height, [low, high], ticks(0, top, 4, whole))


def span(frame: Frame, window: Summary) -> tuple[float, float]:
    """Return the page positions of a window's start and end."""
    start, end = (moment(window["window"][side]).timestamp() for side in ("start", "end"))
    return frame.x(start), frame.x(end)


def middle(frame: Frame, window: Summary) -> float:
    """Return the page position of a window's middle, where its values are drawn."""
    start, end = span(frame, window)
    return round((start + end) / 2, 1)


def time_label(tick: datetime, first: bool, step: float) -> str:
    """Return a time-axis label: the day (``Nov 28``), with the time (``06:00``) when not midnight,
    the time alone where the day is not the first tick's and steps are under a day; the month and
    year where steps are months."""
    if step >= 28 * 86_400:
        return tick.strftime("%b %Y")
    day = f"{tick:%b} {tick.day}"
    if tick.hour == tick.minute == 0:
        return day
    return f"{day} {tick:%H:%M}" if first else f"{tick:%H:%M}"


def time_axes(frame: Frame, y_label: str) -> tuple[list[Line], list[Text]]:
    """Return the frame's horizontal grid, its axes, a tick and label at round UTC times (midnights,
    hours, Mondays, months: at most 7, so labels never run into each other) and the axis labels."""
    lines = [Line(frame.left, frame.y(y), frame.right, frame.y(y)) for y in frame.ys[1:]]
    lines += [
        Line(frame.left, frame.bottom, frame.right, frame.bottom, "axis"),
        Line(frame.left, frame.top, frame.left, frame.bottom, "axis"),
    ]
    texts = [Text(frame.left - 6, frame.y(y) + 4, compact(y), "end") for y in frame.ys]
    low, high = (datetime.fromtimestamp(edge, UTC) for edge in frame.xs)
    found = time_ticks(low, high)
    step = (found[1] - found[0]).total_seconds() if len(found) > 1 else 0.0
    for i, tick in enumerate(found):
        x = frame.x(tick.timestamp())
        lines.append(Line(x, frame.bottom, x, frame.bottom + 4, "axis"))
        texts.append(Text(x, frame.bottom + 16, time_label(tick, i == 0, step)))
    texts.append(
        Text(frame.left - 52, round(frame.top + frame.height / 2, 1), y_label, style="label", angle=-90)
    )
    texts.append(Text(round(frame.left + frame.width / 2, 1), frame.bottom + 34, "time (UTC)", style="label"))
    return lines, texts


def bands(frame: Frame, windows: list[Summary]) -> list[Bar]:
    """Return a shaded band over the time of each window that alerted or had too few rows to judge."""
    found = []
    for window in windows:
        if window["alert"]["state"] in ("alert", "insufficient data"):
            start, end = span(frame, window)
            tip = f"{window['window']['end']}: {window['alert']['state']} ({window['alert']['reason']})"
            found.append(
                Bar(
                    start,
                    frame.top,
                    round(end - start, 1),
                    frame.height,
                    STATE_CLASS[window["alert"]["state"]] + " band",
                    tip,
                )
            )
    return found


def overview(windows: list[Summary], number: str) -> Figure:
    """Return the chart of production rows per window, each bar over the window's time coloured by
    its alert state."""
    most = max((window["production"]["rows"] for window in windows), default=0)
    frame = frame_of(windows, most or 1, whole=True)
    lines, texts = time_axes(frame, "production rows")
    bars = []
    for window in windows:
        start, end = span(frame, window)
        gap = min(2.0, (end - start) / 6)  # neighbouring windows stay apart
        rows = window["production"]["rows"]
        when = f"{window['window']['start']} to {window['window']['end']}"
        tip = f"{when}: {rows:,} rows; {window['alert']['state']}"
        bars.append(
            Bar(
                round(start + gap, 1),
                frame.y(rows),
                round(end - start - 2 * gap, 1),
                round(frame.bottom - frame.y(rows), 1),
                STATE_CLASS[window["alert"]["state"]],
                tip,
            )
        )
    tally = counts(windows)
    description = (
        f"Production rows in each of {plural(tally['windows'], 'window')}; {tally['breached']} breached a "
        f"threshold (Azure's verdict), {tally['alerts']} alerted, {tally['insufficient']} had too few rows."
    )
    legend = [(state, css) for state, css in STATE_CLASS.items()]
    chart = Chart(f"history-rows{number}", WIDTH, HEIGHT, "Windows", description, bars, texts, lines, "")
    return Figure("Production rows and alert state per window", chart, legend, description)


def series(windows: list[Summary], signal: str, metric: str) -> dict[str, list[MetricRow | None]]:
    """Return each feature's thresholded metric row per window (None where the window has none)."""
    found: dict[str, list[MetricRow | None]] = {}
    for i, window in enumerate(windows):
        for row in window["rows"]:
            if row["signal"] == signal and row["metric"] == metric and row["threshold"] is not None:
                found.setdefault(row["feature"], [None] * len(windows))[i] = row
    return found


def ranked(windows: list[Summary], lines_of: dict[str, list[MetricRow | None]]) -> list[str]:
    """Return the features of a chart, those that breached most (in windows with rows enough to
    judge) first, then those closest to their threshold."""
    judged = [window["alert"]["state"] != "insufficient data" for window in windows]

    def weight(feature: str) -> tuple[int, float]:
        rows = [row for row in lines_of[feature] if row is not None and row["value"] is not None]
        breaches = sum(  # a window too thin to judge ranks no line: its noise breaches everywhere
            row is not None and row["breached"] and counts
            for row, counts in zip(lines_of[feature], judged, strict=True)
        )
        return breaches, max(
            ((row["value"] or 0.0) / row["threshold"] if row["threshold"] else 0.0 for row in rows),
            default=0.0,
        )

    return sorted(lines_of, key=lambda feature: (*(-part for part in weight(feature)), feature))


def metric_chart(windows: list[Summary], signal: str, metric: str, number: str) -> Figure:
    """Return the chart of one metric of one signal across the windows: a line per feature, each
    value a dot at the window's middle, the PALETTE features that breached most (or came closest to
    their threshold) in distinct colours named in the legend, any others grey; the threshold dashed,
    every raw breach a red dot, and the windows that alerted or had too few rows shaded."""
    lines_of = series(windows, signal, metric)
    order = ranked(windows, lines_of)
    coloured = order[:PALETTE]
    values = [row["value"] for rows in lines_of.values() for row in rows if row and row["value"] is not None]
    thresholds = Counter(
        row["threshold"] for rows in lines_of.values() for row in rows if row and row["threshold"] is not None
    )
    usual = thresholds.most_common(1)[0][0] if thresholds else None
    frame = frame_of(windows, max([*values, usual or 0, 1e-9]))
    grid, texts = time_axes(frame, metric.replace("_", " "))
    polylines, dots, breaches = [], [], []
    for feature in reversed(order):  # the first-ranked lines drawn last, over the others
        style = f"s{coloured.index(feature)}" if feature in coloured else "muted"
        run: list[tuple[float, float]] = []
        for window, row in zip([*windows, None], [*lines_of[feature], None], strict=True):
            if row is not None and row["value"] is not None:
                assert window is not None  # one row per window; only the closing sentinel pairs None
                point = (middle(frame, window), frame.y(row["value"]))
                run.append(point)
                when, value = window["window"]["end"], row["value"]
                tip = f"{feature}, window ending {when}: {value:.4g} (threshold {row['threshold']:.4g})"
                dots.append(Dot(*point, 2.5, f"point {style}", tip))
                if row["breached"]:
                    breaches.append(Dot(*point, 3.5, "breach", tip))
            elif run:
                if len(run) > 1:
                    polylines.append(Polyline(tuple(run), f"line {style}", feature))
                run = []
    if usual is not None:
        grid.append(Line(frame.left, frame.y(usual), frame.right, frame.y(usual), "threshold"))
    others = len(lines_of) - len(coloured)
    raw = sum(row is not None and row["breached"] for rows in lines_of.values() for row in rows)
    caption = (
        f"{metric} of {plural(len(lines_of), 'feature')}, each window a dot at its middle"
        + (f", threshold {usual:.4g} (dashed)" if usual is not None else "")
        + (" or its own where a feature sets one" if len(thresholds) > 1 else "")
        + f"; {raw} raw breaches (red dots)"
        + (
            f"; the {plural(others, 'other feature')} (fewer breaches, further from the threshold) in grey"
            if others
            else ""
        )
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
        dots + breaches,
    )
    legend = [(feature, f"s{i}") for i, feature in enumerate(coloured)]
    if others:
        legend.append((plural(others, "other feature"), "muted"))
    return Figure(title, chart, legend, caption)


def figures(windows: list[Summary]) -> list[Figure]:
    """Return, for each window length (``lengths``), the overview and one chart per (signal, metric)
    with a threshold in some window, leaving out the metrics that were 0 in every window (``quiet``
    names them). With more than one length each figure names its length in ``group``."""
    if not windows:
        return []
    groups = lengths(windows)
    found = []
    for g, group in enumerate(groups):
        pairs = dict.fromkeys(
            (row["signal"], row["metric"])
            for window in group
            for row in window["rows"]
            if row["threshold"] is not None
        )
        loud = [pair for pair in pairs if pair not in quiet(group)]
        shown = [overview(group, f"-{g}")] + [
            metric_chart(group, signal, metric, f"{g}-{number}")
            for number, (signal, metric) in enumerate(loud)
        ]
        if len(groups) > 1:
            heading = (
                f"Windows of {spoken(length(group[0]))}: {plural(len(group), 'window')}, "
                f"{group[0]['window']['start']} to {group[-1]['window']['end']}"
            )
            shown = [replace(figure, group=heading) for figure in shown]
        found += shown
    return found


def quiet(windows: list[Summary]) -> list[tuple[str, str]]:
    """Return the thresholded (signal, metric) pairs whose every value was 0 and never breached."""
    values: dict[tuple[str, str], bool] = {}
    for window in windows:
        for row in window["rows"]:
            if row["threshold"] is not None:
                pair = (row["signal"], row["metric"])
                values[pair] = values.get(pair, True) and not row["value"] and not row["breached"]
    return [pair for pair, zero in values.items() if zero]


def write(path: Path, name: str, windows: list[Summary]) -> Path:
    """Write the history page of model ``name``'s ``windows`` to ``path``, atomically; return it."""
    from mlops.core import atomic
    from mlops.reports import page

    template = page.template("mlops.monitoring", "history.html.j2")
    atomic.write(
        path, template.render(name=name, windows=windows, counts=counts(windows), figures=figures(windows))
    )
    return path
