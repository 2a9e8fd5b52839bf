"""The fund dashboard, the admin's front page: what the PM, the risk officer and operations
look at first. Read from the cached data sets (book, live risk, attribution) and the apps'
selectors, never computed twice: the figures are the API's."""

import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework.exceptions import APIException

from core import charts
from core.calendar import today
from core.formatting import flow_label, money, percent
from ops.pipelines import recent_runs
from portfolio import selectors as portfolio
from risk import selectors as risk
from risk.models import limit_figure
from trading.presentation import decision_context
from trading.selectors import pending_proposals

from . import cache

NAV_DAYS = 250  # the NAV curve: about a year of business days
RUNS_SHOWN = 6
PROPOSALS_SHOWN = 10  # the rest are a link away
STRATEGIES_SHOWN = 12  # the largest YTD P&L; the others summed in one row
TIMELINE_PERIODS = (("MTD", "mtd"), ("YTD", "ytd"))  # label, attribution period
PERIODS = ("day", *(label for label, _ in TIMELINE_PERIODS))


def _data(name: str, **given: Any) -> dict[str, Any] | None:
    """A cached data set's answer as the API gives it; None with the reason logged in the
    page when it cannot be computed (a young fund: no snapshots yet for a period)."""
    try:
        data: dict[str, Any] = json.loads(cache.read(name, **given).content)
    except (ValidationError, APIException):
        return None
    return data


def _headline(label: str, pnl: Decimal, ratio: Decimal | None) -> dict[str, str]:
    return {
        "label": label,
        "return": percent(ratio, 2),
        "pnl": money(pnl, 0),
        "sign": "neg" if pnl < 0 else "pos",
    }


def _returns(book: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, dict[str, Decimal]]]:
    """The day, MTD and YTD: the fund's return and P&L, and P&L by strategy. The day is
    the live book's (its valuation date, with the trades done since), as /api/book/ gives
    it; MTD and YTD are the timeline's time-weighted figures (the attribution's)."""
    day_pnl = Decimal(book["totals"]["daily_pnl"])
    start = Decimal(book["nav"]) - day_pnl  # the day's capital: NAV before its P&L
    headline = [_headline("day", day_pnl, day_pnl / start if start > 0 else None)]
    by_strategy: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in book["positions"]:
        held = by_strategy[row["strategy"]]
        held["day"] = held.get("day", Decimal(0)) + Decimal(row["daily_pnl_base"])
    for label, period in TIMELINE_PERIODS:
        found = _data("attribution", period=period, by="strategy")
        if found is None:
            headline.append({"label": label, "return": "—", "pnl": "—", "sign": ""})
            continue
        headline.append(
            _headline(label, Decimal(found["total_pnl"]), Decimal(found["total_return"]))
        )
        for row in found["rows"]:
            by_strategy[row["key"]][label] = Decimal(row["pnl"])
    return headline, by_strategy


def _limits(live: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for limit in live["limits"]:
        used = None if limit["utilization"] is None else float(limit["utilization"])
        rows.append(
            {
                "name": limit["name"],
                "value": limit_figure(limit["metric"], limit["value"]),
                "limit": limit_figure(limit["metric"], limit["limit"]),
                "utilization": percent(used, 0),
                # No utilization (a NAV at or below zero): full when it is in breach.
                "width": (100 if limit["status"] == "breach" else 0)
                if used is None
                else min(used, 1.0) * 100,
                "status": limit["status"],
            }
        )
    return rows


def _alerts() -> list[dict[str, Any]]:
    """One row per alert not resolved (per limit and breach, or a failed pipeline's): its
    days in breach, its utilization on the last of them and the worst."""
    return [
        {
            "pk": alert.pk,
            "subject": alert.subject,
            "message": alert.message,
            "status": alert.status,
            "first_day": alert.date,
            "last_day": alert.last,
            "days": alert.days,
            "utilization": percent(alert.utilization, 0),
            "worst": percent(
                alert.utilization if alert.worst_utilization is None else alert.worst_utilization,
                0,
            ),
            "acknowledged_by": alert.acknowledged_by,
            "note": alert.note,
        }
        for alert in risk.active_alerts()
    ]


def _strategy_rows(periods: dict[str, dict[str, Decimal]]) -> list[dict[str, str]]:
    """P&L by strategy, the day (the book's), MTD and YTD (the attribution's): the largest
    |YTD| first; past STRATEGIES_SHOWN the rest in one row, so the table always adds up to
    the fund's."""
    zero = Decimal(0)
    codes = sorted(periods, key=lambda c: -abs(periods[c].get("YTD", zero)))
    shown, rest = codes[:STRATEGIES_SHOWN], codes[STRATEGIES_SHOWN:]
    rows = [(code, [code]) for code in shown]
    if rest:
        rows.append((f"{len(rest)} others", rest))
    out = []
    for name, group in rows:
        total = {
            label: sum((periods[c].get(label, zero) for c in group), zero) for label in PERIODS
        }
        out.append(
            {
                "code": name,
                **{label.lower(): money(total[label], 0) for label in PERIODS},
                "sign": "neg" if total["YTD"] < 0 else "pos",
            }
        )
    return out


def dashboard(request: HttpRequest) -> dict[str, Any]:
    day = today()
    book = _data("book")
    if book is None or portfolio.inception() is None:
        return {"empty": True}
    nav = Decimal(book["nav"])
    headline, by_strategy = _returns(book)
    strategies = _strategy_rows(by_strategy)
    live = _data("risk")
    pending = pending_proposals(day)
    curve = portfolio.nav_curve(day, days=NAV_DAYS)
    flows = [(i, flow_label(flow)) for i, (_, _, flow) in enumerate(curve) if flow]
    totals = book["totals"]
    return {
        "empty": False,
        "as_of": book["as_of"],
        "base": book["base_currency"],
        "cached": book["cached"],
        "nav": money(nav, 0),
        "headline": headline,
        "day_pnl": money(Decimal(totals["daily_pnl"]), 0),
        "gross": money(Decimal(totals["gross_exposure"]), 0),
        "net": money(Decimal(totals["net_exposure"]), 0),
        "positions": totals["open_positions"],
        "nav_chart": charts.line_chart(
            [d.isoformat() for d, _, _ in curve],
            [float(nav) for _, nav, _ in curve],
            markers=flows,
            width=1000,
            height=260,
        ),
        "strategies": strategies,
        "risk": None
        if live is None
        else {
            "var_95": money(live["var"].get("0.95"), 0),
            "var_99": money(live["var"].get("0.99"), 0),
            "es_95": money(live["expected_shortfall"].get("0.95"), 0),
            "es_99": money(live["expected_shortfall"].get("0.99"), 0),
            "var_unavailable": live["var_unavailable"],
            "window_used": live["window_used"],
            "limits": _limits(live),
        },
        "alerts": _alerts(),
        "can_acknowledge": request.user.has_perm("risk.acknowledge_riskalert"),
        "proposals": [decision_context(request, p) for p in pending[:PROPOSALS_SHOWN]],
        "pending": len(pending),
        "runs": recent_runs(RUNS_SHOWN),
        "stale_prices": book["stale_prices"],
        "next": request.get_full_path(),
    }
