"""The comparison report of a training run: one self-contained HTML page (inline CSS and SVG, no script,
nothing fetched) that sets the candidate version beside the champion: the gate's verdict and reason,
every metric with the primary one's interval, which test rows were compared, the slices, the cost of
serving, and charts of both models on the compared rows (predicted against actual and residuals for a
regressor; ROC, precision-recall and calibration for a classifier).

Every input is JSON-ready data (the evaluation as ``dataclasses.asdict`` gives it, the chart data of
``mlops.evaluation.curves``), any field may be missing, None or NaN: it prints as a dash or "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from mlops.core import atomic
from mlops.evaluation.gate import Verdict
from mlops.evaluation.metrics import finite
from mlops.reports import page
from mlops.reports.svg import Chart, Dot, Frame, Line, Polyline, Text, ticks

if TYPE_CHECKING:
    from pathlib import Path

TEMPLATE = "comparison.html.j2"
MISSING = "—"
SIDES = ("champion", "candidate")  # drawing order: the candidate over the champion
SLICE_STATUSES = {
    "ok": "✓ ok",
    "worse": "✗ worse",
    "too few rows": "too few rows: reported, not gated",
    "undefined": "undefined on the slice",
    "no champion": "no champion",
}
# chart size and margins, in SVG units (CSS pixels): a square plot, or a wide one for the residuals
SQUARE, WIDE = 250, 460
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 46, 48  # the top holds two rows of legend
LEGEND_X, LEGEND_Y, LEGEND_ROW = 8, 12, 16  # the first legend entry's key, and from one row to the next
CHAR_WIDTH = 6.2  # of an 11px legend label's character, generously, to fit entries in the width
# a metric's direction (``direction``: None when unknown) in words
DIRECTION_WORDS: dict[bool | None, str] = {True: "higher is better", False: "lower is better"}
# the evaluation fields the page reads directly, as an evaluation without them has them
BLANK = {
    "champion_version": None,
    "compared_rows": None,
    "excluded_rows": 0,
    "note": "",
    "champion_error": None,
}


@dataclass(frozen=True)
class MetricRow:
    """One metric as printed: the candidate on every test row and on the compared rows, the champion,
    their difference and whether it is ``better`` or ``worse`` for the candidate (or ``same``, or
    blank when unknown), and which way the metric is better."""

    metric: str
    candidate: str
    compared: str
    champion: str
    difference: str
    judgement: str
    direction: str
    primary: bool


@dataclass(frozen=True)
class SliceRow:
    """One slice as printed, and the CSS class of its row (``breached`` when worse)."""

    name: str
    query: str
    rows: str
    candidate: str
    champion: str
    interval: str
    tolerance: str
    status: str
    style: str


@dataclass(frozen=True)
class CostRow:
    """One cost figure as printed: both models' values, the ratio and its bound, and whether the ratio
    is over the bound."""

    figure: str
    candidate: str
    champion: str
    ratio: str
    bound: str
    over: bool


@dataclass(frozen=True)
class Figure:
    """One chart of the page and the sentence under it."""

    chart: Chart
    caption: str


def render(
    name: str,
    version: str,
    task: str,
    *,
    evaluation: dict[str, Any],
    decision: dict[str, Any],
    curves: dict[str, Any],
    primary_metric: str,
) -> str:
    """Return the comparison page of candidate ``version`` of model ``name``: the gate's ``decision``
    (verdict and reason), its ``evaluation`` (``dataclasses.asdict`` of
    ``mlops.steps.evaluate.Evaluation``) and the ``curves`` of candidate and champion
    (``mlops.evaluation.curves.summarize`` of each; the champion's None without one)."""
    evaluation = {**BLANK, **(evaluation or {})}
    curves = curves or {}
    champion = evaluation.get("champion_version")
    versions = {"candidate": str(version), "champion": None if champion is None else str(champion)}
    return page.template("mlops.reports", TEMPLATE).render(
        name=name,
        version=version,
        champion=champion,
        verdict=verdict(decision or {}),
        evaluation=evaluation,
        primary_metric=primary_metric,
        metrics=metric_rows(task, primary_metric, evaluation),
        columns={
            "compared": evaluation.get("compared_metrics") is not None,
            "champion": evaluation.get("champion_metrics") is not None,
        },
        interval=interval_text(evaluation.get("interval")),
        slices=[slice_row(found) for found in evaluation.get("slices") or []],
        costs=cost_rows(evaluation.get("cost") or {}),
        figures=figures(task, curves, versions),
        figures_both=bool(curves.get("candidate") and curves.get("champion")),
    )


def write(path: Path, *arguments: Any, **named: Any) -> Path:
    """Write the comparison page of ``render``'s arguments (name, version, task, primary_metric,
    evaluation, decision, curves) to ``path`` in UTF-8, atomically; return ``path``."""
    return atomic.write(path, render(*arguments, **named))


def verdict(decision: Mapping[str, Any]) -> dict[str, str]:
    """Return the verdict's CSS class (an unknown verdict is shown as one to investigate), its words
    and the reason."""
    said = str(decision.get("verdict") or "unknown")
    known = said in set(Verdict)
    return {
        "style": said if known else Verdict.INVESTIGATE,
        "label": Verdict(said).badge if known else f"⚠ Verdict: {said}",
        "reason": str(decision.get("reason") or "No reason was given."),
    }


def shown(value: Any) -> str:
    """Return a value in four significant digits, or a dash when it is not a finite number."""
    return page.number(finite(value), MISSING)


def signed(value: Any) -> str:
    """Return a value as ``shown`` with its sign, a plus for a positive one."""
    number = finite(value)
    return f"+{shown(number)}" if number is not None and number > 0 else shown(number)


def count(value: Any) -> str:
    """Return a count of rows with thousands separators, or a dash when it is missing."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else MISSING


def interval_text(interval: Mapping[str, Any] | None) -> str:
    """Return an improvement and its interval as ``+0.012, 95% interval [+0.004, +0.02] over 4,000
    rows``, a dash for each missing part, or a dash alone without an interval."""
    if not interval:
        return MISSING
    level = finite(interval.get("level"))
    share = f"{level:.0%}" if level is not None else "unknown"
    text = f"{signed(interval.get('estimate'))}, {share} interval "
    text += f"[{signed(interval.get('low'))}, {signed(interval.get('high'))}]"
    rows = interval.get("rows")
    return f"{text} over {count(rows)} rows" if isinstance(rows, int) else text


def direction(task: str, metric: str, directions: Mapping[str, bool]) -> bool | None:
    """Return True when a larger ``metric`` is better, False when smaller is, None when unknown: the
    evaluation's recorded ``directions`` (the model's own metrics among them), else the task's."""
    from mlops.evaluation import metrics

    if metric in directions:
        return bool(directions[metric])
    try:
        return metrics.higher_is_better(task, metric)
    except KeyError:
        return None


