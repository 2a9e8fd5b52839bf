"""Reads of the risk stored at each close: the daily risk snapshot, as a report, the
alerts still awaiting resolution, and the days whose NAV breaks with the administrator's."""

import datetime as dt
from typing import Any

from core.formatting import decimal_str
from portfolio.selectors import NavReconciliation, drawdown, nav_reconciliation

from ..models import NAV_BREAK, RiskAlert, RiskSnapshot

ACTIVE_ALERTS = (RiskAlert.Status.OPEN, RiskAlert.Status.ACKNOWLEDGED)


def snapshot_report(day: dt.date) -> dict[str, Any] | None:
    """The risk snapshot of `day` under the live report's keys (as_of, var,
    expected_shortfall, var_unavailable, window, window_used, limits, drawdown,
    dv01_by_tenor), or None when
    `day` has none. A snapshot stored without its drawdown gets the timeline's."""
    snapshot = RiskSnapshot.objects.filter(date=day).first()
    if snapshot is None:
        return None
    var = {"0.95": snapshot.var_95, "0.99": snapshot.var_99}
    expected_shortfall = {"0.95": snapshot.es_95, "0.99": snapshot.es_99}
    return {
        "as_of": snapshot.date.isoformat(),
        "var": {k: decimal_str(v) for k, v in var.items()},
        "expected_shortfall": {k: decimal_str(v) for k, v in expected_shortfall.items()},
        "var_unavailable": snapshot.var_unavailable or None,
        "window": snapshot.window,
        "window_used": snapshot.window_used,
        "limits": snapshot.limits,
        "dv01_by_tenor": snapshot.dv01_by_tenor,
        "drawdown": snapshot.drawdown or drawdown(day).as_dict(),
    }


def active_alerts() -> list[RiskAlert]:
    """The alerts open or acknowledged (not yet resolved), with their limit: the latest
    first, then by limit (one query)."""
    return list(
        RiskAlert.objects.filter(status__in=ACTIVE_ALERTS)
        .select_related("limit")
        .order_by("-date", "limit__name")
    )


def nav_break_days(through: dt.date | None = None) -> list[dt.date]:
    """The days whose NAV break alert is open or acknowledged, on or before `through`
    (every one without it), oldest first (one query)."""
    alerts = RiskAlert.objects.filter(limit=None, source=NAV_BREAK, status__in=ACTIVE_ALERTS)
    if through is not None:
        alerts = alerts.filter(date__lte=through)
    return list(alerts.order_by("date").values_list("date", flat=True))


def nav_breaks(through: dt.date | None = None) -> list[NavReconciliation]:
    """The days of `nav_break_days`, each against the administrator's as it reconciles now
    (a rebuild of the timeline may have mended one since its alert opened: the next check
    resolves it). Three queries."""
    days = nav_break_days(through)
    return nav_reconciliation(days=days) if days else []
