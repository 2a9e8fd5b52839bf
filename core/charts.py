"""Charts drawn server-side as inline SVG: no scripts, no fonts to fetch, printable.

Each function returns a complete <svg> element, escaped, ready for a template. A value
axis is labelled at round ("nice") values inside the data's range — steps of 1, 2, 2.5 or
5 × 10^k, 3 to 6 of them — written with as many decimals as tell neighbours apart, in the
fund-finance way (350k, 1.2M, 1.1bn). A dated axis is labelled where a day, week, month,
quarter or year starts, the finest whose labels do not crowd. Each point (each day of a
backtest) has a hit area carrying its date and value (`data-date`, `data-value`) and a
`<title>` with both: the admin's script shows them on hover, a page without it (the
morning pack's) shows the title.
"""

import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

FONT = 'font-family="system-ui, sans-serif" font-size="11"'
SMALL_FONT = 'font-family="system-ui, sans-serif" font-size="9"'
SUFFIXES = ((9, "bn"), (6, "M"), (3, "k"))  # a power of ten and how it is written
MANTISSAS = (1, 2, 25, 5)  # the nice steps' digits: 1, 2, 2.5 (25 × 10^(k−1)) and 5
MOST_TICKS = 6  # the smallest step with no more always gives 3 or more
MOST_PLACES = 3  # decimals of a label: beyond, a smaller suffix (1,057.02M)
MARKER_COLOUR = "#8a5a00"


def _number(value: float) -> str:
    magnitude = abs(value)
    for power, suffix in SUFFIXES:
        if magnitude >= 10.0**power:
            return f"{value / 10.0**power:,.1f}{suffix}"
    return f"{value:,.0f}" if magnitude >= 10 else f"{value:,.2f}"


@dataclass(frozen=True)
class Tick:
    value: float
    label: str


def _suffix(magnitude: float, finest: int = 0) -> tuple[int, str]:
    """The suffix (and its power of ten) a value of this size is written in, but none of a
    power above `finest`: 1.2e9 → (9, "bn"); with `finest` 8, (6, "M"). So 1,057.02M is
    not written 1.05702bn."""
    for power, suffix in SUFFIXES:
        if magnitude >= 10.0**power and power <= finest:
            return power, suffix
    return 0, ""


def _labelled(multiples: Sequence[int], digits: int, exponent: int) -> list[Tick]:
    """Ticks at multiple × digits × 10^exponent, labelled in the suffix of the largest with
    the decimals the step needs (exactly: decimals, not floats, make the text); zero is "0"
    beside a suffix ("0M" would say nothing more)."""
    exact = [Decimal(m * digits).scaleb(exponent) for m in multiples]
    most_places = MOST_PLACES + (1 if digits == 25 else 0)  # 2.5: one more digit
    power, suffix = _suffix(float(max(abs(v) for v in exact)), exponent + most_places)
    places = max(power - exponent, 0)
    return [
        Tick(float(v), f"{v.scaleb(-power):,.{places}f}{suffix}" if v or not suffix else "0")
        for v in exact
    ]


def nice_ticks(low: float, high: float) -> list[Tick]:
    """Round values inside [low, high] for a value axis: the smallest step of 1, 2, 2.5 or
    5 × 10^k that gives at most 6 ticks (which is then always at least 3). A range of no
    width (a flat series, a single point) has one tick, at its value; no range, none."""
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return []
    if low == high:
        if low == 0:
            return [Tick(0.0, "0")]
        # To four significant digits, without trailing zeros: 1,057,123,456 → 1.057bn.
        exponent = math.floor(math.log10(abs(low))) - 3
        exact = Decimal(round(low / 10.0**exponent)).scaleb(exponent)
        power, suffix = _suffix(abs(low), exponent + MOST_PLACES)
        shown = exact.scaleb(-power).normalize()
        places = max(-int(shown.as_tuple().exponent), 0)
        return [Tick(low, f"{shown:,.{places}f}{suffix}")]
    exponent = math.floor(math.log10(high - low)) - 2  # steps from a hundredth of the span
    while True:
        for digits in MANTISSAS:
            step_exponent = exponent - 1 if digits == 25 else exponent
            step = digits * 10.0**step_exponent
            # A tolerance for the float division: a bound that is itself a tick stays in.
            first = math.ceil(low / step - 1e-9)
            last = math.floor(high / step + 1e-9)
            if last - first + 1 <= MOST_TICKS:
                return _labelled(range(first, last + 1), digits, step_exponent)
        exponent += 1


