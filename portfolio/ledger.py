"""The P&L arithmetic of DESIGN.md, as pure functions on Decimals (and, for exposures, on
integer cents in numpy): each rule of the book's figures is defined here once.

Local figures are exact; a figure is rounded once, to the cent, when it becomes a
base-currency amount.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from .di1 import Di1Quote

CENT = Decimal("0.01")
COST_PLACES = Decimal("1e-12")
ZERO = Decimal("0")
BP_PER_PERCENT = Decimal("100")


def to_cents(amount: Decimal) -> Decimal:
    """A base-currency amount, rounded half up to the cent (the one rounding of money)."""
    return amount.quantize(CENT, ROUND_HALF_UP)


class Terms(NamedTuple):
    """What an instrument's contract pays: how a move of its quote becomes money (a named
    tuple: made once per instrument, a key of `mark_rule`'s cache)."""

    quote_type: str  # "price" or "yield"
    multiplier: Decimal
    dv01: Decimal
    settlement: str = "margined"  # or "funded": bought outright, its cost paid up front
    pricing: str = "linear"  # or "di1": valued by B3's unit price (`portfolio.di1`)
    maturity: dt.date | None = None

    @classmethod
    def of(cls, instrument: Any) -> "Terms":
        """The terms of an instrument (any object with its fields)."""
        return cls(
            instrument.quote_type,
            instrument.multiplier,
            instrument.dv01,
            instrument.settlement,
            instrument.pricing,
            instrument.maturity,
        )

    @property
    def is_di1(self) -> bool:
        return self.pricing == "di1"

    @property
    def is_yield(self) -> bool:
        return self.quote_type == "yield"

    @property
    def is_funded(self) -> bool:
        return self.settlement == "funded"


PnlRule = Callable[[Decimal, Decimal, Decimal], Decimal]


@cache
def pnl_rule(terms: Terms) -> PnlRule:
    """How a quote's move becomes money in the instrument's currency: the P&L of holding
    `quantity` while the quote moves `from_quote` → `to_quote`, for these terms (read once).

    Price: q × (to − from) × m. Yield (percent): −q × dv01 × (to − from) × 100, since a
    long position gains when the yield falls.
    """
    if terms.is_yield:
        dv01 = terms.dv01

        def yield_quoted(quantity: Decimal, from_quote: Decimal, to_quote: Decimal) -> Decimal:
            return -quantity * dv01 * (to_quote - from_quote) * BP_PER_PERCENT

        return yield_quoted
    multiplier = terms.multiplier

    def price_quoted(quantity: Decimal, from_quote: Decimal, to_quote: Decimal) -> Decimal:
        return quantity * (to_quote - from_quote) * multiplier

    return price_quoted


def pnl_local(terms: Terms, quantity: Decimal, from_quote: Decimal, to_quote: Decimal) -> Decimal:
    """P&L in the instrument's currency of holding `quantity` while the quote moves
    (`pnl_rule`)."""
    return pnl_rule(terms)(quantity, from_quote, to_quote)


@dataclass(frozen=True)
class TradeEffect:
    quantity: Decimal  # the position's quantity after the trade
    avg_cost: Decimal  # its average cost after the trade
    realized_local: Decimal  # P&L realized by the trade, before fees
    crossed_zero: bool  # the trade closed the position and opened the remainder at `price`


def apply_trade(
    terms: Terms, quantity: Decimal, avg_cost: Decimal, trade_quantity: Decimal, price: Decimal
) -> TradeEffect:
    """Average-cost accounting of one trade against a position (quantity, avg_cost)."""
    new_quantity = quantity + trade_quantity
    if quantity == 0 or (quantity > 0) == (trade_quantity > 0):
        cost = (quantity * avg_cost + trade_quantity * price) / new_quantity
        return TradeEffect(new_quantity, cost.quantize(COST_PLACES), ZERO, False)
    if abs(trade_quantity) <= abs(quantity):
        # Reducing: the closed quantity −t realizes its move from C to p; C is unchanged.
        realized = pnl_local(terms, -trade_quantity, avg_cost, price)
        return TradeEffect(new_quantity, avg_cost if new_quantity else ZERO, realized, False)
    # Crossing zero: the whole position is closed, the remainder opens at the trade price.
    realized = pnl_local(terms, quantity, avg_cost, price)
    return TradeEffect(new_quantity, price, realized, True)


