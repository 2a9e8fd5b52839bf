"""The fund dashboard, the admin's front page: what the PM, the risk officer and operations
look at first. Read from the cached data sets (book, live risk, attribution) and the apps'
selectors, never computed twice: the figures are the API's."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework.exceptions import APIException

from attribution.api.serializers import return_decimal
from attribution.selectors import AttributionReport
from core import charts
from core.calendar import today
from core.formatting import flow_label, money, percent
from ops.pipelines import recent_runs
from portfolio import selectors as portfolio
from portfolio.selectors import LiveBook
from risk import selectors as risk
from risk.models import limit_figure
from risk.selectors import RiskReport
from trading.presentation import decision_context
from trading.selectors import pending_proposals

from . import cache

NAV_DAYS = 250  # the NAV curve: about a year of business days
RUNS_SHOWN = 6
PROPOSALS_SHOWN = 10  # the rest are a link away
STRATEGIES_SHOWN = 12  # the largest YTD P&L; the others summed in one row
TIMELINE_PERIODS = (("MTD", "mtd"), ("YTD", "ytd"))  # label, attribution period
PERIODS = ("day", *(label for label, _ in TIMELINE_PERIODS))


def _data(name: str, **given: Any) -> cache.Cached | None:
    """A cached data set's value, as the API's answer is computed from it; None when it
    cannot be computed (a young fund: no snapshots yet for a period)."""
    try:
        return cache.read_value(name, **given)
    except (ValidationError, APIException):
        return None


def _headline(label: str, pnl: Decimal, ratio: Decimal | None) -> dict[str, str]:
    return {
        "label": label,
        "return": percent(ratio, 2),
        "pnl": money(pnl, 0),
        "sign": "neg" if pnl < 0 else "pos",
    }


def _returns(book: LiveBook) -> tuple[list[dict[str, str]], dict[str, dict[str, Decimal]]]:
    """The day, MTD and YTD: the fund's return and P&L, and P&L by strategy. The day is
    the live book's (its valuation date, with the trades done since), as /api/book/ gives
    it; MTD and YTD are the timeline's time-weighted figures (the attribution's)."""
    day_pnl = book.totals.daily_pnl
    start = book.nav - day_pnl  # the day's capital: NAV before its P&L
    headline = [_headline("day", day_pnl, day_pnl / start if start > 0 else None)]
    by_strategy: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in book.positions:
        held = by_strategy[row.strategy]
        held["day"] = held.get("day", Decimal(0)) + row.daily_pnl_base
    for label, period in TIMELINE_PERIODS:
        found = _data("attribution", period=period, by="strategy")
        if found is None:
            headline.append({"label": label, "return": "—", "pnl": "—", "sign": ""})
            continue
        report: AttributionReport = found.value
        # The return as the API shows it (to RETURN_PLACES), not the engine's float.
        total_return = return_decimal(report.total_return)
        headline.append(_headline(label, report.total_pnl, total_return))
        for attributed in report.rows:
            by_strategy[attributed.key][label] = attributed.pnl
    return headline, by_strategy


def _limits(live: RiskReport) -> list[dict[str, Any]]:
    rows = []
    for limit in live.limits:
        used = None if limit.utilization is None else float(limit.utilization)
        metric = limit.limit.metric
        rows.append(
            {
                "name": limit.limit.name,
                "value": limit_figure(metric, limit.value),
                "limit": limit_figure(metric, limit.limit.limit),
                "utilization": percent(used, 0),
                # No utilization (a NAV at or below zero): full when it is in breach.
                "width": (100 if limit.status == "breach" else 0)
                if used is None
                else min(used, 1.0) * 100,
                "status": limit.status,
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


def _nav_breaks() -> list[dict[str, Any]]:
    """The days whose NAV break with the administrator's is not resolved, as they reconcile
    now: the NAVs, the difference, and whether the units differ."""
    return [
        {
            "date": day.date,
            "nav": money(day.nav),
            "official_nav": money(day.official_nav),
            "difference": money(day.difference),
            "difference_bp": "—" if day.difference_bp is None else f"{day.difference_bp} bp",
            "units_differ": day.units != day.official_units,
            "status": day.status,
        }
        for day in risk.nav_breaks()
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


def _risk(live: RiskReport) -> dict[str, Any]:
    return {
        "var_95": money(live.var[0.95], 0),
        "var_99": money(live.var[0.99], 0),
        "es_95": money(live.expected_shortfall[0.95], 0),
        "es_99": money(live.expected_shortfall[0.99], 0),
        "var_unavailable": live.var_unavailable,
        "window_used": live.window_used,
        "limits": _limits(live),
    }


def dashboard(request: HttpRequest) -> dict[str, Any]:
    day = today()
    cached_book = _data("book")
    if cached_book is None or portfolio.inception() is None:
        return {"empty": True}
    book: LiveBook = cached_book.value
    headline, by_strategy = _returns(book)
    strategies = _strategy_rows(by_strategy)
    live = _data("risk")
    pending = pending_proposals(day)
    curve = portfolio.nav_curve(day, days=NAV_DAYS)
    flows = [(i, flow_label(flow)) for i, (_, _, flow) in enumerate(curve) if flow]
    totals = book.totals
    return {
        "empty": False,
        "as_of": book.valuation_date.isoformat(),
        "base": book.base_currency,
        "cached": cached_book.cached,
        "nav": money(book.nav, 0),
        "headline": headline,
        "day_pnl": money(totals.daily_pnl, 0),
        "gross": money(totals.gross_exposure, 0),
        "net": money(totals.net_exposure, 0),
        "positions": totals.open_positions,
        "nav_chart": charts.line_chart(
            [d.isoformat() for d, _, _ in curve],
            [float(nav) for _, nav, _ in curve],
            markers=flows,
            width=1000,
            height=260,
        ),
        "strategies": strategies,
        "risk": None if live is None else _risk(live.value),
        "alerts": _alerts(),
        "nav_breaks": _nav_breaks(),
        "can_acknowledge": request.user.has_perm("risk.acknowledge_riskalert"),
        "proposals": [decision_context(request, p) for p in pending[:PROPOSALS_SHOWN]],
        "pending": len(pending),
        "runs": recent_runs(RUNS_SHOWN),
        "stale_prices": book.stale_prices,
        "next": request.get_full_path(),
    }
