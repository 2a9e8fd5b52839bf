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
from core import charts, inputs
from core.calendar import today
from core.formatting import flow_label, money, percent, quota
from ops.pipelines import recent_runs
from portfolio import selectors as portfolio
from portfolio.selectors import FundDay, LiveBook
from risk import selectors as risk
from risk.models import limit_figure
from risk.selectors import RiskReport
from trading.presentation import decision_context
from trading.selectors import pending_proposals

from . import cache

NAV_DAYS = 250  # the NAV curve: about a year of business days
CHART_WIDTH = 1160  # the dashboard's width at 1,280 px; narrower windows scale it down
RUNS_SHOWN = 6
PROPOSALS_SHOWN = 10  # the rest are a link away
STRATEGIES_SHOWN = 12  # the largest YTD P&L; the others summed in one row
TIMELINE_PERIODS = (("MTD", "mtd"), ("YTD", "ytd"))  # label, attribution period
PERIODS = ("day", *(label for label, _ in TIMELINE_PERIODS))
ZERO = Decimal(0)


def _data(name: str, **given: Any) -> cache.Cached | None:
    """A cached data set's value, as the API's answer is computed from it; None when it
    cannot be computed (a young fund: no snapshots yet for a period)."""
    try:
        return cache.read_value(name, **given)
    except (ValidationError, APIException):
        return None


# The fund's own P&L beside its positions' (DESIGN.md "The fund's accounts"): attribution's
# row key, the accounts' field, the sign it adds to the P&L with, and its label here.
ACCOUNTS_ROWS = tuple(
    (key, field, sign, inputs.ACCOUNTS_LABELS[key])
    for key, field, sign in (
        ("CASH", "carry", 1),
        ("MANAGEMENT_FEE", "management_fee", -1),
        ("PERFORMANCE_FEE", "performance_fee", -1),
    )
)


def _headline(
    label: str, pnl: Decimal, ratio: Decimal | None, cdi: Decimal | None
) -> dict[str, str]:
    return {
        "label": label,
        "return": percent(ratio, 2),
        "pnl": money(pnl),
        "cdi": percent(cdi, 2),
        "sign": "neg" if pnl < 0 else "pos",
    }


def _period(label: str, days: list[FundDay], report: AttributionReport) -> dict[str, str]:
    """A period in the headline: the fund's P&L and return net of fees (attribution's, its
    return as the API shows it), and the CDI's over the same days, Π(1 + c) − 1."""
    cdi = Decimal(1)
    for day in days:
        if report.period.start <= day.date <= report.period.end:
            cdi *= 1 + day.cdi
    return _headline(label, report.total_pnl, return_decimal(report.total_return), cdi - 1)


def _reports() -> dict[str, AttributionReport | None]:
    """The MTD and YTD attribution by strategy (cached), None when it cannot be computed."""
    found = {label: _data("attribution", period=p, by="strategy") for label, p in TIMELINE_PERIODS}
    return {label: None if cached is None else cached.value for label, cached in found.items()}


def _returns(
    book: LiveBook, reports: dict[str, AttributionReport | None], days: list[FundDay]
) -> tuple[list[dict[str, str]], dict[str, dict[str, Decimal]]]:
    """The day, MTD and YTD: the fund's return net of fees, its P&L and the CDI's return
    over the same days; and P&L by strategy, with the cash's carry and the fees in rows of
    their own (so that the rows add up to the fund's). The day is the live book's (its
    valuation date, with the trades done since), as /api/book/ gives it, with the day's
    carry and fees; MTD and YTD are the timeline's time-weighted figures over the
    attribution's periods."""
    live = book.accounts
    # The positions' day is the book's (its rows' sum); the carry and the fees are the live
    # day's accounts'. The same as `live.pnl` once the timeline has the day before: until
    # then the accounts take every day not built yet into the live day's P&L.
    day_pnl = book.totals.daily_pnl + live.carry - live.management_fee - live.performance_fee
    ratio = day_pnl / live.capital if live.capital > 0 else None
    headline = [_headline("day", day_pnl, ratio, live.cdi)]
    by_strategy: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in book.positions:
        held = by_strategy[row.strategy]
        held["day"] = held.get("day", Decimal(0)) + row.daily_pnl_base
    for key, field, sign, _ in ACCOUNTS_ROWS:
        if getattr(live, field):
            by_strategy[key]["day"] = sign * getattr(live, field)
    for label, _ in TIMELINE_PERIODS:
        report = reports[label]
        if report is None:
            headline.append({"label": label, "return": "—", "pnl": "—", "cdi": "—", "sign": ""})
            continue
        headline.append(_period(label, days, report))
        for attributed in report.rows:
            by_strategy[attributed.key][label] = attributed.pnl
    return headline, by_strategy


