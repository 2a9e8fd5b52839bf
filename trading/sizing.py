"""Volatility-targeted sizing of DESIGN.md "Trade proposals", as pure functions on Decimals.

target = score × risk_budget / (σ × unit value): the position whose daily P&L volatility is
`|score|` of the strategy's budget. σ and the unit value are in matching units: a simple
return and `P × m × X(c)` for a price instrument, a bp and `dv01 × X(c)` for a yield one
(for a DI1, the DV01 of one contract from its PU: `PU(y − 0.01, n) − PU(y, n)`).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from portfolio import di1
from portfolio.ledger import Terms, dv01_local, notional_local

ONE = Decimal(1)

QUANTITY = Decimal("0.000001")  # the precision positions are kept in


def unit_value(terms: Terms, price: Decimal, fx_rate: Decimal, days: int) -> Decimal:
    """Base-currency P&L of one contract per unit move (a return of 1, or 1 bp); `days`
    is a DI1's business days to maturity (its `price` the rate)."""
    if terms.is_di1:
        return di1.dv01_per_contract(price, days) * fx_rate
    if terms.is_yield:
        return dv01_local(terms, ONE) * fx_rate
    return notional_local(terms, ONE, price) * fx_rate


def target_quantity(score: Decimal, risk_budget: Decimal, sigma: Decimal, unit: Decimal) -> Decimal:
    return (score * risk_budget / (sigma * unit)).quantize(QUANTITY, rounding=ROUND_HALF_UP)


def round_to_lot(quantity: Decimal, lot_size: Decimal) -> Decimal:
    """The nearest multiple of the lot size (halves away from zero)."""
    return (quantity / lot_size).to_integral_value(rounding=ROUND_HALF_UP) * lot_size


@dataclass(frozen=True)
class Sizing:
    target: Decimal
    trade: Decimal  # target − current, rounded to the lot; 0 when too small to propose
    reason: str = ""  # why there is no trade


def size_trade(
    *, target: Decimal, current: Decimal, lot_size: Decimal, min_trade_fraction: Decimal
) -> Sizing:
    """The trade from `current` to `target`, or none when it is zero or smaller than
    `min_trade_fraction` of |target|."""
    trade = round_to_lot(target - current, lot_size)
    if trade == 0:
        return Sizing(target, Decimal(0), "at target (the trade rounds to zero lots)")
    minimum = min_trade_fraction * abs(target)
    if abs(trade) < minimum:
        return Sizing(
            target,
            Decimal(0),
            f"trade of {trade.normalize():f} is below the minimum "
            f"{min_trade_fraction.normalize():f} × |target| = {minimum.quantize(QUANTITY):f}",
        )
    return Sizing(target, trade)