def _value_axis(low: float, high: float, y: Callable[[float], float], left: int, end: int) -> str:
    """The grid lines of a value axis from `left` to `end`, labelled at nice ticks."""
    return "".join(
        f'<line class="tick" x1="{left}" x2="{end}" y1="{y(t.value):.1f}" y2="{y(t.value):.1f}" '
        f'stroke="#e3e3e3"/><text x="{left - 4}" y="{y(t.value) + 4:.1f}" text-anchor="end" '
        f"{FONT}>{escape(t.label)}</text>"
        for t in nice_ticks(low, high)
    )


Marker = tuple[int | str, str]  # (the point's index or label, a short text)


def _marker_indexes(labels: Sequence[str], markers: Sequence[Marker]) -> list[tuple[int, str]]:
    """Each marker's point index; those at a label or index the chart has not are left out."""
    position = {label: i for i, label in reversed(list(enumerate(labels)))}  # first wins
    found = []
    for at, text in markers:
        index = position.get(at) if isinstance(at, str) else at
        if index is not None and 0 <= index < len(labels):
            found.append((index, text))
    return found


def _notes(marks: Sequence[tuple[int, str]]) -> dict[int, str]:
    """The markers' texts by point, those of one point joined: "redemption 80,000; …"."""
    notes: dict[int, str] = {}
    for index, text in marks:
        notes[index] = f"{notes[index]}; {text}" if index in notes else text
    return notes


@dataclass(frozen=True)
class _Plot:
    """Where a line chart draws: its size, its margins and the range of its values, which
    place a point's index across and its value up."""

    width: int
    height: int
    top: int
    low: float
    high: float
    points: int
    left: int = 64
    right: int = 12
    bottom: int = 24

    @property
    def end(self) -> int:
        return self.width - self.right

    def x(self, index: int) -> float:
        step = (self.width - self.left - self.right) / max(self.points - 1, 1)
        return self.left + index * step

    def y(self, value: float) -> float:
        top, plot_height = self.top, self.height - self.top - self.bottom
        if self.high == self.low:  # a flat series (or a single point): across the middle
            return top + plot_height / 2
        return top + (self.high - value) / (self.high - self.low) * plot_height


def _marker(plot: _Plot, n: int, index: int, label: str, text: str) -> str:
    """The `n`th marker, at point `index`: a dashed vertical line, its text above (on two
    alternating rows, so that neighbours do not overlap) and as its tooltip."""
    at = plot.x(index)
    anchor = "start" if at < (plot.left + plot.end) / 2 else "end"
    nudge = 2 if anchor == "start" else -2
    return (
        f'<g class="marker"><title>{escape(label)}: {escape(text)}</title>'
        f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{plot.top - 4}" '
        f'y2="{plot.height - plot.bottom}" stroke="{MARKER_COLOUR}" stroke-dasharray="2,2"/>'
        f'<text x="{at + nudge:.1f}" y="{10 + (n % 2) * 10}" text-anchor="{anchor}" '
        f'fill="{MARKER_COLOUR}" {SMALL_FONT}>{escape(text)}</text></g>'
    )


def _line(plot: _Plot, values: Sequence[float]) -> str:
    """The series: a line through its points, or a dot when it has one."""
    if len(values) == 1:
        return f'<circle cx="{plot.x(0):.1f}" cy="{plot.y(values[0]):.1f}" r="3" fill="#1f5fa8"/>'
    points = " ".join(f"{plot.x(i):.1f},{plot.y(v):.1f}" for i, v in enumerate(values))
    return f'<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{points}"/>'


def _end_labels(plot: _Plot, labels: Sequence[str]) -> str:
    """The first label under the left end of the axis and the last under the right end:
    the axis of labels that are not dates."""
    baseline = plot.height - 6
    first = f'<text x="{plot.left}" y="{baseline}" {FONT}>{escape(labels[0])}</text>'
    if len(labels) == 1:
        return first
    return (
        f'{first}<text x="{plot.end}" y="{baseline}" text-anchor="end" {FONT}>'
        f"{escape(labels[-1])}</text>"
    )