def _accrued(book: LiveBook, days: list[FundDay]) -> list[dict[str, str]]:
    """The carry and the fees of the day, MTD and YTD: the live day's, and the timeline's
    days of the month and the year before it. (Days the timeline has not built yet before
    the live day are missing from the sums until the eod builds them.)"""
    live, today = book.accounts, book.valuation_date
    starts = {"mtd": today.replace(day=1), "ytd": today.replace(month=1, day=1)}
    rows = []
    for _, field, _, label in ACCOUNTS_ROWS:
        day = getattr(live, field)
        sums = {
            name: day + sum((getattr(d, field) for d in days if start <= d.date < today), ZERO)
            for name, start in starts.items()
        }
        rows.append({"label": label, "day": money(day), **{k: money(v) for k, v in sums.items()}})
    return rows


def _accounts(book: LiveBook, days: list[FundDay]) -> dict[str, Any]:
    """The fund's accounts at the live day's close: quota, units, cash, the provision, and
    what the day, the month and the year accrued."""
    live = book.accounts
    return {
        "quota": quota(live.close.quota),
        "units": quota(live.close.units),
        "cash": money(live.cash),
        "provision": money(live.close.provision),
        "accrued": _accrued(book, days),
    }


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
    |YTD| first; past STRATEGIES_SHOWN the rest in one row; then the carry and the fees,
    so the table always adds up to the fund's."""
    zero = Decimal(0)
    accounts = {key: label for key, _, _, label in ACCOUNTS_ROWS if key in periods}
    strategies = [code for code in periods if code not in accounts]
    codes = sorted(strategies, key=lambda c: -abs(periods[c].get("YTD", zero)))
    shown, rest = codes[:STRATEGIES_SHOWN], codes[STRATEGIES_SHOWN:]
    rows = [(code, [code]) for code in shown]
    if rest:
        rows.append((f"{len(rest)} others", rest))
    rows += [(label, [key]) for key, label in accounts.items()]  # after the strategies
    out = []
    for name, group in rows:
        total = {
            label: sum((periods[c].get(label, zero) for c in group), zero) for label in PERIODS
        }
        cells = {label.lower(): money(total[label]) for label in PERIODS}
        if group[0] in accounts:  # a period whose attribution has no such row: unknown
            cells.update({p.lower(): "—" for p in PERIODS if p not in periods[group[0]]})
        sign = "" if cells["ytd"] == "—" else "neg" if total["YTD"] < 0 else "pos"
        out.append({"code": name, **cells, "sign": sign})
    return out


def _risk(live: RiskReport) -> dict[str, Any]:
    return {
        "var_95": money(live.var[0.95]),
        "var_99": money(live.var[0.99]),
        "es_95": money(live.expected_shortfall[0.95]),
        "es_99": money(live.expected_shortfall[0.99]),
        "var_unavailable": live.var_unavailable,
        "window_used": live.window_used,
        "dv01_by_tenor": [
            {"bucket": bucket, "dv01": money(Decimal(cents).scaleb(-2))}
            for bucket, cents in live.exposures.dv01_by_tenor
        ],
        "limits": _limits(live),
    }


def dashboard(request: HttpRequest) -> dict[str, Any]:
    day = today()
    cached_book = _data("book")
    if cached_book is None or portfolio.inception() is None:
        return {"empty": True}
    book: LiveBook = cached_book.value
    reports = _reports()
    periods = [report.period for report in reports.values() if report is not None]
    days = portfolio.fund_days(  # the year to the live day, and the periods' days
        min([book.valuation_date.replace(month=1, day=1)] + [p.start for p in periods]),
        max([book.valuation_date] + [p.end for p in periods]),
    )
    headline, by_strategy = _returns(book, reports, days)
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
        "nav": money(book.nav),
        "headline": headline,
        "accounts": _accounts(book, days),
        "day_pnl": money(totals.daily_pnl),
        "gross": money(totals.gross_exposure),
        "net": money(totals.net_exposure),
        "positions": totals.open_positions,
        "nav_chart": charts.line_chart(
            [d.isoformat() for d, _, _ in curve],
            [float(nav) for _, nav, _ in curve],
            markers=flows,
            width=CHART_WIDTH,
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
