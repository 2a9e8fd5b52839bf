"""Stress runs: the book's P&L under shocks or a historical window's moves."""

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from core.formatting import decimal_str

from .. import engine
from ..models import StressScenario
from .book import BookArrays, money
from .market import market_levels


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
    book: BookArrays | None = None,
) -> dict[str, Any]:
    """P&L of the current book (or `book`, a past close's, say) under shocks, or under the
    moves of a historical window (a DI1 revalued in full at today's rate and days to
    maturity: q × (PU(y + Δy) − PU(y)) × X)."""
    book = BookArrays.load() if book is None else book
    missing: list[str] = []
    if window is None:
        shocked = engine.shock_vector(
            shocks,
            instrument=book.symbols,
            asset_class=book.asset_class,
            currency=book.currency,
            is_yield=book.is_yield,
        )
        moves = book.unit_moves(shocked, book.column)  # a DI1's bp shock revalued in full
    else:
        # The window's two ends as a two-row grid: one move from start to end.
        levels, complete = market_levels(book, list(window), max_carry=0)
        levels[:, ~complete] = 1.0
        column_moves = engine.instrument_moves(levels, book.column_is_yield)[0]
        column_moves = book.unit_moves(column_moves, np.arange(len(book.instrument_ids)))
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


def scenario_run(scenario: StressScenario, *, book: BookArrays | None = None) -> dict[str, Any]:
    """A stored scenario's stress run on the current book, or on `book`."""
    start, end = scenario.historical_start, scenario.historical_end
    if start is not None and end is not None:
        result = stress_run(window=(start, end), book=book)
    else:
        result = stress_run(shocks=shocks_from(scenario.shocks), book=book)
    return {"scenario": scenario.pk, "name": scenario.name, **result}


def stress(
    *, scenario: StressScenario | None = None, shocks: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A stored scenario's run, or that of shocks as `services.shocks_clean` leaves them:
    what POST /api/risk/stress/ answers and the admin's stress page shows."""
    if scenario is not None:
        return scenario_run(scenario)
    return stress_run(shocks=shocks_from(shocks))
