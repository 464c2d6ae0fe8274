"""Inline SVG charts for the self-contained report pages (the monitoring report, the comparison
report): the shapes a chart is made of, a plot frame that maps data to the page, the round numbers
its axes print, and the chart's escaped markup."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markupsafe import Markup

# tick and axis labels: distance below the plot, and left of it
TICK_GAP, LABEL_GAP, SIDE_GAP = 16, 34, 40
# the steps of a time axis below a month, in minutes: round minutes, hours and days (midnights, UTC)
TIME_STEPS = (1, 5, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160)
MONTH_STEPS = (1, 2, 3, 6, 12)  # and above, in months (each tick the first day of a month)
MONDAY = timedelta(days=4)  # 1970-01-01 was a Thursday: week ticks fall on Mondays


@dataclass(frozen=True)
class Bar:
    """One rectangle: its box, the side it shows (the CSS class) and its tooltip."""

    x: float
    y: float
    width: float
    height: float
    side: str
    tip: str = ""


@dataclass(frozen=True)
class Text:
    """One label drawn at (x, y), turned ``angle`` degrees about that point."""

    x: float
    y: float
    text: str
    anchor: str = "middle"
    style: str = "tick"
    angle: float = 0


@dataclass(frozen=True)
class Line:
    """One axis, grid or reference line."""

    x1: float
    y1: float
    x2: float
    y2: float
    style: str = "grid"


@dataclass(frozen=True)
class Polyline:
    """Connected points (a curve, or the outline of an area), styled by CSS class, with a tooltip."""

    points: tuple[tuple[float, float], ...]
    style: str
    tip: str = ""


@dataclass(frozen=True)
class Dot:
    """One circle of radius ``r`` centred at (x, y), styled by CSS class, with a tooltip."""

    x: float
    y: float
    r: float
    style: str
    tip: str = ""


@dataclass(frozen=True)
class Chart:
    """An SVG chart ready for a page: size, accessible title and description, shapes, caption. Shapes
    are drawn lines first, then bars, polylines, dots and texts, each over the ones before."""

    id: str
    width: float
    height: float
    title: str
    description: str
    bars: list[Bar]
    texts: list[Text]
    lines: list[Line]
    caption: str
    polylines: list[Polyline] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)


@dataclass(frozen=True)
class Frame:
    """A plot area ``width`` by ``height`` whose top left corner is at (left, top), showing x from
    ``xs[0]`` to ``xs[-1]`` and y from ``ys[0]`` to ``ys[-1]`` (its tick values, ascending)."""

    left: float
    top: float
    width: float
    height: float
    xs: Sequence[float]
    ys: Sequence[float]

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width

    def x(self, value: float) -> float:
        """Return the page position of ``value`` on the x axis, to a tenth."""
        low, high = self.xs[0], self.xs[-1]
        return round(self.left + self.width * (value - low) / (high - low), 1)

    def y(self, value: float) -> float:
        """Return the page position of ``value`` on the y axis (up is larger), to a tenth."""
        low, high = self.ys[0], self.ys[-1]
        return round(self.bottom - self.height * (value - low) / (high - low), 1)

    def points(self, xs: Sequence[float], ys: Sequence[float]) -> tuple[tuple[float, float], ...]:
        """Return the page positions of the data points (xs[i], ys[i])."""
        return tuple((self.x(x), self.y(y)) for x, y in zip(xs, ys, strict=True))

    def axes(self, x_label: str, y_label: str) -> tuple[list[Line], list[Text]]:
        """Return the frame's grid lines at every tick, its two axis lines, tick labels and axis labels
        (the y label turned to read upwards)."""
        lines = [Line(self.x(x), self.top, self.x(x), self.bottom) for x in self.xs[1:]]
        lines += [Line(self.left, self.y(y), self.right, self.y(y)) for y in self.ys[1:]]
        lines += [
            Line(self.left, self.bottom, self.right, self.bottom, "axis"),
            Line(self.left, self.top, self.left, self.bottom, "axis"),
        ]
        texts = [Text(self.x(x), self.bottom + TICK_GAP, compact(x)) for x in self.xs]
        texts += [Text(self.left - 6, self.y(y) + 4, compact(y), "end") for y in self.ys]
        middle = round(self.top + self.height / 2, 1)
        texts += [
            Text(round(self.left + self.width / 2, 1), self.bottom + LABEL_GAP, x_label, style="label"),
            Text(self.left - SIDE_GAP, middle, y_label, style="label", angle=-90),
        ]
        return lines, texts


def ceiling(share: float) -> float:
    """Return the top of a share axis: the smallest 1, 2, 2.5 or 5 times a power of ten holding ``share``."""
    if share <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(share))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= share * (1 - 1e-9))


def ticks(low: float, high: float, most: int = 6, whole: bool = False) -> list[float]:
    """Return round tick values a 1, 2, 2.5 or 5 times a power of ten apart (with ``whole``, whole
    numbers: at least 1 apart, never 2.5), from the last at or below ``low`` to the first at or above
    ``high``, at most ``most`` + 2 of them; a range of one value (or none finite) is widened around it
    (around 0 to 1)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if high <= low:
        half = abs(low) / 2 or 0.5
        low, high = low - half, low + half
    step = ceiling((high - low) / most)
    if whole:
        step = 5.0 if step == 2.5 else max(step, 1.0)
    first, last = math.floor(low / step * (1 + 1e-12)), math.ceil(high / step * (1 - 1e-12))
    if first == last:
        last += 1
    return [float(f"{i * step:.12g}") + 0.0 for i in range(first, last + 1)]


