"""Reads of risk: the live risk of the book, limit evaluation, stress runs, snapshots.

The book comes from one query and its market history from one query for prices and one for
FX rates over the window; everything after that is numpy (`risk.engine`).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from itertools import chain
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import Case, FloatField, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from core.calendar import business_days_ending
from portfolio.ledger import to_cents
from portfolio.models import FxRate, Price
from portfolio.selectors import (
    BookState,
    Drawdown,
    base_currency,
    book_state,
    book_state_on,
    decimal_str,
    drawdown,
)

from . import engine
from .models import RiskLimit, StressScenario

MAX_WINDOW = 2520  # ten years of daily returns
CONFIDENCES = (0.95, 0.99)
# A price or rate is carried across up to this many business days without a quote (a
# market holiday abroad); an observation up to LOOKBACK_DAYS before the window's first day
# stands for that day.
MAX_CARRY = 5
LOOKBACK_DAYS = 7
TOP_CONCENTRATIONS = 10
LIMIT_STATUSES = ("ok", "warning", "breach", "unavailable")
RATIO = Decimal("0.000001")


def ratio(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(RATIO)


def money(value: float) -> Decimal:
    return to_cents(Decimal(repr(value + 0.0)))  # + 0.0: −0.0 (−VaR of no moves) is 0.00


def cents(values: Iterable[Decimal]) -> np.ndarray:
    return np.fromiter((int(v * 100) for v in values), dtype=np.int64)


def labels(values: Iterable[str]) -> np.ndarray:
    return np.array(list(values), dtype=object).astype(str)


def from_cents(value: int) -> str:
    return decimal_str(Decimal(value).scaleb(-2)) or "0.00"


@dataclass
class Book:
    """The open positions as arrays, one entry per position, and their instrument columns."""

    state: BookState
    symbols: np.ndarray
    strategy: np.ndarray
    asset_class: np.ndarray
    currency: np.ndarray
    is_yield: np.ndarray
    column: np.ndarray  # index into `instrument_ids`
    instrument_ids: list[int]
    notional_cents: np.ndarray
    dv01_cents: np.ndarray
    daily_pnl_cents: np.ndarray  # 0 unless the position's P&L date is the book's as-of
    closed_strategy: np.ndarray  # the positions closed on as-of, whose daily P&L counts
    closed_asset_class: np.ndarray
    closed_daily_pnl_cents: np.ndarray

    @classmethod
    def load(cls, state: BookState | None = None, extra: Sequence[dict[str, Any]] = ()) -> "Book":
        """The open book, or `state`'s, with `extra` rows appended (e.g. positions a
        what-if opens, with zero notional)."""
        state = state or book_state()
        rows = [*state.positions, *extra]
        instrument_ids = sorted({row["instrument_id"] for row in rows})
        index = {pk: i for i, pk in enumerate(instrument_ids)}

        def column(name: str) -> np.ndarray:
            return labels(row[name] for row in rows)

        closed = state.closed_today

        return cls(
            state=state,
            symbols=column("instrument"),
            strategy=column("strategy"),
            asset_class=column("asset_class"),
            currency=column("currency"),
            is_yield=np.array([row["quote_type"] == "yield" for row in rows], dtype=bool),
            column=np.array([index[row["instrument_id"]] for row in rows], dtype=np.intp),
            instrument_ids=instrument_ids,
            notional_cents=cents(row["notional_base"] for row in rows),
            dv01_cents=cents(row["dv01_base"] for row in rows),
            daily_pnl_cents=cents(
                row["daily_pnl_base"] if row["pnl_date"] == state.as_of else Decimal(0)
                for row in rows
            ),
            closed_strategy=labels(strategy for strategy, _, _ in closed),
            closed_asset_class=labels(asset_class for _, asset_class, _ in closed),
            closed_daily_pnl_cents=cents(pnl for _, _, pnl in closed),
        )

    @cached_property
    def exposure(self) -> np.ndarray:
        return engine.position_exposure(
            self.notional_cents / 100.0, self.dv01_cents / 100.0, self.is_yield
        )

    @cached_property
    def column_is_yield(self) -> np.ndarray:
        is_yield = np.zeros(len(self.instrument_ids), dtype=bool)
        is_yield[self.column] = self.is_yield
        return is_yield

    @cached_property
    def column_currency(self) -> np.ndarray:
        currency = np.full(len(self.instrument_ids), base_currency(), dtype=object)
        currency[self.column] = self.currency
        return currency.astype(str)

    def scope_mask(self, limit: RiskLimit, *, closed: bool = False) -> np.ndarray:
        """The open positions (or those closed today) in a limit's scope."""
        strategy, asset_class = (
            (self.closed_strategy, self.closed_asset_class)
            if closed
            else (self.strategy, self.asset_class)
        )
        if limit.scope_type == RiskLimit.ScopeType.STRATEGY:
            return strategy == limit.scope_value  # type: ignore[no-any-return]
        if limit.scope_type == RiskLimit.ScopeType.ASSET_CLASS:
            return asset_class == limit.scope_value  # type: ignore[no-any-return]
        return np.ones(len(strategy), dtype=bool)


