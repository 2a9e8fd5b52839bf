"""Where the historical VaR comes from: each position's, strategy's, asset class's or
currency's component VaR (their P&L in the VaR scenario, adding up to VaR to the cent),
its share, and each strategy's incremental VaR (DESIGN.md "Risk decomposition")."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.core.exceptions import ValidationError

from core.formatting import ratio
from portfolio.selectors import book_state_on

from .. import engine
from .book import BookArrays, money
from .var import risk_compute

BY = ("position", "strategy", "asset_class", "currency")
DEFAULT_CONFIDENCE = 0.99


@dataclass(frozen=True)
class ComponentVar:
    """A key's component VaR (money) and its share of VaR (to 6 places; None when VaR is 0)."""

    key: str
    component_var: Decimal
    share: Decimal | None


@dataclass(frozen=True)
class IncrementalVar:
    strategy: str
    incremental_var: Decimal


@dataclass(frozen=True)
class Decomposition:
    """The VaR of the book of `as_of` and its components, largest first (they add up to it)."""

    as_of: dt.date
    by: str
    confidence: float
    window_used: int
    var: Decimal
    rows: tuple[ComponentVar, ...]
    incremental: tuple[IncrementalVar, ...]


def validate_decomposition(by: str, confidence: float) -> None:
    errors = {}
    if by not in BY:
        errors["by"] = [f"Unknown breakdown {by!r}: use one of {', '.join(BY)}."]
    if not 0.5 < confidence < 1:
        errors["confidence"] = ["The confidence is between 0.5 and 1 (exclusive), e.g. 0.99."]
    if errors:
        raise ValidationError(errors)


def decomposition(
    *,
    by: str = "position",
    confidence: float = DEFAULT_CONFIDENCE,
    window: int | None = None,
    as_of: dt.date | None = None,
) -> Decomposition:
    """The historical VaR at `confidence` over `window` (default PMS_RISK_WINDOW) of the
    live book, or of the book at the close of `as_of` from the timeline, decomposed `by`
    position, strategy, asset class or currency: rows largest component first, with their
    share of VaR; and every strategy's incremental VaR (the VaR, minus the VaR without
    it: positive when the strategy adds risk). 400 when the history is too short for a VaR."""
    validate_decomposition(by, confidence)
    book = None if as_of is None else BookArrays.load(book_state_on(as_of))
    risk = risk_compute(window=window, method="historical", book=book)
    if risk.var_unavailable:
        raise ValidationError({"window": [risk.var_unavailable]})
    book = risk.book
    exposure = np.where(risk.complete, book.exposure, 0.0)  # no history, no scenario
    var, components = engine.component_var(risk.moves, book.column, exposure, confidence)
    keys = {
        "position": np.char.add(np.char.add(book.symbols, "/"), book.strategy),
        "strategy": book.strategy,
        "asset_class": book.asset_class,
        "currency": book.currency,
    }[by]
    distinct, sums = engine.group_sums(keys, components)
    in_cents = engine.cents_adding_up(sums, var)
    var_cents = round(var * 100)
    rows = tuple(
        ComponentVar(
            key=str(key),
            component_var=Decimal(int(cents)).scaleb(-2),
            share=ratio(Decimal(int(cents)) / var_cents) if var_cents else None,
        )
        for key, cents in sorted(zip(distinct, in_cents, strict=True), key=lambda r: -r[1])
    )
    strategies, incremental = engine.incremental_var(
        risk.moves, book.column, exposure, book.strategy, confidence
    )
    return Decomposition(
        as_of=book.state.as_of,
        by=by,
        confidence=confidence,
        window_used=risk.window_used,
        var=Decimal(var_cents).scaleb(-2),
        rows=rows,
        incremental=tuple(
            IncrementalVar(str(code), money(float(value)))
            for code, value in zip(strategies, incremental, strict=True)
        ),
    )
