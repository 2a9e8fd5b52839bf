"""VaR backtesting (DESIGN.md "VaR backtesting"): each stored risk snapshot's VaR against
the next business day's realized fund P&L — exceptions, Kupiec's and Christoffersen's
tests, and the traffic light of the confidence asked over the last 250 observations (all of
them, when fewer)."""

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.core.exceptions import ValidationError

from core.calendar import business_days
from portfolio.selectors import fund_pnl_between

from .. import engine
from ..models import RiskSnapshot

LEVELS = {0.95: "var_95", 0.99: "var_99"}


@dataclass(frozen=True)
class LikelihoodRatio:
    """A test's likelihood ratio and its p-value, the engine's floats."""

    lr: float
    p_value: float


@dataclass(frozen=True)
class BacktestDay:
    """A snapshot's date, its VaR and the next business day's P&L (in cents, as stored)."""

    date: dt.date
    var: Decimal
    pnl: Decimal
    exception: bool


@dataclass(frozen=True)
class Backtest:
    """The backtest of the VaR at `confidence` over its observations, first to last."""

    confidence: float
    start: dt.date
    end: dt.date
    observations: int
    exceptions: int
    expected: float  # the exceptions expected: observations × (1 − confidence)
    kupiec: LikelihoodRatio
    christoffersen: LikelihoodRatio
    traffic_light: str
    traffic_light_days: int  # the observations it counts: the last 250, or all when fewer
    days: tuple[BacktestDay, ...]


def _observations(
    confidence: float, start: dt.date | None, end: dt.date | None
) -> tuple[list[dt.date], list[Decimal], list[Decimal]]:
    """The dates of the stored VaR at `confidence` from `start` to `end` whose next business
    day has its P&L, with that VaR and that P&L."""
    snapshots = RiskSnapshot.objects.exclude(**{LEVELS[confidence]: None}).order_by("date")
    if start:
        snapshots = snapshots.filter(date__gte=start)
    if end:
        snapshots = snapshots.filter(date__lte=end)
    rows = list(snapshots.values_list("date", LEVELS[confidence]))
    days: list[dt.date] = []
    var: list[Decimal] = []
    pnl: list[Decimal] = []
    if not rows:
        return days, var, pnl
    # Ten calendar days past the last snapshot always hold its next business day.
    calendar = business_days(rows[0][0], rows[-1][0] + dt.timedelta(days=10))
    realized = fund_pnl_between(rows[0][0], calendar[-1])
    for day, level in rows:
        following = calendar[bisect_right(calendar, day)]
        if following in realized and level is not None:
            days.append(day)
            var.append(level)
            pnl.append(realized[following])
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
) -> Backtest:
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
    losses = -np.array([float(p) for p in pnl])
    exceptions = losses > np.array([float(v) for v in var])
    last = exceptions[-engine.BASEL_DAYS :]
    return Backtest(
        confidence=confidence,
        start=days[0],
        end=days[-1],
        observations=len(days),
        exceptions=int(exceptions.sum()),
        expected=len(days) * round(1.0 - confidence, 12),
        kupiec=LikelihoodRatio(*engine.kupiec(exceptions, confidence)),
        christoffersen=LikelihoodRatio(*engine.christoffersen(exceptions)),
        traffic_light=engine.traffic_light(int(last.sum()), len(last), confidence),
        traffic_light_days=len(last),
        days=tuple(
            BacktestDay(day, v, p, bool(e))
            for day, v, p, e in zip(days, var, pnl, exceptions, strict=True)
        ),
    )