DATE_LABEL_GAP = 60  # px between two date labels' middles: "Mar 2024" is about 48 wide


def _quarter(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3


# Where a dated axis may be labelled, finest first: what changes when a period starts and
# how its first day is written (a month's name alone, but with its year in January).
DATE_PERIODS: tuple[tuple[Callable[[dt.date], object], str], ...] = (
    (lambda day: day, "%d %b"),
    (lambda day: day.isocalendar()[:2], "%d %b"),
    (lambda day: (day.year, day.month), "%b"),
    (_quarter, "%b"),
    (lambda day: day.year, "%Y"),
)


def _dates(labels: Sequence[str]) -> list[dt.date] | None:
    """The labels as dates, when they all are (ISO 8601); else None."""
    try:
        return [dt.date.fromisoformat(label) for label in labels]
    except ValueError:
        return None


def _period_starts(dates: Sequence[dt.date], spacing: float) -> tuple[list[int], str]:
    """The points that start a period — the finest whose starts stay DATE_LABEL_GAP apart
    on an axis of points `spacing` px apart — and how such a start is written."""
    for key, style in DATE_PERIODS:
        starts = [i for i in range(1, len(dates)) if key(dates[i]) != key(dates[i - 1])]
        if all((b - a) * spacing >= DATE_LABEL_GAP for a, b in itertools.pairwise(starts)):
            return starts, style
    return starts, style  # years too close: a point per year drawn below a label's width


def date_ticks(dates: Sequence[dt.date], spacing: float) -> list[tuple[int, str]]:
    """Where a dated axis of points `spacing` px apart is labelled, and with what: the
    points that start a day, week, month, quarter or year (`_period_starts`), and the first
    point when there is room before them. The first label carries its year, and so does a
    month's in January ("Mar 2024", "Apr", …, "Jan 2025")."""
    starts, style = _period_starts(dates, spacing)
    if not starts or starts[0] * spacing >= DATE_LABEL_GAP:
        starts.insert(0, 0)
    ticks = []
    for n, index in enumerate(starts):
        day = dates[index]
        text = day.strftime(style).lstrip("0")
        january = style == "%b" and day.month == 1
        if style != "%Y" and (n == 0 or january):
            text = f"{text} {day.year}"
        ticks.append((index, text))
    return ticks


def _date_axis(
    x: Callable[[int], float], dates: Sequence[dt.date], spacing: float, bottom: float, width: int
) -> str:
    """The dated axis under a plot whose bottom edge is at `bottom`: a tick and a label at
    each of `date_ticks`, kept inside the chart at its right end."""
    parts = []
    for index, text in date_ticks(dates, spacing):
        at = x(index)
        anchor = "end" if at > width - 30 else "middle"
        parts.append(
            f'<line class="date-tick" x1="{at:.1f}" x2="{at:.1f}" y1="{bottom:.1f}" '
            f'y2="{bottom + 4:.1f}" stroke="#999"/><text class="date" x="{at:.1f}" '
            f'y="{bottom + 16:.1f}" text-anchor="{anchor}" {FONT}>{escape(text)}</text>'
        )
    return "".join(parts)


def _hit(x: float, width: float, top: float, height: float, date: str, value: str) -> str:
    """A point's hover area: a transparent column carrying its date and value, and a
    `<title>` with both for a page without the admin's script."""
    return (
        f'<rect class="hit" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}" fill="#000" fill-opacity="0" data-date="{escape(date)}" '
        f'data-value="{escape(value)}"><title>{escape(date)}: {escape(value)}</title></rect>'
    )


def _hits(
    plot: _Plot,
    labels: Sequence[str],
    values: Sequence[float],
    text: Callable[[float], str],
    notes: dict[int, str],
) -> str:
    """A hover area a point wide around each point of a line chart; a point with a marker
    says its text too (the area lies over the marker's own tooltip)."""
    step = (plot.end - plot.left) / max(plot.points - 1, 1)
    return "".join(
        _hit(
            plot.x(i) - step / 2,
            step,
            plot.top,
            plot.height - plot.top - plot.bottom,
            label,
            text(value) + (f" · {notes[i]}" if i in notes else ""),
        )
        for i, (label, value) in enumerate(zip(labels, values, strict=True))
    )


def amount(value: float) -> str:
    """A value on hover: an amount to the cent, with separators."""
    return f"{value:,.2f}"


def _x_axis(plot: _Plot, labels: Sequence[str]) -> str:
    """Dates along the axis where the labels are dates, else the first and last labels."""
    dates = _dates(labels)
    if dates is None:
        return _end_labels(plot, labels)
    spacing = (plot.end - plot.left) / max(plot.points - 1, 1)
    return _date_axis(plot.x, dates, spacing, plot.height - plot.bottom, plot.width)


def line_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    width: int = 640,
    height: int = 200,
    markers: Sequence[Marker] = (),
    value_text: Callable[[float], str] = amount,
) -> SafeString:
    """A line through `values` (one per label) on a value axis of nice ticks, the labels
    under it (dated where they are dates), each point's label and value (`value_text`) on
    hover. `markers` — (index or label, text) — are drawn as vertical marks at those
    points with the text above (and as their tooltip): capital flows, say."""
    if not values:
        return format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">'
            '<text x="4" y="24" fill="#777" {}>no data</text></svg>',
            width,
            40,
            mark_safe(FONT),
        )
    marks = _marker_indexes(labels, markers)
    top = 28 if marks else 12  # room for the markers' texts
    plot = _Plot(width, height, top, min(values), max(values), len(values))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" class="pms-chart">',
        _value_axis(plot.low, plot.high, plot.y, plot.left, plot.end),
        *(_marker(plot, n, i, labels[i], text) for n, (i, text) in enumerate(marks)),
        _line(plot, values),
        _x_axis(plot, labels) if labels else "",
        _hits(plot, labels, values, value_text, _notes(marks)) if labels else "",
        "</svg>",
    ]
    return mark_safe("".join(parts))  # every value above is a number or escaped


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, width: int = 640, bar: int = 18
) -> SafeString:
    """Horizontal bars from a zero line: positive to the right (green), negative to the left."""
    longest = max((len(label) for label in labels), default=0)
    # Room for the longest label (about 6.5 px a character at 11 px), up to a third.
    label_width, value_width, gap = min(max(60, round(6.5 * longest) + 10), width // 3), 64, 4
    height = max(len(values), 1) * (bar + gap) + gap
    plot = width - label_width - value_width
    reach = max((abs(v) for v in values), default=1.0) or 1.0
    has_negative = any(v < 0 for v in values)
    zero = label_width + (plot / 2 if has_negative else 0)
    scale = (plot / 2 if has_negative else plot) / reach
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = gap + i * (bar + gap)
        length = abs(value) * scale
        x = zero - length if value < 0 else zero
        colour = "#b8322a" if value < 0 else "#2a7d3f"
        parts.append(
            f'<text x="{label_width - 6}" y="{top + bar - 5}" text-anchor="end" {FONT}>'
            f"{escape(label)}</text>"
            f'<rect x="{x:.1f}" y="{top}" width="{max(length, 0.5):.1f}" height="{bar}" '
            f'fill="{colour}"/>'
            f'<text x="{width - 4}" y="{top + bar - 5}" text-anchor="end" {FONT}>'
            f"{escape(_number(value))}</text>"
        )
    parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="{height}" stroke="#555"/></svg>')
    return mark_safe("".join(parts))  # every value above is a number or escaped


STATUS_COLOURS = {"ok": "#2a7d3f", "warning": "#d08a00", "breach": "#b8322a"}


def utilization_chart(
    labels: Sequence[str],
    utilizations: Sequence[float | None],
    statuses: Sequence[str],
    *,
    width: int = 640,
    bar: int = 14,
) -> SafeString:
    """Limit utilization as bars from 0, coloured by status, with the limit (100%) marked."""
    label_width, value_width, gap = 180, 60, 4
    height = max(len(labels), 1) * (bar + gap) + gap + 14
    plot = width - label_width - value_width
    top_value = max([1.2, *(u for u in utilizations if u is not None)])
    scale = plot / top_value
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    for i, (label, value, status) in enumerate(zip(labels, utilizations, statuses, strict=True)):
        top = gap + i * (bar + gap)
        length = (value or 0.0) * scale
        shown = "n/a" if value is None else f"{value:.0%}"
        parts.append(
            f'<text x="{label_width - 6}" y="{top + bar - 3}" text-anchor="end" {FONT}>'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{top}" width="{max(length, 0.5):.1f}" height="{bar}" '
            f'fill="{STATUS_COLOURS.get(status, "#888")}"/>'
            f'<text x="{width - 4}" y="{top + bar - 3}" text-anchor="end" {FONT}>{shown}</text>'
        )
    limit_x = label_width + scale
    parts.append(
        f'<line x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="0" y2="{height - 14}" stroke="#555" '
        f'stroke-dasharray="4,2"/><text x="{limit_x:.1f}" y="{height - 2}" text-anchor="middle" '
        f"{FONT}>limit</text></svg>"
    )
    return mark_safe("".join(parts))  # every value above is a number or escaped


def _backtest_day(pnl: float, var: float, exception: bool) -> str:
    """A backtest day on hover: its P&L and VaR, or its loss beyond the VaR."""
    if exception:
        return f"loss {-pnl:,.2f} beyond VaR {var:,.2f} (exception)"
    return f"P&L {pnl:,.2f} · VaR {var:,.2f}"


def _bar(x: float, edge: float, zero: float, width: float, value: float) -> str:
    """A day's P&L as a bar from the zero line to `edge`: green, red for a loss."""
    return (
        f'<rect x="{x - width / 2:.1f}" y="{min(edge, zero):.1f}" width="{width:.1f}" '
        f'height="{max(abs(edge - zero), 0.5):.1f}" '
        f'fill="{"#b8322a" if value < 0 else "#2a7d3f"}" fill-opacity="0.55"/>'
    )


def backtest_chart(
    labels: Sequence[str],
    pnl: Sequence[float],
    var: Sequence[float],
    exceptions: Sequence[bool],
    *,
    width: int = 1000,
    height: int = 260,
) -> SafeString:
    """A VaR backtest: each day's P&L as a bar from zero (green, red for a loss), the VaR
    as a loss line below zero, each exception (a loss beyond the VaR) as a red dot; a dated
    axis, and each day's date, P&L and VaR (an exception's loss) on hover."""
    if not pnl:
        return line_chart(labels, [], width=width, height=height)
    low = min(min(pnl), -max(var), 0.0)
    high = max(max(pnl), 0.0)
    # `_Plot` places the value up; a bar's middle is at (i + 0.5) steps of the width.
    plot = _Plot(width, height, 12, low, high if high > low else low + 1.0, len(pnl))
    step = (plot.end - plot.left) / len(pnl)
    bar = max(step * 0.7, 1.0)

    def x(index: int) -> float:
        return plot.left + (index + 0.5) * step

    zero = plot.y(0.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" class="pms-chart">',
        _value_axis(plot.low, plot.high, plot.y, plot.left, plot.end),
        *(_bar(x(i), plot.y(value), zero, bar, value) for i, value in enumerate(pnl)),
    ]
    points = " ".join(f"{x(i):.1f},{plot.y(-v):.1f}" for i, v in enumerate(var))
    parts.append(
        f'<polyline class="var" fill="none" stroke="#d08a00" stroke-width="1.5" points="{points}"/>'
    )
    for i in (i for i, hit in enumerate(exceptions) if hit):
        parts.append(
            f'<circle class="exception" cx="{x(i):.1f}" cy="{plot.y(pnl[i]):.1f}" r="3.5" '
            f'fill="#b8322a"><title>{escape(labels[i])}: '
            f"{escape(_backtest_day(pnl[i], var[i], True))}</title></circle>"
        )
    parts.append(
        f'<line x1="{plot.left}" x2="{plot.end}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#555"/>'
    )
    dates = _dates(labels)
    bottom = plot.height - plot.bottom
    parts.append(
        _end_labels(plot, labels) if dates is None else _date_axis(x, dates, step, bottom, width)
    )
    parts += [
        _hit(x(i) - step / 2, step, plot.top, bottom - plot.top, labels[i], _backtest_day(*day))
        for i, day in enumerate(zip(pnl, var, exceptions, strict=True))
    ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is a number or escaped
