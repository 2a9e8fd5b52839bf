"""The morning pack as a page (HTML, charts as inline SVG), as an email (the same HTML,
its charts as PNG images inline: mail clients draw no SVG), as plain text, and its subject.

Rendering reads the stored sections, so the page, the email and the API always show the
same figures; the one thing read at render time is where each proposal listed as pending
at generation stands now (one query), since the PM may have decided it since.
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import charts, formatting, inputs
from core.calendar import fund_time_zone
from core.formatting import flow_label, number
from risk.selectors import breached
from trading.selectors import ProposalState, proposal_states

from .models import MorningPack

if TYPE_CHECKING:
    from .charts_png import Chart

HOLDINGS_SHOWN = 25  # the largest; the JSON has them all
CHARTS = ("nav_chart", "strategy_chart", "limits_chart")  # as the page names them


def money(value: str | None) -> str:
    """Money with thousands separators and its cents: "1,243.91"."""
    return formatting.money(value)


def price(value: str | None, row: dict[str, Any]) -> str:
    """A close or a price of a pack's row to its instrument's places (`places`; a pack
    written before they were kept shows the stored digits), no trailing zeros; a yield
    instrument's (its moves are in bp) in percent: "74,548.31", "10.85%"."""
    return formatting.quote(value, row.get("places"), row.get("unit") == "bp")


def percent(value: str | None, places: int = 2) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:+.{places}f}%"


def share(value: str | None) -> str:
    """A ratio as a whole percentage, unsigned: utilization 1.11 → 111%."""
    return "—" if value is None else f"{Decimal(value) * 100:.0f}%"


def share_precise(value: str | None) -> str:
    """A small ratio as a percentage with two decimals: drawdown 0.046123 → 4.61%."""
    return "—" if value is None else f"{Decimal(value) * 100:.2f}%"


def move(value: str | None, unit: str = "%") -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):+.1f} bp" if unit == "bp" else percent(value)


def flow_markers(headline: dict[str, Any]) -> list[tuple[str, str]]:
    """The NAV chart's marks: each capital flow on the curve (packs stored before flows
    were kept have none)."""
    return [
        (day, flow_label(Decimal(amount)))
        for day, amount in headline.get("nav_flows") or []
        if amount is not None
    ]


def decision(state: ProposalState | None, day: dt.date) -> str:
    """Where a proposal stands now, for the pack of `day`: "pending", "approved by pm 09:14
    BRT" (with the date when decided on another day), "modified to sell 2 and approved by …",
    "rejected by …"; "not found" when it is no longer on record."""
    if state is None:
        return "not found"
    if state.status == "pending":
        return "pending"
    if state.status == "modified" and state.executed_quantity is not None:
        side = "buy" if state.executed_quantity > 0 else "sell"
        what = f"modified to {side} {number(abs(state.executed_quantity))} and approved"
    else:
        what = state.status
    if state.decided_by:
        what += f" by {state.decided_by}"
    if state.decided_at is not None:
        local = state.decided_at.astimezone(fund_time_zone())
        when = f"{local:%H:%M}" if local.date() == day else f"{local:%Y-%m-%d %H:%M}"
        what += f" {when} BRT"
    return what


def proposals(pack: MorningPack) -> list[dict[str, Any]]:
    """The proposals pending at generation, each with `now`, where it stands at render
    time (None for a stored row without its id: nothing to look up)."""
    rows = pack.sections.get("proposals") or []
    states = proposal_states(row["id"] for row in rows if row.get("id") is not None)
    return [
        {
            **row,
            "now": None if row.get("id") is None else decision(states.get(row["id"]), pack.date),
        }
        for row in rows
    ]


def image(chart: "Chart | None") -> SafeString:
    """A chart as the email shows it: its PNG part, by Content-ID, at its size in CSS
    pixels (Outlook reads the attributes), narrower on a narrow screen."""
    if chart is None:
        return format_html('<p class="muted">{}</p>', "No data to chart.")
    return format_html(
        '<img src="cid:{}" alt="{}" width="{}" height="{}" '
        'style="display:block;width:100%;max-width:{}px;height:auto;border:0">',
        chart.cid,
        chart.alt,
        chart.width,
        chart.height,
        chart.width,
    )


def svg_charts(sections: dict[str, Any]) -> dict[str, SafeString]:
    """The page's charts, inline SVG."""
    headline = sections["headline"]
    curve = headline["nav_curve"]
    strategies = sections["pnl_by_strategy"]
    limits = sections["risk"].get("limits", [])
    return {
        "nav_chart": charts.line_chart(
            [d for d, _ in curve],
            [float(v) for _, v in curve],
            markers=flow_markers(headline),
        ),
        "strategy_chart": charts.bar_chart(
            [inputs.row_label(row["strategy"]) for row in strategies],
            [float(row["mtd"]) for row in strategies],
            width=340,
        ),
        "limits_chart": charts.utilization_chart(
            [row["name"] for row in limits],
            [None if row["utilization"] is None else float(row["utilization"]) for row in limits],
            [row["status"] for row in limits],
        ),
    }


def _context(pack: MorningPack, shown: dict[str, SafeString], *, email: bool) -> dict[str, Any]:
    sections = pack.sections
    holdings = sections["portfolio"]["holdings"]
    return {
        "pack": pack,
        "s": sections,
        "email": email,
        "holdings": holdings[:HOLDINGS_SHOWN],
        "more_holdings": max(len(holdings) - HOLDINGS_SHOWN, 0),
        "breaches": breached(sections["risk"].get("limits", [])),
        "proposals": proposals(pack),
        **shown,
    }


def html(pack: MorningPack) -> str:
    """The page, as the admin and the API show it: charts as inline SVG."""
    context = _context(pack, svg_charts(pack.sections), email=False)
    return render_to_string("briefing/morning_pack.html", context)


def email(pack: MorningPack) -> tuple[str, list["Chart"]]:
    """The page as an email's HTML, its charts as `<img src="cid:…">`, and the charts (PNG)
    to attach inline under those Content-IDs."""
    # Imported here: matplotlib takes most of a second to load, which a process that serves
    # pages and never emails a pack need not spend.
    from .charts_png import pack_charts

    drawn = pack_charts(pack.sections)
    shown = {name: image(drawn.get(name)) for name in CHARTS}
    page = render_to_string("briefing/morning_pack.html", _context(pack, shown, email=True))
    return page, list(drawn.values())


def text(pack: MorningPack) -> str:
    return render_to_string("briefing/morning_pack.txt", _context(pack, {}, email=False))


def subject(pack: MorningPack) -> str:
    headline = pack.sections["headline"]
    return (
        f"PMS morning pack {pack.date}: NAV {money(headline['nav'])}, "
        f"day {percent(headline['day_return'])}, MTD {percent(headline['mtd_return'])}"
    )