@dataclass(frozen=True)
class BookedTrade:
    """A trade's effect on a position in base currency (DESIGN.md "Instruments")."""

    local: TradeEffect
    cost_base: Decimal  # K after the trade: funded positions only (zero when margined)
    realized_base: Decimal  # P&L the trade realized, before fees
    realized_fx_base: Decimal  # the part of it from the currency's move on the cost


def _paid(terms: Terms, quantity: Decimal, price: Decimal, fx_rate: Decimal) -> Decimal:
    """What `quantity` of a funded (price-quoted) instrument costs at `price`, in base."""
    return to_cents(quantity * price * terms.multiplier * fx_rate)


class _Pooled(NamedTuple):
    cost_base: Decimal  # K after the trade
    realized: Decimal  # what the trade realized, in base


def _pooled(
    quantity: Decimal,
    cost_base: Decimal,
    trade_quantity: Decimal,
    local: TradeEffect,
    paid: Callable[[Decimal], Decimal],
) -> _Pooled:
    """A cost pool K at average cost: a same-direction trade adds what it paid (`paid` of
    its quantity); a reduction realizes its proceeds less its share of K; crossing zero
    realizes the whole position and opens the remainder at its own cost."""
    if quantity == 0 or (quantity > 0) == (trade_quantity > 0):
        return _Pooled(cost_base + paid(trade_quantity), ZERO)
    if local.crossed_zero:
        return _Pooled(paid(local.quantity), paid(quantity) - cost_base)
    closed = -trade_quantity
    released = cost_base if local.quantity == 0 else to_cents(cost_base * closed / quantity)
    return _Pooled(cost_base - released, paid(closed) - released)


def book_trade(
    terms: Terms,
    quantity: Decimal,
    avg_cost: Decimal,
    cost_base: Decimal,
    trade_quantity: Decimal,
    price: Decimal,
    fx_rate: Decimal,
    unit: Decimal | None = None,
) -> BookedTrade:
    """One trade against a position (quantity, avg_cost, cost base K) at X(c, trade date).

    Margined: the realized local P&L converted at `fx_rate`; no cost base. Funded: K adds
    what a same-direction trade paid at `fx_rate`; a reduction realizes its proceeds at
    `fx_rate` minus its share of K (the price part is its local P&L at `fx_rate`, the rest
    is the currency's move on that share of the cost). DI1: K pools the contracts' unit
    values (`unit`: the trade's PU less the CDI corrections accrued by then, `Di1Quote`),
    so that a reduction realizes its share of the daily settlements; the average cost is
    the average traded rate.
    """
    local = apply_trade(terms, quantity, avg_cost, trade_quantity, price)
    if terms.is_di1:
        assert unit is not None, "a DI1 trade is booked at its unit value"
        pool = _pooled(
            quantity, cost_base, trade_quantity, local, lambda q: to_cents(q * unit * fx_rate)
        )
        return BookedTrade(local, pool.cost_base, pool.realized, ZERO)
    price_part = to_cents(local.realized_local * fx_rate)
    if not terms.is_funded:
        return BookedTrade(local, ZERO, price_part, ZERO)
    pool = _pooled(
        quantity,
        cost_base,
        trade_quantity,
        local,
        lambda q: _paid(terms, q, price, fx_rate),
    )
    return BookedTrade(local, pool.cost_base, pool.realized, pool.realized - price_part)


class Figures(NamedTuple):
    """A position's base-currency figures at a mark (quote, FX rate): `mark_rule`'s tuple,
    named."""

    notional_base: Decimal
    market_value_base: Decimal
    unrealized_pnl_base: Decimal
    dv01_base: Decimal
    fx_pnl_base: Decimal  # funded: the part of unrealized from the currency's move (else 0)

    @property
    def price_pnl_base(self) -> Decimal:
        return self.unrealized_pnl_base - self.fx_pnl_base


# What a position is marked at: its instrument's close (a price or a yield), or for a DI1
# its `Di1Quote` on the day (the rate is not enough: the PU depends on the day too).
Quote = Decimal | Di1Quote


def mark_figures(
    terms: Terms,
    quantity: Decimal,
    avg_cost: Decimal,
    quote: Quote,
    fx_rate: Decimal,
    cost_base: Decimal | None = None,
) -> Figures:
    """Notional, market value, unrealized P&L and DV01 in base currency (`mark_rule`)."""
    return Figures._make(mark_rule(terms)(quantity, avg_cost, quote, fx_rate, cost_base))


