"""The open book as arrays, one entry per position: what every risk figure starts from."""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np

from core.calendar import anbima_days
from portfolio.ledger import cents, to_cents
from portfolio.models import Instrument
from portfolio.selectors import (
    BookState,
    base_currency,
    book_state,
    fx_rates_on,
    latest_prices,
)

from .. import engine
from ..models import RiskLimit


def money(value: float) -> Decimal:
    """A float figure (VaR, a stress P&L) in cents."""
    return to_cents(Decimal(repr(value + 0.0)))  # + 0.0: −0.0 (−VaR of no moves) is 0.00


def labels(values: Iterable[str]) -> np.ndarray:
    return np.array(list(values), dtype=object).astype(str)


@dataclass(frozen=True)
class ColumnTerms:
    """What risk needs of each instrument column beyond the position rows: whether it is a
    DI1, its maturity and root (its contract chain, "" when none), the business days to
    maturity on the national calendar (DI1's n, 0 without a maturity), its close on or
    before the book's date (a DI1's rate; NaN when none) and X(c) on that date."""

    is_di1: np.ndarray
    maturity: list[dt.date | None]
    root: np.ndarray
    days: np.ndarray
    close: np.ndarray
    fx: np.ndarray

    @property
    def dated(self) -> np.ndarray:
        return np.array([day is not None for day in self.maturity], dtype=bool)

    @classmethod
    def load(
        cls, rows: Sequence[dict[str, Any]], instrument_ids: list[int], as_of: dt.date
    ) -> "ColumnTerms":
        """The terms of the columns `instrument_ids` (sorted) from the book's rows; a DI1's
        close is its positions' mark, read (one query) only for a DI1 the book holds no
        position of yet (a what-if's), and X(c) only for a DI1 in a foreign currency."""
        first = {row["instrument_id"]: row for row in reversed(rows)}
        columns = [first[pk] for pk in instrument_ids]
        is_di1 = np.array([row["pricing"] == Instrument.Pricing.DI1 for row in columns], bool)
        held = [row for row, priced_by_pu in zip(columns, is_di1, strict=True) if priced_by_pu]
        closes = {row["instrument_id"]: row["last_price"] for row in held}
        unmarked = [pk for pk, close in closes.items() if close is None]
        if unmarked:
            closes.update({pk: close for pk, (_, close) in latest_prices(as_of, unmarked).items()})
        rates = fx_rates_on(as_of, {row["currency"] for row in held})
        maturity = [row["maturity"] for row in columns]
        ends = np.array([day or as_of for day in maturity], dtype="datetime64[D]")
        return cls(
            is_di1=is_di1,
            maturity=maturity,
            root=labels(row["root"] for row in columns),
            days=anbima_days(as_of, ends) if columns else np.zeros(0, dtype=np.int64),
            close=np.array(
                [np.nan if closes.get(pk) is None else float(closes[pk]) for pk in instrument_ids]
            ),
            # X(c) of a DI1's currency (NaN when it has no rate yet); other columns need none.
            fx=np.array([float(rates.get(row["currency"], "nan")) for row in columns]),
        )


@dataclass
class BookArrays:
    """The open positions as arrays, one entry per position, and their instrument columns."""

    state: BookState
    symbols: np.ndarray
    strategy: np.ndarray
    asset_class: np.ndarray
    currency: np.ndarray
    is_yield: np.ndarray
    column: np.ndarray  # index into `instrument_ids`
    instrument_ids: list[int]
    terms: ColumnTerms  # per column
    quantity: np.ndarray
    notional_cents: np.ndarray  # as stored (a DI1's from its PU: `portfolio.ledger`)
    dv01_cents: np.ndarray
    daily_pnl_cents: np.ndarray  # 0 unless the position's P&L date is the book's as-of
    closed_strategy: np.ndarray  # the positions closed on as-of, whose daily P&L counts
    closed_asset_class: np.ndarray
    closed_daily_pnl_cents: np.ndarray

    @classmethod
    def load(
        cls, state: BookState | None = None, extra: Sequence[dict[str, Any]] = ()
    ) -> "BookArrays":
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
            terms=ColumnTerms.load(rows, instrument_ids, state.as_of),
            quantity=np.array([float(row["quantity"]) for row in rows]),
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

    def traded(
        self, position: int, quantity: float, notional_cents: int, dv01_cents: int
    ) -> "BookArrays":
        """The book after a trade of `quantity` on row `position` that adds `notional_cents`
        and `dv01_cents` (a DI1 is revalued from its quantity)."""
        held, notional, dv01 = (
            self.quantity.copy(),
            self.notional_cents.copy(),
            self.dv01_cents.copy(),
        )
        held[position] += quantity
        notional[position] += notional_cents
        dv01[position] += dv01_cents
        return replace(self, quantity=held, notional_cents=notional, dv01_cents=dv01)

    @cached_property
    def is_di1(self) -> np.ndarray:
        return self.terms.is_di1[self.column]  # type: ignore[no-any-return]

    @cached_property
    def exposure(self) -> np.ndarray:
        return engine.position_exposure(
            self.notional_cents / 100.0,
            self.dv01_cents / 100.0,
            self.is_yield,
            is_di1=self.is_di1,
            contracts_base=self.quantity * self.terms.fx[self.column],
        )

    def unit_moves(self, moves: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """`moves` (its last axis: the instrument columns `columns`) in the units of the
        book's exposures: a DI1's bp move becomes the change of one contract's PU, revalued
        in full from its close rate (`engine.revalued`); the others' are unchanged."""
        at = np.flatnonzero(self.terms.is_di1[columns])
        if not len(at):
            return moves
        revalued = np.array(moves, dtype=float)
        column = columns[at]
        # A DI1 never quoted has no history, hence no scenario: its moves stay 0, not NaN.
        revalued[..., at] = np.nan_to_num(
            engine.revalued(revalued[..., at], self.terms.close[column], self.terms.days[column])
        )
        return revalued

    @cached_property
    def tenor_bucket(self) -> np.ndarray:
        """Each position's DV01 tenor bucket (an index into `engine.TENOR_BUCKETS`)."""
        bucket = engine.tenor_bucket(self.terms.days, self.terms.dated)
        return bucket[self.column]  # type: ignore[no-any-return]

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
        if limit.scope_type == RiskLimit.ScopeType.TENOR:
            # Positions closed today carry no DV01: none is in a tenor's scope.
            if closed:
                return np.zeros(len(strategy), dtype=bool)
            bucket = engine.TENOR_BUCKETS.index(limit.scope_value)
            return self.tenor_bucket == bucket  # type: ignore[no-any-return]
        return np.ones(len(strategy), dtype=bool)