# Days from a reference date, computed by the database: no date objects to build per row.
DAY_OFFSET_SQL = {
    "postgresql": '("{table}"."date" - %s::date)',
    "sqlite": 'CAST(julianday("{table}"."date") - julianday(%s) AS INTEGER)',
}


def quotes(queryset: QuerySet[Any], key: str, value: str, since: dt.date) -> np.ndarray:
    """(key, days since `since`, value as float) per row, as an n × 3 float array.

    The ORM writes the query; it runs on a plain cursor, because Django's per-row
    converters would cost more than the database at a few hundred thousand rows.
    """
    offset = DAY_OFFSET_SQL[connection.vendor].format(table=queryset.model._meta.db_table)
    try:
        sql, params = (
            queryset.annotate(
                day=RawSQL(offset, (since.isoformat(),)), level=Cast(value, FloatField())
            )
            .values_list(key, "day", "level")
            .query.sql_with_params()
        )
    except EmptyResultSet:  # `__in` an empty list (an empty book): no query to run
        return np.empty((0, 3))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    flat = np.fromiter(chain.from_iterable(rows), dtype=float, count=3 * len(rows))
    return flat.reshape(len(rows), 3)


def _levels(
    observed: np.ndarray, keys: np.ndarray, day_row: np.ndarray, rows: int, max_carry: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carried levels from `quotes()` rows: keys sorted, columns in the order of `keys`."""
    by_day = observed[np.argsort(observed[:, 1], kind="stable")]  # the latest quote wins
    return engine.carried_levels(
        day_row[by_day[:, 1].astype(np.intp)],
        np.searchsorted(keys, by_day[:, 0]),
        by_day[:, 2],
        shape=(rows, len(keys)),
        max_carry=max_carry,
    )


class MarketHistory:
    """The stored quotes of a book's instruments from `start` (less LOOKBACK_DAYS) to
    `end`, read in two queries (prices, then FX rates), from which levels on any grid of
    dates inside that span are built without reading again."""

    def __init__(self, book: Book, start: dt.date, end: dt.date):
        self.book = book
        self.since = start - dt.timedelta(days=LOOKBACK_DAYS)
        self.prices = quotes(
            Price.objects.filter(
                instrument_id__in=book.instrument_ids, date__gte=self.since, date__lte=end
            ),
            "instrument_id",
            "price",
            self.since,
        )
        self.foreign = sorted(set(book.column_currency[~book.column_is_yield]) - {base_currency()})
        self.rates = np.empty((0, 3))
        if self.foreign:
            # Rates keyed by the currency's index in `foreign`, to share the numeric path.
            index = Case(*(When(currency=c, then=Value(i)) for i, c in enumerate(self.foreign)))
            self.rates = quotes(
                FxRate.objects.filter(
                    currency__in=self.foreign, date__gte=self.since, date__lte=end
                ).annotate(index=index),
                "index",
                "rate",
                self.since,
            )

    def levels(
        self, dates: Sequence[dt.date], *, max_carry: int = MAX_CARRY
    ) -> tuple[np.ndarray, np.ndarray]:
        """Levels (len(dates) × M) of the book's instruments on `dates`, and which columns
        are complete. Price columns are `P × X(c)`, yield columns the yield; each carried
        across up to `max_carry` dates without a quote; a quote up to LOOKBACK_DAYS before
        the first date stands for it."""
        book = self.book
        # Day k after `since` maps to the first grid date on or after it: a quote stands
        # for that grid date (the latest one wins) and is carried to the next ones.
        offsets = np.array([(day - self.since).days for day in dates])
        day_row = np.searchsorted(offsets, np.arange(offsets[-1] + 1))
        earliest = offsets[0] - LOOKBACK_DAYS

        def grid(observed: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            inside = observed[(observed[:, 1] >= earliest) & (observed[:, 1] <= offsets[-1])]
            return _levels(inside, keys, day_row, len(dates), max_carry)

        ids = np.array(book.instrument_ids, dtype=float)  # sorted, as quotes() keys come
        levels, complete = grid(self.prices, ids)
        if self.foreign:
            fx, fx_complete = grid(self.rates, np.arange(len(self.foreign), dtype=float))
            # Price columns in a foreign currency move with P × X(c).
            priced_abroad = np.flatnonzero(
                ~book.column_is_yield & (book.column_currency != base_currency())
            )
            fx_column = np.searchsorted(self.foreign, book.column_currency[priced_abroad])
            levels[:, priced_abroad] *= fx[:, fx_column]
            complete[priced_abroad] &= fx_complete[fx_column]
        return levels, complete


def market_levels(
    book: Book, dates: Sequence[dt.date], *, max_carry: int = MAX_CARRY
) -> tuple[np.ndarray, np.ndarray]:
    """Levels of the book's instruments on `dates` and which are complete (two queries)."""
    return MarketHistory(book, dates[0], dates[-1]).levels(dates, max_carry=max_carry)


@dataclass
class Risk:
    """The book, its scenario moves over the window used and its P&L vector S.

    `window` is the window asked for; `window_used` the returns the history gives, up to
    it (a young fund or book has fewer). Below `min_window()` there is no VaR: `figures`
    is None and `var_unavailable` says why.
    """

    book: Book
    window: int
    window_used: int
    method: str
    moves: np.ndarray  # window_used × M
    complete: np.ndarray  # per position: it has window_used + 1 observations

    @property
    def short_history(self) -> bool:
        return self.window_used < self.window

    @property
    def var_unavailable(self) -> str | None:
        if self.window_used >= min_window() or not len(self.book.symbols):
            return None
        return (
            f"{self.window_used} daily returns of history to {self.book.state.as_of}; VaR "
            f"needs at least {min_window()} (PMS_RISK_MIN_WINDOW)."
        )

    @cached_property
    def pnl(self) -> np.ndarray:
        return self.scenario_pnl(np.ones(len(self.book.symbols), dtype=bool))

    def scenario_pnl(self, mask: np.ndarray) -> np.ndarray:
        """S for the positions in `mask` (those lacking history contribute nothing)."""
        take = mask & self.complete
        by_column = engine.column_exposure(
            self.book.column[take], self.book.exposure[take], len(self.book.instrument_ids)
        )
        return engine.scenario_pnl(self.moves, by_column)

    @cached_property
    def figures(self) -> engine.VarResult | None:
        if self.var_unavailable:
            return None
        return engine.var_es(self.pnl, self.method, CONFIDENCES)

    def var_table(self, confidence: float, mask: np.ndarray | None = None) -> dict[str, float]:
        """{"var": …, "es": …} at `confidence`, of the positions in `mask` (default all)."""
        figures = (
            self.figures
            if mask is None or mask.all()
            else engine.var_es(self.scenario_pnl(mask), self.method, [confidence])
        )
        assert figures is not None, "var_table() needs a VaR: check var_unavailable first"
        return {
            "var": figures.var[confidence],
            "es": figures.expected_shortfall[confidence],
        }

    @property
    def missing_history(self) -> list[str]:
        return sorted(set(self.book.symbols[~self.complete].tolist()))


def default_window() -> int:
    """The risk window when none is asked for: `PMS_RISK_WINDOW`, read here only."""
    return int(settings.PMS_RISK_WINDOW)


def min_window() -> int:
    """The fewest daily returns a VaR is computed from: `PMS_RISK_MIN_WINDOW`."""
    return int(settings.PMS_RISK_MIN_WINDOW)


def validate_request(window: int, method: str) -> None:
    errors = {}
    if method not in engine.METHODS:
        errors["method"] = [f"Unknown method {method!r}: use one of {', '.join(engine.METHODS)}."]
    if not min_window() <= window <= MAX_WINDOW:
        errors["window"] = [f"The window is {min_window()} to {MAX_WINDOW} daily returns."]
    if errors:
        raise ValidationError(errors)


def risk_compute(
    *, window: int | None = None, method: str = "historical", book: Book | None = None
) -> Risk:
    """The risk of a book (default: the live one) over `window` daily returns (default
    `PMS_RISK_WINDOW`) ending at its as-of date.

    The window shrinks to the history the book's instruments have (from the first date
    any of them is quoted); an instrument quoted later is in `missing_history` and adds no
    scenario. Raises ValidationError only for an unknown method or a window out of bounds.
    """
    window = window or default_window()
    validate_request(window, method)
    book = book or Book.load()
    dates = business_days_ending(book.state.as_of, window + 1)
    history = MarketHistory(book, dates[0], dates[-1])
    levels, complete = history.levels(dates)
    if len(book.symbols):
        quoted = np.flatnonzero(np.isfinite(levels).any(axis=1))
        first = int(quoted[0]) if len(quoted) else len(dates) - 1
        if first:  # a young history: the longest window it fills
            dates = dates[first:]
            levels, complete = history.levels(dates)
    levels[:, ~complete] = 1.0  # no scenarios from an incomplete history: moves of 0
    return Risk(
        book=book,
        window=window,
        window_used=len(dates) - 1,
        method=method,
        moves=engine.instrument_moves(levels, book.column_is_yield),
        complete=complete[book.column],
    )


# --- Limits -------------------------------------------------------------------------------

VAR_METRICS = {
    RiskLimit.Metric.VAR_95: ("var", 0.95),
    RiskLimit.Metric.VAR_99: ("var", 0.99),
    RiskLimit.Metric.ES_95: ("es", 0.95),
    RiskLimit.Metric.ES_99: ("es", 0.99),
}


@dataclass(frozen=True)
class LimitValue:
    limit: RiskLimit
    value: Decimal | None  # None: undefined (a ratio to a NAV that is not positive)
    unavailable: str = ""  # why there is no value to judge (a VaR without the history)

    @property
    def utilization(self) -> Decimal | None:
        if self.value is None:
            return None
        return (self.value / self.limit.limit).quantize(RATIO)

    @property
    def status(self) -> str:
        """ok, warning or breach; unavailable (neither a breach nor a clean bill) when the
        metric cannot be computed yet."""
        if self.unavailable:
            return "unavailable"
        if self.value is None or self.value > self.limit.limit:
            return "breach"
        if self.value >= self.limit.limit * self.limit.warning_fraction:
            return "warning"
        return "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.limit.pk,
            "name": self.limit.name,
            "metric": self.limit.metric,
            "scope": self.limit.scope,
            "limit": decimal_str(self.limit.limit),
            "value": decimal_str(self.value),
            "utilization": decimal_str(self.utilization),
            "status": self.status,
        }