def judgement(difference: float | None, higher_better: bool | None) -> str:
    """Return whether a difference (candidate - champion) is ``better``, ``worse`` or the ``same`` for
    the candidate, or blank when either is unknown."""
    if difference is None or higher_better is None:
        return ""
    if difference == 0:
        return "same"
    return "better" if (difference > 0) == higher_better else "worse"


def metric_rows(task: str, primary_metric: str, evaluation: Mapping[str, Any]) -> list[MetricRow]:
    """Return a row per metric, the primary one first: the candidate's difference from the champion is
    taken on the compared rows (``compared_metrics`` when rows were left out, else ``metrics``)."""
    candidate = evaluation.get("metrics") or {}
    compared = evaluation.get("compared_metrics")
    champion = evaluation.get("champion_metrics") or {}
    names = list(dict.fromkeys([primary_metric, *candidate, *champion]))
    if primary_metric not in candidate and primary_metric not in champion:
        names.remove(primary_metric)
    rows = []
    for metric in names:
        ours = finite((compared if compared is not None else candidate).get(metric))
        theirs = finite(champion.get(metric))
        difference = None if ours is None or theirs is None else ours - theirs
        higher_better = direction(task, metric, evaluation.get("directions") or {})
        rows.append(
            MetricRow(
                metric=metric,
                candidate=shown(candidate.get(metric)),
                compared=shown((compared or {}).get(metric)),
                champion=shown(theirs),
                difference=signed(difference),
                judgement=judgement(difference, higher_better),
                direction=DIRECTION_WORDS.get(higher_better, ""),
                primary=metric == primary_metric,
            )
        )
    return rows


def slice_row(found: Mapping[str, Any]) -> SliceRow:
    """Return a judged slice (``mlops.evaluation.slices.judge``) with every cell formatted for the page."""
    status = str(found.get("status") or "unknown")
    gated = found.get("gated")
    minimum = found.get("min_rows")
    rows = count(found.get("rows"))
    return SliceRow(
        name=str(found.get("name") or "unknown"),
        query=str(found.get("query") or MISSING),
        rows=f"{rows} (gated from {count(minimum)})" if isinstance(minimum, int) else rows,
        candidate=shown(found.get("candidate")),
        champion=shown(found.get("champion")),
        interval=interval_text(found.get("interval")),
        tolerance=shown(found.get("tolerance")),
        status=SLICE_STATUSES.get(status, status) + ("" if gated or status != "worse" else " (not gated)"),
        style="breached" if status == "worse" else "" if status == "ok" else "muted",
    )


