"""The morning pack's charts as PNG images, for the email: mail clients (Gmail, Outlook) do
not draw inline SVG, so the emailed pack carries its charts as images referenced by `cid:`.

Drawn by matplotlib through its object-oriented API (a `Figure` on an Agg canvas of its own),
never pyplot's global state, so two threads may draw at once. Value axes are labelled as
the pack's SVG charts and the admin's are (`core.charts.nice_ticks`: "350k", "1.2M"), dated
axes by matplotlib's concise date labels. Each chart is sized in CSS pixels for a 600 px
wide email and drawn at twice that for sharp screens.
"""

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.utils import make_msgid
from io import BytesIO
from typing import Any

# matplotlib keeps its font list in a cache directory, by default under the home directory;
# a service account's home may be read-only, and matplotlib would then warn and rebuild the
# list in a new temporary directory in every process. One directory per user under the
# system's temporary directory instead, unless MPLCONFIGDIR says where.
os.environ.setdefault(
    "MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), f"pms-matplotlib-{os.getuid()}")
)

import matplotlib
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter
from PIL import Image

from core.charts import STATUS_COLOURS, nice_ticks
from core.formatting import flow_label, money
from core.inputs import row_label

# Labels are the fund's free text (a limit named "Perda R$ 50% & US$ 1mm"): text, never a
# formula, which two "$" would otherwise start (and a bad one would fail the drawing).
matplotlib.rcParams["text.parse_math"] = False

EMAIL_WIDTH = 600  # CSS pixels: the width mail clients lay a message out at
SCALE = 2  # image pixels per CSS pixel
INCH = 100  # CSS pixels per inch of figure: fonts in points then read at email size
FONT_SIZE = 8.5
PALETTE = 64  # colours of an image
LINE, MARK, GRID, INK = "#1f5f99", "#8a5a00", "#e3e3e3", "#444444"
GAIN, LOSS = STATUS_COLOURS["ok"], STATUS_COLOURS["breach"]


@dataclass(frozen=True)
class Chart:
    """A chart as an inline image: its PNG, the text read in its place when images are
    blocked, its size in CSS pixels, and its Content-ID (without the angle brackets)."""

    name: str
    alt: str
    png: bytes
    width: int
    height: int
    cid: str


def _figure(width: int, height: int) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width / INCH, height / INCH), dpi=INCH * SCALE, layout="constrained")
    FigureCanvasAgg(figure)  # the figure's own canvas: no pyplot, no shared state
    axes = figure.add_subplot()
    axes.tick_params(labelsize=FONT_SIZE, colors=INK, length=3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color("#999999")
    return figure, axes


def _chart(figure: Figure, name: str, alt: str) -> Chart:
    width, height = (round(size * INCH) for size in figure.get_size_inches())
    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # the one `_figure` gave it
    canvas.draw()
    rgba = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba())
    # A palette of a few colours (the chart's own and the antialiasing's shades) makes the
    # image a third of its size in full colour, with no visible difference.
    buffer = BytesIO()
    rgba.convert("RGB").quantize(PALETTE).save(buffer, format="png", optimize=True)
    return Chart(name, alt, buffer.getvalue(), width, height, make_msgid(name, "pms")[1:-1])


def _money_axis(axis: Any, low: float, high: float) -> tuple[float, float]:
    """Label a money axis at the pack's nice ticks ("350k", "1.2M") over [low, high];
    returns the limits the axis needs to show every tick, with a little room."""
    ticks = nice_ticks(low, high)
    axis.set_major_locator(FixedLocator([t.value for t in ticks]))
    axis.set_major_formatter(FixedFormatter([t.label for t in ticks]))
    values = [low, high, *(t.value for t in ticks)]
    span = (max(values) - min(values)) or abs(high) or 1.0
    return min(values) - span * 0.04, max(values) + span * 0.04