def book_drawdown(book: Book) -> Drawdown:
    """The fund's drawdown on the book's date: from the timeline, and the live NAV for a
    live book's day that has no snapshot yet."""
    state = book.state
    return drawdown(state.as_of, nav=state.nav if state.live else None)


def limit_value(risk: Risk, limit: RiskLimit, fund_drawdown: Drawdown | None) -> LimitValue:
    """The value of a limit's metric on its scope of the book."""
    book, nav = risk.book, risk.book.state.nav
    mask = book.scope_mask(limit)
    notional = book.notional_cents[mask]
    metric = limit.metric
    M = RiskLimit.Metric
    value: Decimal | None
    if metric in VAR_METRICS:
        if risk.var_unavailable:
            return LimitValue(limit, None, risk.var_unavailable)
        figure, confidence = VAR_METRICS[M(metric)]
        value = money(risk.var_table(confidence, mask)[figure])
    elif metric == M.ASSET_CLASS_GROSS:
        value = Decimal(int(np.abs(notional).sum())).scaleb(-2)
    elif metric == M.DV01:
        value = Decimal(abs(int(book.dv01_cents[mask].sum()))).scaleb(-2)
    elif metric == M.DAILY_LOSS:
        pnl = int(book.daily_pnl_cents[mask].sum())
        pnl += int(book.closed_daily_pnl_cents[book.scope_mask(limit, closed=True)].sum())
        value = Decimal(max(-pnl, 0)).scaleb(-2)
    elif metric == M.DRAWDOWN:
        assert fund_drawdown is not None
        value = fund_drawdown.value
    elif nav <= 0:
        value = None
    else:
        cents_value = {
            M.GROSS_LEVERAGE: int(np.abs(notional).sum()),
            M.NET_LEVERAGE: abs(int(notional.sum())),
            M.CONCENTRATION: int(np.abs(notional).max(initial=0)),
        }[M(metric)]
        value = (Decimal(cents_value).scaleb(-2) / nav).quantize(RATIO)
    return LimitValue(limit, value)