# A position's figures as a plain tuple, in the order of `Figures`' fields.
FigureRow = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
MarkRule = Callable[..., FigureRow]  # (q, C, quote, X, K) → figures
NO_CENTS = Decimal("0.00")


QuantityRule = Callable[[Decimal, Decimal], Decimal]


@cache
def notional_rule(terms: Terms) -> QuantityRule:
    """Notional in the instrument's currency of `quantity` at `quote`: q × P × m, or q × m
    for a yield-quoted instrument (its multiplier is the notional per contract)."""
    multiplier = terms.multiplier
    if terms.is_yield:
        return lambda quantity, quote: quantity * multiplier
    return lambda quantity, quote: quantity * quote * multiplier


def notional_local(terms: Terms, quantity: Decimal, quote: Decimal) -> Decimal:
    """`notional_rule`'s notional."""
    return notional_rule(terms)(quantity, quote)


def dv01_local(terms: Terms, quantity: Decimal) -> Decimal:
    """The value of one basis point in the instrument's currency: q × dv01."""
    return quantity * terms.dv01


def size_local(terms: Terms, quantity: Decimal, quote: Quote) -> tuple[Decimal, Decimal]:
    """Notional and DV01 of `quantity` at `quote`, in the instrument's currency (a DI1's
    from its PU)."""
    if isinstance(quote, Di1Quote):
        return quantity * quote.pu, quantity * quote.dv01
    return notional_local(terms, quantity, quote), dv01_local(terms, quantity)


@cache
def mark_rule(terms: Terms) -> MarkRule:
    """The figures of a position (quantity q, avg_cost C, cost base K) in an instrument of
    these terms marked at (quote P, fx_rate X), in `Figures`' order, with the terms read
    once: for marking many positions of one instrument.

    Margined: unrealized is the local P&L at X. Funded (K required): unrealized is the
    market value q × P × m × X − K, of which the local P&L at X is the price part and the
    rest the FX part. A yield instrument's market value is its unrealized P&L (what the
    contract is worth), not its notional. DV01 is 0.00 for an instrument without one.
    A DI1 is marked at its `Di1Quote` (`_di1_figures`).
    """
    if terms.is_di1:
        return _di1_figures
    pnl, notional_of, dv01 = pnl_rule(terms), notional_rule(terms), terms.dv01
    is_yield, funded = terms.is_yield, terms.is_funded

    def figures(
        q: Decimal, C: Decimal, P: Decimal, X: Decimal, K: Decimal | None = None
    ) -> FigureRow:
        notional = to_cents(notional_of(q, P) * X)
        price_part = to_cents(pnl(q, C, P) * X)
        dv01_base = to_cents(dv01_local(terms, q) * X) if dv01 else NO_CENTS
        if is_yield:
            return notional, price_part, price_part, dv01_base, ZERO
        if not funded:
            return notional, notional, price_part, dv01_base, ZERO
        assert K is not None, "a funded position's figures need its cost base"
        unrealized = notional - K
        return notional, notional, unrealized, dv01_base, unrealized - price_part

    return figures


def _di1_figures(
    q: Decimal, C: Decimal, P: Di1Quote, X: Decimal, K: Decimal | None = None
) -> FigureRow:
    """A DI1 position's figures: notional q × PU; unrealized, the sum of its daily
    settlements since it opened, q × (PU − accrual) − K (K pools its contracts' unit values
    at their trades, `book_trade`), which is also what it is worth; DV01 q × the DV01 of a
    contract from the PU."""
    assert K is not None, "a DI1 position's figures need its cost base"
    unrealized = to_cents(q * P.unit_value * X) - K
    return to_cents(q * P.pu * X), unrealized, unrealized, to_cents(q * P.dv01 * X), ZERO


class TradeLeg(NamedTuple):
    """A trade as a position's day sees it: signed quantity, price, X(c, trade date), fees
    (base)."""

    quantity: Decimal
    price: Decimal
    fx_rate: Decimal
    fees: Decimal = ZERO
    unit: Decimal | None = None  # a DI1's: its PU less the CDI corrections accrued by then


