"""The open book as arrays, one entry per position: what every risk figure starts from."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

import numpy as np

from portfolio.ledger import cents, to_cents
from portfolio.selectors import BookState, base_currency, book_state

from .. import engine
from ..models import RiskLimit


def money(value: float) -> Decimal:
    """A float figure (VaR, a stress P&L) in cents."""
    return to_cents(Decimal(repr(value + 0.0)))  # + 0.0: −0.0 (−VaR of no moves) is 0.00


def labels(values: Iterable[str]) -> np.ndarray:
    return np.array(list(values), dtype=object).astype(str)


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
    notional_cents: np.ndarray
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