def size(value: float) -> str:
    """Return a number of bytes in B, kB, MB or GB (powers of 1,000), three significant digits."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


# the cost figures in the order printed: their name on the page and their unit
FIGURES: dict[str, tuple[str, Callable[[float], str]]] = {
    "latency_p50_ms": ("latency of one row, median", lambda value: f"{shown(value)} ms"),
    "latency_p95_ms": ("latency of one row, 95th percentile", lambda value: f"{shown(value)} ms"),
    "rows_per_second": ("batch throughput", lambda value: f"{shown(value)} rows/s"),
    "size_bytes": ("model file size", size),
    "load_memory_bytes": ("memory to load", size),
}


def figure_text(figure: str, value: Any) -> str:
    """Return a cost figure's value with its unit, or a dash when it is missing."""
    number = finite(value)
    if number is None:
        return MISSING
    return FIGURES[figure][1](number) if figure in FIGURES else shown(number)


def cost_rows(cost: Mapping[str, Any]) -> list[CostRow]:
    """Return a row per cost figure either model has, the known ones first: the ratio and bound
    are looked up by the figure's bound key (``mlops.evaluation.cost.BOUNDS``) or by the figure itself; a
    ratio above its bound is ``over``."""
    from mlops.evaluation.cost import BOUNDS

    candidate, champion = cost.get("candidate") or {}, cost.get("champion") or {}
    ratios, bounds = cost.get("ratios") or {}, cost.get("bounds") or {}
    keys = {figure: key for key, (figure, _) in BOUNDS.items()}
    rows = []
    for figure in dict.fromkeys([*FIGURES, *candidate, *champion]):
        if figure not in candidate and figure not in champion:
            continue
        key = keys.get(figure, figure)
        ratio, bound = (
            finite(ratios.get(key, ratios.get(figure))),
            finite(bounds.get(key, bounds.get(figure))),
        )
        rows.append(
            CostRow(
                figure=FIGURES[figure][0] if figure in FIGURES else figure,
                candidate=figure_text(figure, candidate.get(figure)),
                champion=figure_text(figure, champion.get(figure)),
                ratio=MISSING if ratio is None else shown(ratio),
                bound=MISSING if bound is None else f"≤ {shown(bound)}",
                over=ratio is not None and bound is not None and ratio > bound,
            )
        )
    return rows


def figures(task: str, curves: Mapping[str, Any], versions: Mapping[str, str | None]) -> list[Figure]:
    """Return the charts of the task, each drawing the sides that have chart data (the champion under
    the candidate, the candidate first in the legend), or none when the candidate has none."""
    drawn = {side: curves.get(side) for side in SIDES if curves.get(side)}
    if "candidate" not in drawn:
        return []
    labels = {side: f"{side} (version {versions.get(side) or 'unknown'})" for side in reversed(drawn)}
    if task == "regression":
        return [scatter_chart(drawn, labels), residual_chart(drawn, labels)]
    return [roc_chart(drawn, labels), pr_chart(drawn, labels), calibration_chart(drawn, labels)]


def legend(labels: Mapping[str, str], marker: str, width: float) -> tuple[list[Line], list[Dot], list[Text]]:
    """Return a legend entry per side across the top of a chart ``width`` wide (a short line or a dot,
    and its label), an entry that would run past the right edge starting a second row."""
    lines, dots, texts = [], [], []
    x: float = LEGEND_X
    y: float = LEGEND_Y
    for side, label in labels.items():
        span = 24 + CHAR_WIDTH * len(label)
        if x > LEGEND_X and x + span > width:
            x, y = LEGEND_X, y + LEGEND_ROW
        if marker == "line":
            lines.append(Line(x, y, x + 18, y, f"{side} key"))
        else:
            dots.append(Dot(x + 9, y, 3.5, f"{side} key"))
        texts.append(Text(x + 24, y + 4, label, "start", "legend"))
        x += span + 16
    return lines, dots, texts


def sides_text(labels: Mapping[str, str]) -> str:
    """Return the sides a chart draws, in words: ``candidate (version 7) and champion (version 6)``."""
    return " and ".join(labels.values())


def unit_frame() -> Frame:
    """Return a square plot frame from 0 to 1 on both axes, ticks every 0.2."""
    steps = [i / 5 for i in range(6)]
    return Frame(LEFT, TOP, SQUARE, SQUARE, steps, steps)


