"""The monitor's report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched)
with the verdict, the production counts, a metric table per signal and, per column, its baseline and
production distributions drawn side by side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from mlops.monitoring import history
from mlops.monitoring.alerting import beyond_noise
from mlops.reports import page
from mlops.reports.page import number
from mlops.reports.svg import Bar, Chart, Line, Text, ceiling, compact, percent, ticks

if TYPE_CHECKING:
    from mlops.monitoring.metrics import Histogram
    from mlops.monitoring.summary import MetricRow, Summary

TEMPLATE = "report.html.j2"
SIGNAL_TITLES = history.TITLES
SIDES = ("baseline", "production")
# categories drawn one by one; the others share one bar
MAX_CATEGORIES = 20
# characters of a category label drawn before it is cut with an ellipsis
LABEL_CHARS = 22
# most bins between two labelled edges on a numerical chart's axis
EDGE_TICKS = 6
# chart size and margins, in SVG units (CSS pixels)
WIDTH = 560
PLOT_HEIGHT = 170
LEFT, RIGHT, TOP, BOTTOM = 48, 30, 30, 26
LABELS = 150  # room for category labels left of a categorical chart
ROW = 22  # height of one category
# how the page names a column kind compared through its parts (mlops.monitoring.views)
KIND_NAMES = {"datetime": "date-time", "text": "text"}


@dataclass(frozen=True)
class Row:
    """One metric row as printed: every cell a string, and whether it breached."""

    signal: str
    feature: str
    data_type: str
    metric: str
    value: str
    threshold: str
    noise: str  # the noise threshold of a thresholded drift distance, a dash otherwise
    status: str
    breached: bool


@dataclass(frozen=True)
class Section:
    """One column's part of the page: its chart, its metric rows and, for a column monitored in place
    of a raw one (a date-time's hour, a text's length), what it holds."""

    column: str
    kind: str
    breached: bool
    chart: Chart
    rows: list[Row]
    meaning: str = ""


def render(summary: Summary, histograms: dict[str, Histogram], earlier: list[Summary] | None = None) -> str:
    """Return the report page of a monitor run's ``summary`` and its per-column ``histograms``, with
    the history of the ``earlier`` windows' summaries and this one when there are earlier ones."""
    rows = [display(row) for row in summary["rows"]]
    windows = [*earlier, summary] if earlier else []
    meanings = {
        name: text for view in summary.get("views", {}).values() for name, text in view["columns"].items()
    }
    return page.template("mlops.monitoring", TEMPLATE).render(
        summary=summary,
        titles=SIGNAL_TITLES,
        kinds=KIND_NAMES,
        tables=signal_tables(rows),
        sections=sections(histograms, rows, meanings),
        figures=history.figures(windows),
        counts=history.counts(windows),
    )


def threshold_text(metric: str, threshold: float | None) -> str:
    """Return the bound a metric must keep, ``max`` or ``min`` by its bad direction, or a dash when unset."""
    from mlops.monitoring.metrics import LOWER_IS_BREACH

    if threshold is None:
        return "—"
    return f"{'min' if metric in LOWER_IS_BREACH else 'max'} {number(threshold)}"


def status(row: MetricRow) -> str:
    """Return the verdict of a metric row in words, so that it reads without colour: Azure's, and
    for a breached drift distance within its sampling noise, that it does not count."""
    if row["breached"]:
        return "✗ breached" if beyond_noise(row) else "✗ breached, within noise"
    if row["value"] is None or math.isnan(row["value"]):
        return "not computed"
    return "no threshold" if row["threshold"] is None else "✓ ok"


def display(row: MetricRow) -> Row:
    """Return a summary metric row with every cell formatted for the page."""
    return Row(
        signal=SIGNAL_TITLES.get(row["signal"], row["signal"]),
        feature=str(row["feature"]),
        data_type=str(row["data_type"]),
        metric=str(row["metric"]),
        value=number(row["value"])
        + (
            f" ({row['confidence']:.0%}: {number(row['low'])} to {number(row['high'])})"
            if row.get("low") is not None
            else ""
        ),
        threshold=threshold_text(row["metric"], row["threshold"]),
        noise=threshold_text(
            row["metric"], row.get("noise_threshold") if row.get("effective_threshold") is not None else None
        ),
        status=status(row),
        breached=bool(row["breached"]),
    )


def signal_tables(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Return each signal's title and rows, breached rows first, in the usual signal order."""
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.signal, []).append(row)
    order = list(SIGNAL_TITLES.values())
    titles = sorted(grouped, key=lambda title: order.index(title) if title in order else len(order))
    return [(title, sorted(grouped[title], key=lambda row: not row.breached)) for title in titles]