def active_limits() -> list[RiskLimit]:
    return list(RiskLimit.objects.filter(is_active=True).order_by("name"))


def limits_evaluate(risk: Risk, fund_drawdown: Drawdown | None = None) -> list[LimitValue]:
    """Every active limit's value, utilization and status on the book."""
    limits = active_limits()
    if fund_drawdown is None and any(lim.metric == RiskLimit.Metric.DRAWDOWN for lim in limits):
        fund_drawdown = book_drawdown(risk.book)
    return [limit_value(risk, limit, fund_drawdown) for limit in limits]


class WhatIf:
    """VaR 95% and limit statuses of the book before a trade, and after it.

    A trade at the mark changes a position's notional and DV01, not NAV or the day's P&L,
    so the book after it is the same arrays with one position's entries moved. Each trade
    is judged alone against the current book. Without the history for a VaR, the what-if
    says why (`unavailable`) and still judges the limits that need none.
    """

    def __init__(self, risk: Risk):
        self.risk = risk
        self.limits = active_limits()
        needs_drawdown = any(lim.metric == RiskLimit.Metric.DRAWDOWN for lim in self.limits)
        self.drawdown = book_drawdown(risk.book) if needs_drawdown else None
        self.before = self._report(risk)

    def _report(self, risk: Risk) -> dict[str, Any]:
        figures = risk.figures
        return {
            "var_95": decimal_str(money(figures.var[0.95])) if figures else None,
            "limits": [limit_value(risk, limit, self.drawdown).as_dict() for limit in self.limits],
        }

    def after(self, position: int, notional_cents: int, dv01_cents: int) -> dict[str, Any]:
        """The what-if of a trade on row `position` of the book, by its base-currency
        notional and DV01 in cents."""
        book = self.risk.book
        notional, dv01 = book.notional_cents.copy(), book.dv01_cents.copy()
        notional[position] += notional_cents
        dv01[position] += dv01_cents
        after = self._report(
            replace(self.risk, book=replace(book, notional_cents=notional, dv01_cents=dv01))
        )
        return {
            "as_of": book.state.as_of.isoformat(),
            "method": self.risk.method,
            "window": self.risk.window,
            "window_used": self.risk.window_used,
            "short_history": self.risk.short_history,
            "unavailable": self.risk.var_unavailable,
            "var_95_before": self.before["var_95"],
            "var_95_after": after["var_95"],
            "limits_before": self.before["limits"],
            "limits_after": after["limits"],
            # Without the window's history the instrument adds nothing to the VaR.
            "missing_history": not bool(self.risk.complete[position]),
        }


