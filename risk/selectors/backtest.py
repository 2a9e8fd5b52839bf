"""VaR backtesting (DESIGN.md "VaR backtesting"): each stored risk snapshot's VaR against
the next business day's realized fund P&L — exceptions, Kupiec's and Christoffersen's
tests, and the traffic light of the confidence asked over the last 250 observations (all of
them, when fewer)."""

import datetime as dt
from bisect import bisect_right
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError

from core.calendar import business_days
from core.formatting import decimal_str, ratio
from portfolio.selectors import fund_pnl_between

from .. import engine
from ..models import RiskSnapshot

LEVELS = {0.95: "var_95", 0.99: "var_99"}


def _observations(
    confidence: float, start: dt.date | None, end: dt.date | None
) -> tuple[list[dt.date], list[float], list[float]]:
    """The dates of the stored VaR at `confidence` from `start` to `end` whose next business
    day has its P&L, with that VaR and that P&L."""
    snapshots = RiskSnapshot.objects.exclude(**{LEVELS[confidence]: None}).order_by("date")
    if start:
        snapshots = snapshots.filter(date__gte=start)
    if end:
        snapshots = snapshots.filter(date__lte=end)
    rows = list(snapshots.values_list("date", LEVELS[confidence]))
    days: list[dt.date] = []
    var: list[float] = []
    pnl: list[float] = []
    if not rows:
        return days, var, pnl
    # Ten calendar days past the last snapshot always hold its next business day.
    calendar = business_days(rows[0][0], rows[-1][0] + dt.timedelta(days=10))
    realized = fund_pnl_between(rows[0][0], calendar[-1])
    for day, level in rows:
        following = calendar[bisect_right(calendar, day)]
        if following in realized and level is not None:
            days.append(day)
            var.append(float(level))
            pnl.append(float(realized[following]))
    return days, var, pnl


def _no_observations(start: dt.date | None, end: dt.date | None) -> ValidationError:
    """The 400 of a period without observations, with the command that takes them."""
    command = (
        "manage.py backfill_risk_snapshots"
        + (f" --start {start}" if start else "")
        + (f" --end {end}" if end else "")
    )
    return ValidationError(
        "No risk snapshot with the next business day's P&L in that period: take them "
        f"with `{command}`."
    )


def backtest(
    *, confidence: float = 0.99, start: dt.date | None = None, end: dt.date | None = None
) -> dict[str, Any]:
    """The backtest of the stored VaR at `confidence` (0.95 or 0.99) of the snapshots dated
    `start` to `end` (default: all) whose next business day has its P&L. 400 when there
    is none, with the command that makes them."""
    if confidence not in LEVELS:
        raise ValidationError(
            {"confidence": ["Risk snapshots store VaR at 0.95 and 0.99: use one of them."]}
        )
    days, var, pnl = _observations(confidence, start, end)
    if not days:
        raise _no_observations(start, end)
    losses, var_a = -np.array(pnl), np.array(var)
    exceptions = losses > var_a
    kupiec_lr, kupiec_p = engine.kupiec(exceptions, confidence)
    independence_lr, independence_p = engine.christoffersen(exceptions)
    last = exceptions[-engine.BASEL_DAYS :]
    return {
        "confidence": confidence,
        "start": days[0],
        "end": days[-1],
        "observations": len(days),
        "exceptions": int(exceptions.sum()),
        "expected": decimal_str(ratio(len(days) * round(1.0 - confidence, 12))),
        "kupiec": {"lr": decimal_str(ratio(kupiec_lr)), "p_value": decimal_str(ratio(kupiec_p))},
        "christoffersen": {
            "lr": decimal_str(ratio(independence_lr)),
            "p_value": decimal_str(ratio(independence_p)),
        },
        "traffic_light": engine.traffic_light(int(last.sum()), len(last), confidence),
        "traffic_light_days": len(last),
        "days": [
            {"date": day, "var": f"{v:.2f}", "pnl": f"{p:.2f}", "exception": bool(e)}
            for day, v, p, e in zip(days, var, pnl, exceptions, strict=True)
        ],
    }