def sections(
    histograms: dict[str, Histogram], rows: list[Row], meanings: dict[str, str] | None = None
) -> list[Section]:
    """Return one section per histogram, each with what its column holds when ``meanings`` says,
    columns with a breached metric first."""
    built = []
    for index, (column, histogram) in enumerate(histograms.items(), start=1):
        own = [row for row in rows if row.feature == str(column)]
        draw = numerical_chart if histogram.kind == "numerical" else categorical_chart
        chart = draw(f"chart-{index}", str(column), histogram)
        breached = any(row.breached for row in own)
        meaning = (meanings or {}).get(str(column), "")
        built.append(Section(str(column), histogram.kind, breached, chart, own, meaning))
    return sorted(built, key=lambda section: not section.breached)


def shares(counts: list[int]) -> list[float]:
    """Return each count's share of their total, or zeros when the total is zero."""
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]


def shorten(label: str) -> str:
    """Return a category label cut to LABEL_CHARS characters with an ellipsis."""
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def legend(totals: tuple[int, int]) -> tuple[list[Bar], list[Text]]:
    """Return the legend's two swatches and labels, naming each side's number of values."""
    swatches = [Bar(LEFT + 190 * i, 8, 10, 10, side) for i, side in enumerate(SIDES)]
    labels = [
        Text(LEFT + 190 * i + 14, 17, f"{side} (n = {total:,})", "start", "legend")
        for i, (side, total) in enumerate(zip(SIDES, totals, strict=True))
    ]
    return swatches, labels


def empty_sides(totals: tuple[int, int]) -> str:
    """Return a sentence per side of a chart that has no values, so that flat bars are not misread."""
    return " ".join(
        f"No {side} values: its bars are all zero."
        for side, total in zip(SIDES, totals, strict=True)
        if not total
    )


def vertical_bar(x: float, width: float, fraction: float, side: str, tip: str) -> Bar:
    """Return a bar standing on the plot's bottom, ``fraction`` of the plot's height tall."""
    height = fraction * PLOT_HEIGHT
    return Bar(
        round(x, 1), round(TOP + PLOT_HEIGHT - height, 1), round(width, 1), round(height, 1), side, tip
    )


def bin_bars(histogram: Histogram, top: float, step: float) -> list[Bar]:
    """Return two bars per bin, baseline left of production, each share drawn against ``top``."""
    edges = histogram.bins
    ranges = [f"{compact(low)} to {compact(high)}" for low, high in pairwise(edges)]
    bars = []
    for offset, (side, counts) in enumerate(
        zip(SIDES, (histogram.baseline, histogram.production), strict=True)
    ):
        for i, (count, share) in enumerate(zip(counts, shares(counts), strict=True)):
            tip = f"{ranges[i]}: {side} {percent(share)} ({count:,})"
            bars.append(
                vertical_bar(LEFT + step * (i + 0.1 + 0.4 * offset), step * 0.4, share / top, side, tip)
            )
    return bars


def share_axis(top: float) -> tuple[list[Line], list[Text]]:
    """Return the horizontal grid lines and percentage labels of a vertical share axis from 0 to ``top``."""
    heights = [round(TOP + PLOT_HEIGHT * (1 - fraction), 1) for fraction in (0.0, 0.5, 1.0)]
    lines = [Line(LEFT, y, WIDTH - RIGHT, y, "grid" if i else "axis") for i, y in enumerate(heights)]
    texts = [Text(LEFT - 6, y + 4, percent(top * i / 2), "end") for i, y in enumerate(heights)]
    return lines, texts


def edge_axis(edges: list[float], step: float) -> tuple[list[Line], list[Text]]:
    """Return tick marks and labels under every n-th bin edge (at most EDGE_TICKS + 1) and the last;
    over a range from one whole number to another (an hour's, a count's) at whole numbers instead,
    each where it falls across the equal-width bins (Azure's edges, 3.833 for hours in 6 bins, stay
    in the bars' tooltips)."""
    bins = len(edges) - 1
    bottom = TOP + PLOT_HEIGHT
    if bins > 1 and float(edges[0]).is_integer() and float(edges[-1]).is_integer():
        low, high = edges[0], edges[-1]
        values = [value for value in ticks(low, high, EDGE_TICKS, whole=True) if low <= value <= high]
        xs = [round(LEFT + step * bins * (value - low) / (high - low), 1) for value in values]
        labels = [compact(value) for value in values]
    else:
        every = max(1, math.ceil(bins / EDGE_TICKS))
        indices = [*range(0, bins, every), bins] if bins > 0 else []
        if len(indices) > 2 and bins - indices[-2] <= every / 2:
            del indices[-2]
        xs = [round(LEFT + step * i, 1) for i in indices]
        labels = [compact(edges[i]) for i in indices]
    lines = [Line(x, bottom, x, bottom + 4, "axis") for x in xs]
    return lines, [Text(x, bottom + 16, label) for x, label in zip(xs, labels, strict=True)]