# --- The live report ----------------------------------------------------------------------


def exposures_report(book: Book) -> tuple[dict[str, Any], dict[str, str]]:
    """The `exposures` block of the report, and DV01 by currency."""
    exposures = engine.exposures(
        book.notional_cents,
        book.dv01_cents,
        asset_class=book.asset_class,
        currency=book.currency,
        strategy=book.strategy,
    )
    nav = book.state.nav

    def share(cents_value: int) -> str | None:
        return (
            decimal_str((Decimal(cents_value).scaleb(-2) / nav).quantize(RATIO))
            if nav > 0
            else None
        )

    def split(groups: dict[str, tuple[int, int]]) -> dict[str, dict[str, str]]:
        return {k: {"gross": from_cents(g), "net": from_cents(n)} for k, (g, n) in groups.items()}

    top = engine.top_concentrations(book.notional_cents, TOP_CONCENTRATIONS)
    return {
        "gross": from_cents(exposures.gross),
        "net": from_cents(exposures.net),
        "long": from_cents(exposures.long),
        "short": from_cents(exposures.short),
        "leverage": share(exposures.gross),
        "by_asset_class": split(exposures.by_asset_class),
        "by_currency": split(exposures.by_currency),
        "by_strategy": split(exposures.by_strategy),
        "top_concentrations": [
            {
                "instrument": str(book.symbols[i]),
                "strategy": str(book.strategy[i]),
                "notional": from_cents(int(book.notional_cents[i])),
                "weight": share(abs(int(book.notional_cents[i]))),
            }
            for i in top
        ],
    }, {c: from_cents(v) for c, v in exposures.dv01_by_currency.items()}


