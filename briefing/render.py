"""The morning pack as a page (HTML, charts as inline SVG), as plain text, and its subject.

Rendering reads only the stored sections, so the page, the email and the API always
show the same figures.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from core import charts
from core.calendar import fund_time_zone
from risk.selectors import breached

from .models import MorningPack

HOLDINGS_SHOWN = 25  # the largest; the JSON has them all


def money(value: str | None) -> str:
    """Whole units with separators: a PM reads millions, not cents."""
    return "—" if value is None else f"{Decimal(value):,.0f}"


def percent(value: str | None, places: int = 2) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:+.{places}f}%"


def share(value: str | None) -> str:
    """A ratio as a whole percentage, unsigned: utilization 1.11 → 111%."""
    return "—" if value is None else f"{Decimal(value) * 100:.0f}%"


def share_precise(value: str | None) -> str:
    """A small ratio as a percentage with two decimals: drawdown 0.046123 → 4.61%."""
    return "—" if value is None else f"{Decimal(value) * 100:.2f}%"


def brt(value: dt.datetime | str | None) -> str:
    """A moment (a datetime, or the API's ISO string) in São Paulo time, labelled BRT."""
    if value is None or value == "":
        return "—"
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(fund_time_zone()):%Y-%m-%d %H:%M} BRT"


def move(value: str | None, unit: str = "%") -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):+.1f} bp" if unit == "bp" else percent(value)


def _context(pack: MorningPack) -> dict[str, Any]:
    sections = pack.sections
    curve = sections["headline"]["nav_curve"]
    strategies = sections["pnl_by_strategy"]
    limits = sections["risk"].get("limits", [])
    holdings = sections["portfolio"]["holdings"]
    return {
        "pack": pack,
        "s": sections,
        "holdings": holdings[:HOLDINGS_SHOWN],
        "more_holdings": max(len(holdings) - HOLDINGS_SHOWN, 0),
        "breaches": breached(limits),
        "nav_chart": charts.line_chart([d for d, _ in curve], [float(v) for _, v in curve]),
        "strategy_chart": charts.bar_chart(
            [row["strategy"] for row in strategies],
            [float(row["mtd"]) for row in strategies],
            width=340,
        ),
        "limits_chart": charts.utilization_chart(
            [row["name"] for row in limits],
            [None if row["utilization"] is None else float(row["utilization"]) for row in limits],
            [row["status"] for row in limits],
        ),
    }


def html(pack: MorningPack) -> str:
    return render_to_string("briefing/morning_pack.html", _context(pack))


def text(pack: MorningPack) -> str:
    return render_to_string("briefing/morning_pack.txt", _context(pack))


def subject(pack: MorningPack) -> str:
    headline = pack.sections["headline"]
    return (
        f"PMS morning pack {pack.date}: NAV {money(headline['nav'])}, "
        f"day {percent(headline['day_return'])}, MTD {percent(headline['mtd_return'])}"
    )