def nav_chart(curve: Sequence[Sequence[str]], flows: Sequence[Sequence[str]]) -> Chart | None:
    """The NAV over the pack's days ([date, NAV] pairs), each capital flow marked."""
    points = [(dt.date.fromisoformat(day), float(nav)) for day, nav in curve if nav is not None]
    if not points:
        return None
    days, navs = zip(*points, strict=True)
    figure, axes = _figure(EMAIL_WIDTH, 230)
    axes.plot(days, navs, color=LINE, linewidth=1.6, marker="o" if len(days) < 12 else None)
    axes.set_ylim(*_money_axis(axes.yaxis, min(navs), max(navs)))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    for day, amount in flows:
        when = dt.date.fromisoformat(day)
        axes.axvline(mdates.date2num(when), color=MARK, linestyle="--", linewidth=0.9)
        axes.annotate(
            flow_label(Decimal(amount)),
            (mdates.date2num(when), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -2),
            textcoords="offset points",
            va="top",
            fontsize=FONT_SIZE - 1,
            color=MARK,
        )
    first, last = points[0], points[-1]
    alt = f"NAV from {first[0]} to {last[0]}: {len(points)} closes, last {money(last[1])}"
    return _chart(figure, "nav-chart", alt)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, name: str, alt: str) -> Chart:
    """Horizontal bars from zero, gains green and losses red, on a money axis."""
    figure, axes = _figure(EMAIL_WIDTH, 40 + 22 * max(len(values), 1))
    rows = range(len(values))
    axes.barh(rows, values, height=0.6, color=[LOSS if v < 0 else GAIN for v in values])
    axes.set_yticks(list(rows), labels)
    axes.invert_yaxis()  # the table's order, top down
    axes.axvline(0, color=INK, linewidth=0.8)
    axes.set_xlim(*_money_axis(axes.xaxis, min(0.0, *values), max(0.0, *values)))
    axes.grid(axis="x", color=GRID, linewidth=0.8)
    axes.set_axisbelow(True)
    axes.spines["left"].set_visible(False)
    axes.tick_params(axis="y", length=0)
    return _chart(figure, name, alt)


def utilization_chart(limits: Sequence[dict[str, Any]]) -> Chart:
    """Each limit's utilization as a bar coloured by its status, the limit (100%) marked;
    a limit without a value has no bar and reads "n/a"."""
    figure, axes = _figure(EMAIL_WIDTH, 44 + 20 * max(len(limits), 1))
    used = [None if row["utilization"] is None else float(row["utilization"]) for row in limits]
    rows = range(len(limits))
    axes.barh(
        rows,
        [u or 0.0 for u in used],
        height=0.6,
        color=[STATUS_COLOURS.get(row["status"], "#888888") for row in limits],
    )
    for row, value in zip(rows, used, strict=True):
        shown = "n/a" if value is None else f"{value:,.0%}"
        axes.annotate(
            shown,
            (value or 0.0, row),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=FONT_SIZE,
            color=INK,
        )
    axes.set_yticks(list(rows), [row["name"] for row in limits])
    axes.invert_yaxis()
    axes.axvline(1.0, color=INK, linestyle="--", linewidth=0.9)
    axes.annotate(
        "limit",
        (1.0, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, 0),
        textcoords="offset points",
        va="top",
        fontsize=FONT_SIZE - 1,
        color=INK,
    )
    axes.set_xlim(0, max([1.2, *(u * 1.15 for u in used if u is not None)]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0%}"))
    axes.spines["left"].set_visible(False)
    axes.tick_params(axis="y", length=0)
    breaches = [row["name"] for row in limits if row["status"] == "breach"]
    alt = f"Utilization of {len(limits)} limits (dashed line: the limit); in breach: " + (
        ", ".join(breaches) or "none"
    )
    return _chart(figure, "limits-chart", alt)


def pack_charts(sections: dict[str, Any]) -> dict[str, Chart]:
    """The pack's charts by the name the page gives them (`nav_chart`, `strategy_chart`,
    `limits_chart`); a chart with nothing to draw is left out."""
    headline, strategies = sections["headline"], sections["pnl_by_strategy"]
    names = [row_label(row["strategy"]) for row in strategies]
    limits = sections["risk"].get("limits") or []
    charts: dict[str, Chart | None] = {
        "nav_chart": nav_chart(headline["nav_curve"], headline.get("nav_flows") or []),
        "strategy_chart": bar_chart(
            names,
            [float(row["mtd"]) for row in strategies],
            name="strategy-chart",
            alt="MTD P&L by strategy: "
            + "; ".join(
                f"{name} {money(row['mtd'])}" for name, row in zip(names, strategies, strict=True)
            ),
        )
        if strategies
        else None,
        "limits_chart": utilization_chart(limits) if limits else None,
    }
    return {key: chart for key, chart in charts.items() if chart is not None}