def numerical_chart(chart_id: str, column: str, histogram: Histogram) -> Chart:
    """Return the two histograms of a numerical column as side-by-side bars of shares over the same bins."""
    edges, bins = histogram.bins, len(histogram.baseline)
    totals = (sum(histogram.baseline), sum(histogram.production))
    top = ceiling(max(shares(histogram.baseline) + shares(histogram.production), default=0.0))
    step = (WIDTH - LEFT - RIGHT) / max(1, bins)
    bars, texts = legend(totals)
    grid, ticks = share_axis(top)
    marks, labels = edge_axis(edges, step)
    low, high = (compact(edges[0]), compact(edges[-1])) if edges else ("", "")
    description = (
        f"Share of values in each of {bins} bins from {low} to {high}, "
        f"baseline ({totals[0]:,} values) next to production ({totals[1]:,} values)."
    )
    return Chart(
        chart_id,
        WIDTH,
        TOP + PLOT_HEIGHT + BOTTOM,
        f"{column}: baseline and production distributions",
        description,
        bars + bin_bars(histogram, top, step),
        texts + ticks + labels,
        grid + marks,
        empty_sides(totals),
    )


def categories(histogram: Histogram) -> tuple[list[tuple[str, int, int]], int]:
    """Return (label, baseline count, production count) per category to draw, the largest share on either
    side first, all but the MAX_CATEGORIES largest summed into one last row when more remain, and how many
    categories that row holds."""
    baseline, production = shares(histogram.baseline), shares(histogram.production)
    order = sorted(range(len(histogram.bins)), key=lambda i: -max(baseline[i], production[i]))
    ranked = [(str(histogram.bins[i]), histogram.baseline[i], histogram.production[i]) for i in order]
    if len(ranked) <= MAX_CATEGORIES + 1:
        return ranked, 0
    rest = ranked[MAX_CATEGORIES:]
    other = (f"({len(rest):,} others)", sum(row[1] for row in rest), sum(row[2] for row in rest))
    return [*ranked[:MAX_CATEGORIES], other], len(rest)


def category_bars(drawn: list[tuple[str, int, int]], totals: tuple[int, int], top: float) -> list[Bar]:
    """Return two horizontal bars per category, baseline above production, shares drawn against ``top``."""
    scale = (WIDTH - LABELS - RIGHT) / top
    bars = []
    for i, (label, *counts) in enumerate(drawn):
        for k, (side, count, total) in enumerate(zip(SIDES, counts, totals, strict=True)):
            share = count / total if total else 0.0
            tip = f"{label}: {side} {percent(share)} ({count:,})"
            bars.append(Bar(LABELS, TOP + ROW * i + 3 + 8 * k, round(share * scale, 1), 7, side, tip))
    return bars


def category_axis(top: float, bottom: float) -> tuple[list[Line], list[Text]]:
    """Return the vertical grid lines and percentage labels of a horizontal share axis from 0 to ``top``."""
    xs = [round(LABELS + (WIDTH - LABELS - RIGHT) * fraction, 1) for fraction in (0.0, 0.5, 1.0)]
    lines = [Line(x, TOP, x, bottom, "grid" if i else "axis") for i, x in enumerate(xs)]
    return lines, [Text(x, bottom + 14, percent(top * i / 2)) for i, x in enumerate(xs)]


def category_caption(histogram: Histogram, hidden: int, totals: tuple[int, int]) -> str:
    """Return what the chart leaves out and what it cannot show: grouped and production-only categories."""
    parts = []
    if hidden:
        parts.append(
            f"The {MAX_CATEGORIES} categories with the largest share on either side are drawn; the other "
            f"{hidden:,} of {len(histogram.bins):,} are summed in the last bar."
        )
    new = sum(
        1
        for base, production in zip(histogram.baseline, histogram.production, strict=True)
        if production and not base
    )
    if new and totals[0]:
        parts.append(f"Categories seen in production only: {new:,}.")
    return " ".join([*parts, empty_sides(totals)]).strip()


def categorical_chart(chart_id: str, column: str, histogram: Histogram) -> Chart:
    """Return the category shares of a categorical column as grouped horizontal bars, one row per category."""
    drawn, hidden = categories(histogram)
    totals = (sum(histogram.baseline), sum(histogram.production))
    top = ceiling(max(shares([row[1] for row in drawn]) + shares([row[2] for row in drawn]), default=0.0))
    bottom = TOP + ROW * len(drawn)
    bars, texts = legend(totals)
    grid, ticks = category_axis(top, bottom)
    labels = [
        Text(
            LABELS - 6,
            TOP + ROW * i + 15,
            shorten(label),
            "end",
            "other" if hidden and i == len(drawn) - 1 else "label",
        )
        for i, (label, _, _) in enumerate(drawn)
    ]
    description = (
        f"Share of values per category ({len(drawn):,} bars for {len(histogram.bins):,} categories), "
        f"baseline ({totals[0]:,} values) above production ({totals[1]:,} values)."
    )
    return Chart(
        chart_id,
        WIDTH,
        bottom + BOTTOM,
        f"{column}: baseline and production distributions",
        description,
        bars + category_bars(drawn, totals, top),
        texts + labels + ticks,
        grid,
        category_caption(histogram, hidden, totals),
    )
