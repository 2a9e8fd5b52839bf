"""Charts drawn server-side as inline SVG: no scripts, no fonts to fetch, printable.

Each function returns a complete <svg> element, escaped, ready for a template.
"""

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _number(value: float) -> str:
    magnitude = abs(value)
    for limit, suffix in ((1e9, "bn"), (1e6, "mm"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}" if magnitude >= 10 else f"{value:,.2f}"


def line_chart(
    labels: Sequence[str], values: Sequence[float], *, width: int = 640, height: int = 200
) -> SafeString:
    """A line through `values` (one per label), with the first, last, min and max marked."""
    if not values:
        return format_html('<svg width="{}" height="{}" role="img"></svg>', width, 40)
    left, right, top, bottom = 64, 12, 12, 24
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    step = (width - left - right) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return top + (high - value) / span * (height - top - bottom)

    points = " ".join(f"{left + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">',
        f'<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{points}"/>',
    ]
    for value in {high, low}:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ccc" stroke-dasharray="3,3"/>'
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end" {FONT}>'
            f"{escape(_number(value))}</text>"
        )
    parts.append(
        f'<text x="{left}" y="{height - 6}" {FONT}>{escape(labels[0])}</text>'
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" {FONT}>'
        f"{escape(labels[-1])}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value above is a number or escaped


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, width: int = 640, bar: int = 18
) -> SafeString:
    """Horizontal bars from a zero line: positive to the right (green), negative to the left."""
    label_width, value_width, gap = min(140, width // 3), 64, 4
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