def risk_report(risk: Risk, limits: list[LimitValue], fund_drawdown: Drawdown) -> dict[str, Any]:
    """The answer of GET /api/risk/live/ (without the cache fields), and the risk
    snapshot's content. VaR and ES are null when the history is too short for them."""
    exposures, dv01 = exposures_report(risk.book)
    figures = risk.figures

    def table(values: dict[float, float] | None) -> dict[str, str | None]:
        return {
            str(a): decimal_str(money(values[a])) if values is not None else None
            for a in CONFIDENCES
        }

    return {
        "as_of": risk.book.state.as_of.isoformat(),
        "nav": decimal_str(risk.book.state.nav),
        "method": risk.method,
        "window": risk.window,
        "window_used": risk.window_used,
        "short_history": risk.short_history,
        "var_unavailable": risk.var_unavailable,
        "var": table(figures.var if figures else None),
        "expected_shortfall": table(figures.expected_shortfall if figures else None),
        "exposures": exposures,
        "dv01_by_currency": dv01,
        "drawdown": fund_drawdown.as_dict(),
        "limits": [value.as_dict() for value in limits],
        "missing_history": risk.missing_history,
    }


def risk_of(
    book: Book, *, window: int | None = None, method: str = "historical"
) -> tuple[Risk, list[LimitValue], dict[str, Any]]:
    """A book's risk, its limits and the report of both."""
    risk = risk_compute(window=window, method=method, book=book)
    fund_drawdown = book_drawdown(book)
    limits = limits_evaluate(risk, fund_drawdown)
    return risk, limits, risk_report(risk, limits, fund_drawdown)


def live_risk(*, window: int | None = None, method: str = "historical") -> dict[str, Any]:
    """GET /api/risk/live/: the live book's risk."""
    return risk_of(Book.load(), window=window, method=method)[2]


def risk_on(day: dt.date, *, window: int | None = None) -> dict[str, Any]:
    """The risk of the book at the close of a past business day, from the timeline."""
    return risk_of(Book.load(book_state_on(day)), window=window)[2]


# --- Stress -------------------------------------------------------------------------------


def shocks_from(rows: Iterable[dict[str, Any]]) -> list[engine.Shock]:
    return [
        engine.Shock(
            row["target_type"], row["target"], float(row["shock"]), row.get("quote_type") or None
        )
        for row in rows
    ]


def stress_run(
    *,
    shocks: Sequence[engine.Shock] = (),
    window: tuple[dt.date, dt.date] | None = None,
) -> dict[str, Any]:
    """P&L of the current book under shocks, or under the moves of a historical window."""
    book = Book.load()
    missing: list[str] = []
    if window is None:
        moves = engine.shock_vector(
            shocks,
            instrument=book.symbols,
            asset_class=book.asset_class,
            currency=book.currency,
            is_yield=book.is_yield,
        )
    else:
        # The window's two ends as a two-row grid: one move from start to end.
        levels, complete = market_levels(book, list(window), max_carry=0)
        levels[:, ~complete] = 1.0
        column_moves = engine.instrument_moves(levels, book.column_is_yield)[0]
        has_history = complete[book.column]
        moves = np.where(has_history, column_moves[book.column], 0.0)
        missing = sorted(set(book.symbols[~has_history].tolist()))
    # Rounded per position, and the total is the sum of the rounded rows: they add up.
    pnl = [money(float(value)) for value in book.exposure * moves]
    return {
        "as_of": book.state.as_of.isoformat(),
        "pnl": decimal_str(sum(pnl, Decimal("0.00"))),
        "by_position": [
            {"instrument": str(symbol), "strategy": str(strategy), "pnl": decimal_str(value)}
            for symbol, strategy, value in zip(book.symbols, book.strategy, pnl, strict=True)
        ],
        "missing_history": missing,
    }


def scenario_run(scenario: StressScenario) -> dict[str, Any]:
    start, end = scenario.historical_start, scenario.historical_end
    if start is not None and end is not None:
        result = stress_run(window=(start, end))
    else:
        result = stress_run(shocks=shocks_from(scenario.shocks))
    return {"scenario": scenario.pk, "name": scenario.name, **result}
