"""B3's DI1 future (DESIGN.md "Dated instruments and DI1 futures"), as pure functions.

A DI1 is quoted as a rate `y` (percent a year, 252 business days) and settles by its unit
price (PU, 1 BRL per point): `PU(y, n) = 100000 / (1 + y/100)^(n/252)`, `n` the national
(ANBIMA) business days from the date (included) to the maturity (excluded). B3's prices
are in cents; risk revalues the PU unrounded. Decimal for money, numpy for scenarios.
"""

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import NamedTuple

import numpy as np

FACE = Decimal("100000")  # the PU at maturity: the final settlement
ONE_BP = Decimal("0.01")  # one basis point, in the rate's percent
CENT = Decimal("0.01")
_DAYS_A_YEAR = Decimal("252")


def unit_price_exact(rate: Decimal, days: int) -> Decimal:
    """The PU of `rate` (percent) `days` business days before maturity, unrounded."""
    if days <= 0:
        return FACE
    with localcontext() as context:
        context.prec = 34
        return FACE / (1 + rate / 100) ** (Decimal(days) / _DAYS_A_YEAR)


def unit_price(rate: Decimal, days: int) -> Decimal:
    """The PU as B3 settles it: `unit_price_exact` to the cent."""
    return unit_price_exact(rate, days).quantize(CENT, ROUND_HALF_UP)


def dv01_per_contract(rate: Decimal, days: int) -> Decimal:
    """What one contract gains when the rate falls one basis point: PU(y − 0.01) − PU(y),
    unrounded (a rounding of each PU to the cent would be a step of 1.4% at a month)."""
    return unit_price_exact(rate - ONE_BP, days) - unit_price_exact(rate, days)


def corrected(settlement: Decimal, cdi_factor: Decimal) -> Decimal:
    """The previous settlement PU corrected by the CDI accrued since (Π(1 + c) over the
    national business days between the two closes), to the cent as B3's prices are."""
    return (settlement * cdi_factor).quantize(CENT, ROUND_HALF_UP)


class Di1Quote(NamedTuple):
    """A DI1's valuation on a day: its settlement PU there, the CDI corrections its PU has
    accrued since the instrument's first close (per contract, `accrual`), and the DV01 of
    one contract. A position worth q × (pu − accrual) − K (K: what its contracts cost, in
    the same terms) has as unrealized P&L the sum of its daily settlements."""

    pu: Decimal
    accrual: Decimal
    dv01: Decimal

    @property
    def unit_value(self) -> Decimal:
        return self.pu - self.accrual


def unit_prices(rates: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """`unit_price_exact` on arrays of rates (percent) and days (broadcast), as floats:
    the full revaluation of VaR, stress and the what-if."""
    years = np.asarray(days, dtype=float) / 252.0
    return np.where(years > 0, 100000.0 / np.power(1.0 + np.asarray(rates) / 100.0, years), 1e5)


def dv01s(rates: np.ndarray, days: np.ndarray | int) -> np.ndarray:
    """`dv01_per_contract` on arrays, as floats."""
    return unit_prices(np.asarray(rates) - 0.01, days) - unit_prices(rates, days)