class Holdings(NamedTuple):
    """What a position holds at a moment: the state its next trade starts from and, at a
    close, what it is worth (`position_day`)."""

    quantity: Decimal
    avg_cost: Decimal
    cost_base: Decimal  # funded: K (zero when margined)
    realized: Decimal  # cumulative realized P&L, base, net of fees

    def booked(self, terms: Terms, trade: TradeLeg) -> "Booked":
        """These holdings with one more trade booked on them (`book_trade`)."""
        booked = book_trade(
            terms,
            self.quantity,
            self.avg_cost,
            self.cost_base,
            trade.quantity,
            trade.price,
            trade.fx_rate,
            trade.unit,
        )
        realized = booked.realized_base - trade.fees
        local = booked.local
        held = Holdings(local.quantity, local.avg_cost, booked.cost_base, self.realized + realized)
        return Booked(held, booked, realized)

    def after(self, terms: Terms, trade: TradeLeg) -> "Holdings":
        return self.booked(terms, trade).held


class Booked(NamedTuple):
    """A trade booked on holdings: what they hold after it, what it did, and the P&L it
    realized in base, net of its fees."""

    held: Holdings
    trade: BookedTrade
    realized: Decimal


NOTHING = Holdings(ZERO, ZERO, ZERO, ZERO)


class PositionDay(NamedTuple):
    """A position's day: what it holds at the close, its figures there, its value
    (unrealized + cumulative realized) and its daily P&L, the value's move since the
    start of the day."""

    held: Holdings
    figures: Figures
    value: Decimal
    daily_pnl: Decimal


def position_day(
    terms: Terms, start: Decimal, held: Holdings, quote: Quote, fx_rate: Decimal
) -> PositionDay:
    """The day of a position worth `start` at the previous business day's close (what it
    held then, valued there: `start_value`) that holds `held` after the day's trades
    (booked by `Holdings.booked`), marked at the day's close (quote, fx_rate): DESIGN.md's
    daily P&L `(U_t + R_t) − (U_{t−1} + R_{t−1})`. The live book and the timeline both
    compute a position's day with it."""
    figures = mark_figures(terms, held.quantity, held.avg_cost, quote, fx_rate, held.cost_base)
    value = figures.unrealized_pnl_base + held.realized
    return PositionDay(held, figures, value, value - start)


def start_value(terms: Terms, held: Holdings, quote: Quote, fx_rate: Decimal) -> Decimal:
    """What `held` is worth at a close (quote, fx_rate), unrealized + cumulative realized:
    the start of the next business day."""
    return position_day(terms, ZERO, held, quote, fx_rate).value


# --- The fund's figures: one definition each ---------------------------------------------


def is_stale(price_date: dt.date | None, as_of: dt.date) -> bool:
    """A position is marked at a stale price when its close is older than the day it is
    marked for (or it has none)."""
    return price_date is None or price_date < as_of


@dataclass(frozen=True)
class Exposure:
    """Notional exposure in integer cents of the base currency (exact sums)."""

    long: int
    short: int  # negative or zero

    @property
    def gross(self) -> int:
        return self.long - self.short

    @property
    def net(self) -> int:
        return self.long + self.short


def cents(values: Iterable[Decimal]) -> np.ndarray:
    """Base-currency amounts (to the cent) as integer cents."""
    return np.fromiter((int(v * 100) for v in values), dtype=np.int64)


def exposure(notional_cents: np.ndarray) -> Exposure:
    """Long, short, gross and net notional of a set of positions."""
    return Exposure(
        long=int(notional_cents[notional_cents > 0].sum()),
        short=int(notional_cents[notional_cents < 0].sum()),
    )


def exposure_by(keys: np.ndarray, notional_cents: np.ndarray) -> dict[str, Exposure]:
    """The exposure of each group of positions (by asset class, currency, strategy…), in
    the order of the keys."""
    names, index = np.unique(keys, return_inverse=True)
    long = np.zeros(len(names), dtype=np.int64)
    short = np.zeros(len(names), dtype=np.int64)
    np.add.at(long, index, np.where(notional_cents > 0, notional_cents, 0))
    np.add.at(short, index, np.where(notional_cents < 0, notional_cents, 0))
    return {
        str(k): Exposure(int(lo), int(sh)) for k, lo, sh in zip(names, long, short, strict=True)
    }


def drawdowns(returns: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """After each day of a run of daily returns: the drawdown of the NAV index, and the
    index of the day of its peak (−1: the morning of the first day)."""
    # The index starts at 1 on the morning of the first day, then moves with each return.
    index = np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns, dtype=float))])
    peak = np.maximum.accumulate(index)
    peak_at = np.maximum.accumulate(np.where(index >= peak, np.arange(len(index)), 0))
    return np.maximum(1.0 - index / peak, 0.0)[1:], peak_at[1:] - 1