def curve_chart(
    chart_id: str,
    title: str,
    description: str,
    frame: Frame,
    axes: tuple[str, str],
    labels: Mapping[str, str],
    reference: Line | None,
    curves: Mapping[str, Sequence[tuple[float, float]]],
    dots: Sequence[Dot] = (),
    kind: str = "curve",
) -> Chart:
    """Return a chart in ``frame`` with its axes, a dashed ``reference`` line, one polyline per side
    (page positions; a ``curve``, or the outline of an ``area``), ``dots``, and the legend (a dot per
    side when there is no polyline, else a short line)."""
    grid, texts = frame.axes(*axes)
    keys, swatches, names = legend(labels, "line" if curves else "dot", frame.right + RIGHT)
    polylines = [Polyline(tuple(points), f"{side} {kind}") for side, points in curves.items() if points]
    return Chart(
        chart_id,
        frame.right + RIGHT,
        frame.bottom + BOTTOM,
        title,
        description,
        [],
        texts + names,
        grid + ([reference] if reference else []) + keys,
        "",
        polylines,
        [*swatches, *dots],
    )


def missing_sides(data: Mapping[str, Any], part: str, labels: Mapping[str, str], why: str) -> str:
    """Return a sentence naming the sides whose chart data lack ``part``, and ``why``."""
    lacking = [labels[side] for side in labels if not (data[side] or {}).get(part)]
    return f"No curve for the {' and the '.join(lacking)}: {why}." if lacking else ""


def class_text(data: Mapping[str, Any]) -> str:
    """Return the positive class and the rows of a classifier's chart data, in words."""
    candidate = data["candidate"]
    return (
        f"class {candidate.get('positive', 'unknown')} against the rest "
        f"({count(candidate.get('positives'))} of {count(candidate.get('rows'))} rows)"
    )


