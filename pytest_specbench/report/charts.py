"""SVG charts computed in Python: the template only draws the shapes placed here.

Every chart is horizontal bars (or min–max spans) with its labels and numbers as SVG
text, so it reads without the page's script and without colour.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bar", "Chart", "Interval", "Span", "bar_chart", "interval_chart", "spread_chart"]

LABEL_WIDTH = 220
PLOT_WIDTH = 360
ROW_HEIGHT = 22
BAR_HEIGHT = 14


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its row's label, the value's text and the rectangle."""

    label: str
    text: str
    y: float
    width: float
    kind: str = ""
    """A CSS class: the series the bar belongs to."""


@dataclass(frozen=True, slots=True)
class Span:
    """One min–max span with its mean, in plot coordinates."""

    label: str
    text: str
    y: float
    low: float
    mean: float
    high: float


@dataclass(frozen=True, slots=True)
class Interval:
    """One change against a baseline: its interval (when it has one), its estimate and the
    tolerance, in plot coordinates around `zero` (no change)."""

    label: str
    text: str
    y: float
    estimate: float
    low: float | None
    high: float | None
    zero: float
    margin: float | None
    """Where the tolerance δ lies on the worse side; None when the metric is not gated."""
    kind: str
    """A CSS class: the verdict (`regressed`, `no-regression`, `inconclusive`, ...)."""


@dataclass(frozen=True, slots=True)
class Chart:
    """A drawn chart: its size, its bars or spans, and a one-line caption."""

    title: str
    width: int
    height: int
    bars: tuple[Bar, ...] = ()
    spans: tuple[Span, ...] = ()
    intervals: tuple[Interval, ...] = ()
    label_width: int = LABEL_WIDTH

    @property
    def empty(self) -> bool:
        """Nothing to draw (the template says so in words instead)."""
        return not self.bars and not self.spans and not self.intervals


def bar_chart(title: str, rows: list[tuple[str, float | None, str]], notes: list[str] | None = None) -> Chart:
    """Bars for `(label, value, kind)` rows, scaled to the largest value; None draws no bar.

    `notes`, one per row, follow the value's text (e.g. a change against a baseline).
    """
    top = max((v for _, v, _ in rows if v is not None), default=0) or 1
    notes = notes or [""] * len(rows)
    bars = tuple(
        Bar(label, f"{_number(value)} {note}".strip(), _row_y(i), (value or 0) / top * PLOT_WIDTH, kind)
        for i, ((label, value, kind), note) in enumerate(zip(rows, notes, strict=True))
    )
    return Chart(title, LABEL_WIDTH + PLOT_WIDTH + 110, _height(len(rows)), bars=bars)


def spread_chart(title: str, rows: list[tuple[str, float, float, float]]) -> Chart:
    """Spans for `(label, low, mean, high)` rows on one scale from 0 to the largest high."""
    top = max((high for *_, high in rows), default=0) or 1
    spans = tuple(
        Span(
            label,
            f"{_number(mean)} ({_number(low)}–{_number(high)})",
            _row_y(i),
            low / top * PLOT_WIDTH,
            mean / top * PLOT_WIDTH,
            high / top * PLOT_WIDTH,
        )
        for i, (label, low, mean, high) in enumerate(rows)
    )
    return Chart(title, LABEL_WIDTH + PLOT_WIDTH + 120, _height(len(rows)), spans=spans)


IntervalRow = tuple[str, str, float, float | None, float | None, float | None, str]
"""(label, text, estimate, low, high, worse-side tolerance, kind), changes as signed fractions."""


def interval_chart(title: str, rows: list[IntervalRow]) -> Chart:
    """Changes against a baseline on one scale centred on no change: each row's interval as a
    line, its estimate as a dot and its tolerance as a tick, so a regression reads as an
    interval wholly past its tick."""
    reach = [abs(v) for _, _, *values, _ in rows for v in values if v is not None]
    half = PLOT_WIDTH / 2
    extent = max([*reach, 0.05]) * 1.1

    def x(value: float | None) -> float | None:
        return None if value is None else half + value / extent * half

    intervals = tuple(
        Interval(label, text, _row_y(i), half + estimate / extent * half, x(low), x(high), half, x(tol), kind)
        for i, (label, text, estimate, low, high, tol, kind) in enumerate(rows)
    )
    return Chart(title, LABEL_WIDTH + PLOT_WIDTH + 420, _height(len(rows)), intervals=intervals)


def _row_y(index: int) -> float:
    return 6 + index * ROW_HEIGHT


def _height(rows: int) -> int:
    return 12 + rows * ROW_HEIGHT


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