def time_ticks(low: datetime, high: datetime, most: int = 7) -> list[datetime]:
    """Return round UTC times from ``low`` to ``high`` (both included), the finest of TIME_STEPS or
    MONTH_STEPS that gives at most ``most`` of them: every 5 minutes, 6 hours, midnight, Monday, first
    of the month... ``[low]`` when even a minute has none in the range."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for minutes in TIME_STEPS:
        step = timedelta(minutes=minutes)
        offset = MONDAY if minutes >= 10080 else timedelta(0)
        first = epoch + offset + step * math.ceil((low - epoch - offset) / step)
        count = math.floor((high - first) / step) + 1
        if count <= most:
            return [first + step * i for i in range(count)] or [low]
    for months in MONTH_STEPS:
        month = low.year * 12 + low.month - 1  # months since year 0, counting the one low falls in
        month += low != datetime(low.year, low.month, 1, tzinfo=UTC)  # a month starting before low
        month = months * math.ceil(month / months)
        found = []
        while (moment := datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)) <= high:
            found.append(moment)
            month += months
        if len(found) <= most:
            return found or [low]
    return [low, high]


def percent(share: float) -> str:
    """Return a share as a percentage in three significant digits."""
    return f"{share * 100:.3g}%"


def compact(edge: float) -> str:
    """Return a number in four significant digits, with k, M, G or T from 10,000 up to 10^15."""
    magnitude = abs(edge)
    if not 1e4 <= magnitude < 1e15:
        return f"{edge:.4g}"
    power, suffix = next(
        (power, suffix)
        for power, suffix in ((12, "T"), (9, "G"), (6, "M"), (3, "k"))
        if magnitude >= 10**power
    )
    return f"{edge / 10**power:.4g}{suffix}"


def markup(chart: Chart) -> Markup:
    """Return the chart as one ``<svg>`` element, its title and description referenced for screen
    readers, every text escaped."""
    from markupsafe import Markup

    def tip(text: str) -> Markup:
        return Markup("<title>{}</title>").format(text) if text else Markup("")

    parts = [
        Markup(
            '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-labelledby="{id}-title {id}-desc">'
        ).format(w=chart.width, h=chart.height, id=chart.id),
        Markup('<title id="{}-title">{}</title>').format(chart.id, chart.title),
        Markup('<desc id="{}-desc">{}</desc>').format(chart.id, chart.description),
    ]
    parts += [
        Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" class="{}"/>').format(
            line.x1, line.y1, line.x2, line.y2, line.style
        )
        for line in chart.lines
    ]
    parts += [
        Markup('<rect x="{}" y="{}" width="{}" height="{}" class="{}">{}</rect>').format(
            bar.x, bar.y, bar.width, bar.height, bar.side, tip(bar.tip)
        )
        for bar in chart.bars
    ]
    parts += [
        Markup('<polyline points="{}" class="{}">{}</polyline>').format(
            " ".join(f"{x},{y}" for x, y in polyline.points), polyline.style, tip(polyline.tip)
        )
        for polyline in chart.polylines
    ]
    parts += [
        Markup('<circle cx="{}" cy="{}" r="{}" class="{}">{}</circle>').format(
            dot.x, dot.y, dot.r, dot.style, tip(dot.tip)
        )
        for dot in chart.dots
    ]
    parts += [
        Markup('<text x="{}" y="{}" text-anchor="{}" class="{}"{}>{}</text>').format(
            text.x,
            text.y,
            text.anchor,
            text.style,
            Markup(' transform="rotate({} {} {})"').format(text.angle, text.x, text.y) if text.angle else "",
            text.text,
        )
        for text in chart.texts
    ]
    return Markup("\n").join([*parts, Markup("</svg>")])