def roc_chart(data: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """Return the ROC curves (true against false positive rate), with the diagonal of a random guess."""
    frame = unit_frame()
    curves = {side: frame.points(*pair(data[side], "roc", "fpr", "tpr")) for side in data}
    description = (
        f"ROC curve of {class_text(data)}: true positive rate against false positive rate for the "
        f"{sides_text(labels)}; the dashed diagonal is a random guess."
    )
    axes = ("false positive rate", "true positive rate")
    chart = curve_chart("roc", "ROC curve", description, frame, axes, labels, diagonal(frame), curves)
    return Figure(chart, missing_sides(data, "roc", labels, "the rows hold one class only"))


def pr_chart(data: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """Return the precision-recall curves, with the horizontal line of a random guess's precision (the
    share of positive rows)."""
    frame = unit_frame()
    curves = {side: frame.points(*pair(data[side], "pr", "recall", "precision")) for side in data}
    rows, positives = data["candidate"].get("rows"), data["candidate"].get("positives")
    chance = None
    if isinstance(rows, int) and isinstance(positives, int) and rows:
        height = frame.y(positives / rows)
        chance = Line(frame.left, height, frame.right, height, "reference")
    description = (
        f"Precision-recall curve of {class_text(data)} for the {sides_text(labels)}; the dashed line "
        f"is a random guess's precision, the share of positive rows."
    )
    axes = ("recall", "precision")
    chart = curve_chart("pr", "Precision-recall curve", description, frame, axes, labels, chance, curves)
    return Figure(chart, missing_sides(data, "pr", labels, "the rows hold no positive row"))


def calibration_chart(data: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """Return the calibration curves (observed positive fraction against mean predicted probability
    per bin, a dot per bin with its rows in the tooltip), with the diagonal of perfect calibration."""
    frame = unit_frame()
    curves, dots = {}, []
    for side in data:
        bins = data[side].get("calibration") or {}
        held = [
            (p, o, n)
            for p, o, n in zip(
                *(bins.get(key) or [] for key in ("predicted", "observed", "count")), strict=False
            )
            if finite(p) is not None and finite(o) is not None
        ]
        curves[side] = [(frame.x(p), frame.y(o)) for p, o, _ in held]
        dots += [
            Dot(x, y, 3, side, f"{side}: mean predicted {shown(p)}, observed {shown(o)} ({count(n)} rows)")
            for (x, y), (p, o, n) in zip(curves[side], held, strict=True)
        ]
    description = (
        f"Calibration of {class_text(data)}: the observed share of positive rows against the mean "
        f"predicted probability in each tenth of the probability that holds rows, for the "
        f"{sides_text(labels)}; the dashed diagonal is perfect calibration."
    )
    axes = ("mean predicted probability", "observed positive fraction")
    chart = curve_chart(
        "calibration", "Calibration", description, frame, axes, labels, diagonal(frame), curves, dots
    )
    return Figure(chart, "A dot per tenth of the predicted probability that holds rows; hover for its rows.")


def diagonal(frame: Frame) -> Line:
    """Return the dashed line where y equals x, across a frame with the same range on both axes."""
    return Line(frame.left, frame.bottom, frame.right, frame.top, "reference")


def pair(data: Mapping[str, Any] | None, part: str, x: str, y: str) -> tuple[list[float], list[float]]:
    """Return the x and y lists of one curve of the chart data, as long as each other (empty when
    missing), with the points that are not finite numbers left out."""
    curve = (data or {}).get(part) or {}
    found = ((finite(a), finite(b)) for a, b in zip(curve.get(x) or [], curve.get(y) or [], strict=False))
    kept = [(a, b) for a, b in found if a is not None and b is not None]
    return [a for a, _ in kept], [b for _, b in kept]


def scatter_chart(data: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """Return the sampled (actual, predicted) points of each side on the same scale on both axes, with
    the diagonal of a perfect prediction."""
    points = {side: pair(data[side], "points", "actual", "predicted") for side in data}
    values = [value for xs, ys in points.values() for value in (*xs, *ys)]
    scale = ticks(min(values, default=0.0), max(values, default=1.0), 5)
    frame = Frame(LEFT, TOP, SQUARE, SQUARE, scale, scale)
    dots = [
        Dot(x, y, 2, f"{side} point") for side, (xs, ys) in points.items() for x, y in frame.points(xs, ys)
    ]
    sampled = "; ".join(
        f"{labels[side]}: {len(points[side][0]):,} of {count(data[side].get('rows'))} rows" for side in labels
    )
    description = (
        f"Predicted against actual value of a seeded sample of rows ({sampled}); the dashed diagonal is "
        f"a perfect prediction."
    )
    chart = curve_chart(
        "scatter",
        "Predicted against actual",
        description,
        frame,
        ("actual", "predicted"),
        labels,
        diagonal(frame),
        {},
        dots,
    )
    return Figure(chart, f"A seeded sample of rows ({sampled}).")


def densities(data: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """Return a residual histogram's bin edges and each bin's density (its share of rows over its
    width), so that histograms whose bins differ compare by area; both empty when it is missing."""
    residuals = data.get("residuals") or {}
    edges, counts = residuals.get("edges") or [], residuals.get("counts") or []
    total = sum(counts)
    if len(edges) != len(counts) + 1 or not total:
        return [], []
    return edges, [
        n / total / (high - low) if high > low else 0.0
        for n, (low, high) in zip(counts, pairwise(edges), strict=True)
    ]


def outline(edges: Sequence[float], heights: Sequence[float]) -> tuple[list[float], list[float]]:
    """Return the outline of a histogram: up at the first edge, across each bin, down at the last."""
    if not heights:
        return [], []
    xs = [edges[0], *(edge for bounds in pairwise(edges) for edge in bounds), edges[-1]]
    ys = [0.0, *(height for height in heights for _ in (0, 1)), 0.0]
    return xs, ys


def residual_chart(data: Mapping[str, Any], labels: Mapping[str, str]) -> Figure:
    """Return each side's residual (predicted - actual) histogram as an outlined area of density, the
    two overlaid on one scale, with a dashed line at zero."""
    found = {side: densities(data[side]) for side in data}
    edges = [edge for bins, _ in found.values() for edge in bins]
    heights = [height for _, bins in found.values() for height in bins]
    frame = Frame(
        LEFT,
        TOP,
        WIDE,
        SQUARE,
        ticks(min(edges, default=-1.0), max(edges, default=1.0)),
        ticks(0.0, max(heights, default=1.0), 4),
    )
    curves = {side: frame.points(*outline(*found[side])) for side in data}
    zero = (
        Line(frame.x(0), frame.top, frame.x(0), frame.bottom, "reference")
        if frame.xs[0] < 0 < frame.xs[-1]
        else None
    )
    description = (
        f"Histogram of the residuals (predicted - actual) of the {sides_text(labels)}, each in "
        f"{max(len(bins) for _, bins in found.values())} bins over its own range, drawn as density "
        f"(share of rows per unit of residual) so the areas compare; the dashed line is zero."
    )
    chart = curve_chart(
        "residuals",
        "Residuals",
        description,
        frame,
        ("residual (predicted - actual)", "density"),
        labels,
        zero,
        curves,
        kind="area",
    )
    return Figure(chart, missing_sides(data, "residuals", labels, "no finite residual"))
