"""Reads of performance: the periods, P&L and return attribution, the performance
statistics against the CDI.

One query for the fund's days and one grouped query for the P&L by key, whatever the
book's size; the linking is numpy (`attribution.engine`).
"""

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, F, Max, Sum
from django.db.models.functions import Cast, Round

from core import inputs
from core.calendar import business_days
from portfolio.models import BenchmarkRate, PortfolioSnapshot, PositionSnapshot, Strategy
from portfolio.selectors import benchmark_series, inception

from . import engine

PERIODS = ("daily", "mtd", "qtd", "ytd", "itd", "custom")
DIMENSIONS = {
    "strategy": "strategy__code",
    "asset_class": "instrument__asset_class",
    "instrument": "instrument__symbol",
    "currency": "instrument__currency",
}
DEFAULT_PERIOD, DEFAULT_BY = "mtd", "strategy"  # of GET /api/attribution/


def _period_start(period: str, end: dt.date) -> dt.date:
    if period == "daily":
        return end
    if period == "mtd":
        return end.replace(day=1)
    if period == "qtd":
        return end.replace(month=3 * ((end.month - 1) // 3) + 1, day=1)
    if period == "ytd":
        return end.replace(month=1, day=1)
    return dt.date.min  # itd


@dataclass(frozen=True)
class Period:
    name: str
    start: dt.date  # first snapshot date of the period
    end: dt.date  # last


def _custom_bounds(
    start: dt.date | None, end: dt.date | None, origin: dt.date
) -> tuple[dt.date, dt.date | None]:
    """A custom period's first day and its last snapshot on or before `end`."""
    bounds_given = {"start": start, "end": end}
    errors = {k: ["Required for period=custom."] for k, v in bounds_given.items() if v is None}
    if errors:
        raise ValidationError(errors)
    assert start is not None and end is not None
    if start > end:
        raise ValidationError({"start": [f"start {start} is after end {end}."]})
    if start < origin:
        raise ValidationError({"start": [before_inception(start, origin)]})
    last = PortfolioSnapshot.objects.filter(date__lte=end).aggregate(last=Max("date"))["last"]
    return start, last


def _named_bounds(
    period: str, as_of: dt.date | None, origin: dt.date
) -> tuple[dt.date, dt.date | None]:
    """A named period's first day (not before the inception) and its last snapshot on or
    before `as_of`."""
    if as_of is not None and as_of < origin:
        raise ValidationError({"as_of": [before_inception(as_of, origin)]})
    snapshots = PortfolioSnapshot.objects.all()
    latest = snapshots.filter(date__lte=as_of) if as_of else snapshots
    last = latest.aggregate(last=Max("date"))["last"]
    return (max(_period_start(period, last), origin) if last else origin), last


def _stored_days(begin: dt.date, last: dt.date) -> set[dt.date]:
    """The snapshot dates from `begin` to `last`, once every business day between has its
    snapshot (a gap would make the period's figures wrong, not just short)."""
    stored = set(
        PortfolioSnapshot.objects.filter(date__range=(begin, last)).values_list("date", flat=True)
    )
    missing = [day for day in business_days(begin, last) if day not in stored]
    if missing:
        raise ValidationError(
            {
                "detail": [
                    f"{len(missing)} business day(s) from {begin} to {last} have no snapshot "
                    f"(first {missing[0]}): run `manage.py backfill_snapshots --start "
                    f"{missing[0]} --end {missing[-1]}`."
                ]
            }
        )
    return stored


def period_resolve(
    period: str,
    *,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Period:
    """The snapshot dates a period covers; ValidationError names the bad parameter.

    Named periods end at the last snapshot on or before `as_of` (default: the latest) and
    start at the first business day of the month, quarter or year (`itd`: the fund's
    inception); `custom` runs from `start` to the last snapshot on or before `end`. Nothing
    exists before the inception (a custom period starting earlier is refused), and every
    business day of the period must have its snapshot.
    """
    if period not in PERIODS:
        raise ValidationError({"period": [f"Unknown period {period!r}: use {', '.join(PERIODS)}."]})
    origin = inception()
    if origin is None:
        raise ValidationError(
            {"detail": ["The fund has no capital flow yet: it has no history to report."]}
        )
    if period == "custom":
        begin, last = _custom_bounds(start, end, origin)
    elif start is not None or end is not None:
        raise ValidationError({"period": ["start and end go with period=custom; use as_of."]})
    else:
        begin, last = _named_bounds(period, as_of, origin)
    if last is None or last < begin:
        where = (
            f"from {start} to {end}" if period == "custom" else f"on or before {as_of or 'today'}"
        )
        raise ValidationError(
            {"detail": [f"No snapshots {where}: run `manage.py backfill_snapshots`."]}
        )
    return Period(period, min(_stored_days(begin, last)), last)


def before_inception(day: dt.date, origin: dt.date) -> str:
    return (
        f"{day} is before the fund's inception {origin} (its first capital flow): "
        "nothing exists before it."
    )


def _cents(field: str) -> Sum:
    """Sum of a money column in integer cents, exact on every database."""
    return Sum(Cast(Round(F(field) * 100), BigIntegerField()))


# The rows of the fund's P&L that no position made (DESIGN.md "The fund's accounts"): what
# the cash earned at the CDI and the two fees, in every dimension.
ACCOUNTS_KEYS = inputs.ACCOUNTS_KEYS


@dataclass(frozen=True)
class FundDays:
    """The fund's snapshots of a period, in order, in integer cents: each day's NAV, its
    P&L (the fund's: the positions' + carry − fees) and the accounts' part of that P&L."""

    dates: list[dt.date]
    nav: np.ndarray
    pnl: np.ndarray
    carry: np.ndarray
    management_fee: np.ndarray
    performance_fee: np.ndarray

    @property
    def capital(self) -> np.ndarray:
        """At the start of each day: `NAV_{t−1} + flow_t`."""
        return self.nav - self.pnl

    @property
    def gross_pnl(self) -> np.ndarray:
        """The P&L before fees: the positions' and the carry."""
        return self.pnl + self.management_fee + self.performance_fee

    def accounts(self) -> tuple[list[str], np.ndarray]:
        """The accounts' rows of the P&L (`ACCOUNTS_KEYS`), the fees as charged (negative):
        with the positions' rows they add up to the fund's P&L every day. A row that is
        zero on every day of the period (a fund without fees, a period without a CDI) is
        left out: it adds nothing to the P&L or to the return."""
        rows = np.stack([self.carry, -self.management_fee, -self.performance_fee])
        kept = [k for k in range(len(ACCOUNTS_KEYS)) if rows[k].any()]
        return [ACCOUNTS_KEYS[k] for k in kept], rows[kept]


def _fund_days(period: Period) -> FundDays:
    """The fund's snapshots of `period`: one query."""
    rows = list(
        PortfolioSnapshot.objects.filter(date__range=(period.start, period.end))
        .order_by("date")
        .annotate(
            nav_cents=_cents("nav"),
            pnl_cents=_cents("pnl"),
            carry_cents=_cents("carry"),
            management_cents=_cents("management_fee"),
            performance_cents=_cents("performance_fee"),
        )
        .values_list(
            "date",
            "nav_cents",
            "pnl_cents",
            "carry_cents",
            "management_cents",
            "performance_cents",
        )
    )
    figures = np.array([row[1:] for row in rows], dtype=np.int64).reshape(len(rows), 5)
    return FundDays([row[0] for row in rows], *figures.T)


@dataclass(frozen=True)
class AttributionRow:
    """A key's P&L over the period and its Carino-linked contribution to the return; by
    currency, the part of both from the currency's move on funded holdings' cost."""

    key: str
    pnl: Decimal
    contribution: float
    fx_pnl: Decimal | None = None
    fx_contribution: float | None = None


@dataclass(frozen=True)
class AttributionReport:
    """P&L and return attribution of a period by a dimension: the rows add up to the
    totals. Returns are the engine's floats, which the API shows to 15 places."""

    period: Period
    by: str
    total_pnl: Decimal
    total_return: float
    rows: list[AttributionRow]
    linking: str = "carino"


def _money(cents: Any) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def _positions_by_key(period: Period, by: str, days: list[dt.date]) -> tuple[list[str], np.ndarray]:
    """The positions' keys of a dimension and their daily P&L and its FX part, in cents
    (2 × K × T): one grouped query."""
    column = {day: t for t, day in enumerate(days)}
    grouped = (
        PositionSnapshot.objects.filter(date__range=(period.start, period.end))
        .values_list(DIMENSIONS[by], "date")
        .annotate(pnl=_cents("daily_pnl_base"), fx=_cents("daily_fx_pnl_base"))
        .values_list(DIMENSIONS[by], "date", "pnl", "fx")
    )
    keys = sorted({key for key, _, _, _ in grouped})
    row = {key: k for k, key in enumerate(keys)}
    key_pnl = np.zeros((2, len(keys), len(days)), dtype=np.int64)  # P&L, its FX part
    for key, day, pnl, fx in grouped:
        key_pnl[:, row[key], column[day]] += (pnl, fx)
    return keys, key_pnl


def attribution_report(period: Period, by: str) -> AttributionReport:
    """P&L and Carino-linked return attribution of `period` by a dimension: the
    positions' keys, then the accounts' rows (`FundDays.accounts`: the carry and the
    fees), so that the rows add up to the fund's P&L and its return. By currency, each
    row also has the part of its P&L from the currency's move on funded holdings' cost
    (`fx_pnl`, linked as `fx_contribution`); the accounts are in base currency, so theirs
    is zero."""
    if by not in DIMENSIONS:
        raise ValidationError({"by": [f"Unknown dimension {by!r}: use {', '.join(DIMENSIONS)}."]})
    fund = _fund_days(period)
    keys, key_pnl = _positions_by_key(period, by, fund.dates)
    accounts_keys, accounts = fund.accounts()
    keys += accounts_keys
    # The accounts are in base currency: no part of them is the currency's move.
    accounts_part = np.stack([accounts, np.zeros_like(accounts)])
    rows_pnl, rows_fx = np.concatenate([key_pnl, accounts_part], axis=1)
    result = _attributed(rows_pnl, fund)
    rows = [
        AttributionRow(key, _money(pnl), float(c))
        for key, pnl, c in zip(keys, result.pnl, result.contribution, strict=True)
    ]
    if by == "currency":
        fx_part = _attributed(rows_fx, fund)
        rows = [
            replace(shown, fx_pnl=_money(pnl), fx_contribution=float(c))
            for shown, pnl, c in zip(rows, fx_part.pnl, fx_part.contribution, strict=True)
        ]
    return AttributionReport(
        period=period,
        by=by,
        total_pnl=_money(result.total_pnl),
        total_return=result.total_return,
        rows=rows,
    )


def attribution(
    *,
    period: str = DEFAULT_PERIOD,
    by: str = DEFAULT_BY,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> AttributionReport:
    """GET /api/attribution/: the attribution of a period by a dimension."""
    return attribution_report(period_resolve(period, as_of=as_of, start=start, end=end), by)


DEFAULT_PERFORMANCE_PERIOD = "itd"  # of GET /api/performance/: since the inception
BASES = ("net", "gross")  # the fund's returns after its fees, or before them
DEFAULT_BASIS = "net"


@dataclass(frozen=True)
class ReturnStatistics:
    """Performance statistics of a run of daily returns, the fund's or a strategy's: the
    engine's `figures` (returns and ratios as its floats), with their days dated. A
    drawdown peaking at the period's opening has its peak dated `opening`, the close the
    period starts from."""

    pnl: Decimal
    figures: engine.Statistics
    drawdown_peak: dt.date | None
    drawdown_trough: dt.date | None
    best_day: dt.date
    best_return: float
    worst_day: dt.date
    worst_return: float


def _linkable(returns: np.ndarray, days: list[dt.date]) -> None:
    """Returns link only above −100% a day: a day the fund lost all its capital (its NAV at
    zero or below) ends any period that spans it (ValidationError naming it)."""
    lost = np.flatnonzero(np.asarray(returns, dtype=float) <= -1.0 + 1e-12)  # float division
    if lost.size:
        day = days[int(lost[0])]
        raise ValidationError(
            {
                "detail": [
                    f"The fund lost all its capital on {day} (a return of −100% or worse): "
                    "returns cannot be linked over a period that spans it; ask for one that "
                    "starts after it."
                ]
            }
        )


def _attributed(rows: np.ndarray, fund: FundDays) -> engine.Attribution:
    capital = fund.capital.astype(float)
    returns = np.divide(fund.pnl, capital, out=np.zeros(len(capital)), where=capital > 0)
    _linkable(returns, fund.dates)
    return engine.attribute(rows, fund.pnl, fund.capital)


def return_statistics(
    pnl_cents: int,
    returns: np.ndarray,
    benchmark: np.ndarray | None,
    days: list[dt.date],
    opening: dt.date,
) -> ReturnStatistics:
    """The statistics of a run of daily returns, its days by date."""
    _linkable(returns, days)
    stats = engine.statistics(returns, benchmark)

    def day(index: int | None) -> dt.date | None:
        return None if index is None else (days[index] if index >= 0 else opening)

    return ReturnStatistics(
        pnl=_money(pnl_cents),
        figures=stats,
        drawdown_peak=day(stats.peak),
        drawdown_trough=day(stats.trough),
        best_day=days[stats.best],
        best_return=float(returns[stats.best]),
        worst_day=days[stats.worst],
        worst_return=float(returns[stats.worst]),
    )


@dataclass(frozen=True)
class StrategyPerformance:
    strategy: str
    statistics: ReturnStatistics


@dataclass(frozen=True)
class PerformanceReport:
    """Performance statistics of the fund and of each strategy over a period, against a
    benchmark (the CDI); `benchmark_unavailable` says why there are no benchmark figures.
    The fund's are on `basis`: net of fees, or gross (before them)."""

    period: Period
    basis: str
    days: int
    fund: ReturnStatistics
    benchmark: str
    benchmark_days_carried: int
    benchmark_unavailable: str | None
    by_strategy: list[StrategyPerformance]


def _strategy_pnl(
    period: Period, days: list[dt.date], strategy: str | None
) -> tuple[list[str], np.ndarray]:
    """Each strategy's (or only `strategy`'s) daily P&L in cents over `days`: one grouped
    query."""
    column = {day: t for t, day in enumerate(days)}
    grouped = PositionSnapshot.objects.filter(date__range=(period.start, period.end))
    if strategy is not None:
        grouped = grouped.filter(strategy__code=strategy)
    by_day = grouped.values_list("strategy__code", "date").annotate(pnl=_cents("daily_pnl_base"))
    codes = sorted({code for code, _, _ in by_day} | ({strategy} if strategy else set()))
    row = {code: k for k, code in enumerate(codes)}
    pnl_cents = np.zeros((len(codes), len(days)), dtype=np.int64)
    for code, day, pnl in by_day:
        pnl_cents[row[code], column[day]] += pnl
    return codes, pnl_cents


def performance_report(
    period: Period,
    strategy: str | None = None,
    *,
    by_strategy: bool = True,
    basis: str = DEFAULT_BASIS,
) -> PerformanceReport:
    """Performance statistics of the fund and of each strategy over `period`, against the
    CDI: four queries whatever the book's size. The fund's figures (its P&L, returns,
    drawdown and ratios) are on `basis`: `net`, its P&L after fees, or `gross`, the
    positions' P&L and the carry before them, over the same capital. A strategy's daily
    return is its P&L over the fund's capital at the start of the day, on either basis;
    `strategy` keeps that one row only, and `by_strategy=False` none (the fund's figures
    alone, one query fewer)."""
    if basis not in BASES:
        raise ValidationError({"basis": [f"Unknown basis {basis!r}: use {', '.join(BASES)}."]})
    if strategy is not None and not Strategy.objects.filter(code=strategy).exists():
        raise ValidationError({"strategy": [f"Unknown strategy {strategy!r}."]})
    fund = _fund_days(period)
    days, capital = fund.dates, fund.capital
    fund_pnl = fund.pnl if basis == "net" else fund.gross_pnl
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(capital > 0, 1.0 / capital, 0.0)  # a day without capital: no return
    codes, strategy_pnl = (
        _strategy_pnl(period, days, strategy) if by_strategy else ([], np.zeros((0, len(days))))
    )
    cdi = benchmark_series(days, BenchmarkRate.Benchmark.CDI)
    # The close the period starts from: the snapshot before it (at the inception, none:
    # the capital arrives on the first day).
    before = PortfolioSnapshot.objects.filter(date__lt=period.start).aggregate(day=Max("date"))
    opening = before["day"] or period.start
    return PerformanceReport(
        period=period,
        basis=basis,
        days=len(days),
        fund=return_statistics(int(fund_pnl.sum()), fund_pnl * scale, cdi.rates, days, opening),
        benchmark=cdi.benchmark,
        benchmark_days_carried=cdi.carried,
        benchmark_unavailable=None
        if cdi.missing is None
        else (
            f"No {cdi.benchmark} rate on or before {cdi.missing}: load the rates with "
            "`manage.py import_benchmark_rates FILE` or POST /api/benchmark-rates/."
        ),
        by_strategy=[
            StrategyPerformance(
                code,
                return_statistics(
                    int(strategy_pnl[k].sum()), strategy_pnl[k] * scale, cdi.rates, days, opening
                ),
            )
            for k, code in enumerate(codes)
        ],
    )


def performance(
    *,
    period: str = DEFAULT_PERFORMANCE_PERIOD,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    strategy: str | None = None,
    basis: str = DEFAULT_BASIS,
) -> PerformanceReport:
    """GET /api/performance/: the statistics of a period, the fund's (net or gross of
    fees) and by strategy."""
    resolved = period_resolve(period, as_of=as_of, start=start, end=end)
    return performance_report(resolved, strategy, basis=basis)
