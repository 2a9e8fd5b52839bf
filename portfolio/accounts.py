"""The fund's accounts of a business day, DESIGN.md "The fund's accounts": pure maths, no
Django.

A day starts from the previous close's `Accounts` (NAV, units, quota, the performance
fee's provision and the hurdle quota it compounds from) and takes the day's flows, the
positions' P&L, the funded holdings' value at the previous close and the CDI rate of the
day; it gives the day's cash, carry, fees, units and quota (`AccountsDay`) and the close's
`Accounts`. The timeline walks it over every business day; the live book takes one step.

Money is rounded half up to the cent, quotas and units to 8 places; the hurdle quota is
carried unrounded.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from .ledger import ZERO, to_cents

PLACES_8 = Decimal("1e-8")
RETURN_PLACES = Decimal("1e-16")
YEAR = 252  # business days: the annual fee and spread per day


def to_places_8(value: Decimal) -> Decimal:
    """A quota or a number of units: 8 places, half up."""
    return value.quantize(PLACES_8, ROUND_HALF_UP)


class TermsInForce(NamedTuple):
    """The terms in force on a day. A fund without terms has no fees and its cash earns
    100% of the CDI (`NO_TERMS`)."""

    initial_quota: Decimal = Decimal("1")
    management_fee: Decimal = ZERO  # annual fraction of the start-of-day capital
    performance_fee: Decimal = ZERO  # fraction of the gain over the hurdle
    hurdle: Decimal = Decimal("1")  # × CDI
    payment_months: frozenset[int] = frozenset({6, 12})
    cash_yield: Decimal = Decimal("1")  # × CDI on a positive balance
    financing_spread: Decimal = ZERO  # annual, over the CDI on a negative balance


NO_TERMS = TermsInForce()


class Accounts(NamedTuple):
    """The fund at a close, as the next day starts from it.

    `hurdle_quota` is the quota the next day's hurdle compounds from: the day's hurdle
    `H_t`, or the quota itself on a day the provision was paid (the new base `B`).
    """

    nav: Decimal
    units: Decimal
    quota: Decimal
    provision: Decimal
    hurdle_quota: Decimal


def before_inception(terms: TermsInForce) -> Accounts:
    """The accounts the first day starts from: nothing held, the quota and the hurdle at
    `Q0` (the hurdle's base date is the business day before the inception)."""
    quota = to_places_8(terms.initial_quota)
    return Accounts(ZERO, ZERO, quota, ZERO, quota)


class Flow(NamedTuple):
    """A capital flow as it was given: an amount (base currency, + in / − out) or units."""

    amount: Decimal | None = None
    units: Decimal | None = None


class Converted(NamedTuple):
    """A flow at the quota it was converted at (`Q_{t−1}`)."""

    amount: Decimal
    units: Decimal
    quota: Decimal


def convert(flow: Flow, quota: Decimal) -> Converted:
    """An amount `A` issues or cancels `A / Q` units (8 places); units `u` are worth
    `cents(u × Q)`."""
    if flow.units is not None:
        return Converted(to_cents(flow.units * quota), flow.units, quota)
    assert flow.amount is not None
    return Converted(flow.amount, to_places_8(flow.amount / quota), quota)


class DayInputs(NamedTuple):
    """What a business day's accounts take.

    `positions_pnl`: the positions' P&L of the day in base currency; `funded_before`: the
    funded holdings' market value at the previous close (`F_{t−1}`); `cdi`: the day's
    rate (a daily fraction); `pays`: the day is a performance fee payment date.
    """

    day: dt.date
    flows: Sequence[Flow]
    positions_pnl: Decimal
    funded_before: Decimal
    cdi: Decimal
    terms: TermsInForce
    pays: bool


class AccountsDay(NamedTuple):
    """A business day's accounts: the `Accounts` at its close and how it got there."""

    day: dt.date
    close: Accounts
    flows: tuple[Converted, ...]
    flow: Decimal  # Σ amounts
    capital: Decimal  # S_t = NAV_{t−1} + flow_t
    cash: Decimal  # S_t − F_{t−1}
    carry: Decimal
    management_fee: Decimal
    performance_fee: Decimal  # pf_t = PF_t − (P̂_{t−1} − paid_t)
    performance_paid: Decimal  # the provision paid out: a redemption's share, or all of it
    positions_pnl: Decimal
    cdi: Decimal

    @property
    def pnl(self) -> Decimal:
        """The fund's P&L: `pnl_t + carry_t − mgmt_t − pf_t`."""
        return self.positions_pnl + self.carry - self.management_fee - self.performance_fee

    @property
    def daily_return(self) -> Decimal:
        return _ratio(self.pnl, self.capital)

    @property
    def gross_return(self) -> Decimal:
        """The return before fees: the positions' P&L and the carry over the same capital."""
        return _ratio(self.positions_pnl + self.carry, self.capital)


def _ratio(pnl: Decimal, capital: Decimal) -> Decimal:
    return (pnl / capital).quantize(RETURN_PLACES) if capital > 0 else ZERO


def carry(cash: Decimal, cdi: Decimal, terms: TermsInForce) -> Decimal:
    """What the cash earns (a positive balance, `y × CDI`) or costs (a negative one,
    `CDI + s / 252`) on the day."""
    if cash >= 0:
        return to_cents(cash * terms.cash_yield * cdi)
    return to_cents(cash * (cdi + terms.financing_spread / YEAR))


def account_day(before: Accounts, inputs: DayInputs) -> AccountsDay:
    """One business day's accounts from the previous close's (DESIGN.md's formulas)."""
    terms = inputs.terms
    flows = tuple(convert(flow, before.quota) for flow in inputs.flows)
    flow = sum((f.amount for f in flows), ZERO)
    units = before.units + sum((f.units for f in flows), ZERO)
    redeemed = -sum((f.units for f in flows if f.units < 0), ZERO)
    paid = (
        to_cents(before.provision * redeemed / before.units) if redeemed and before.units else ZERO
    )
    capital = before.nav + flow
    cash = capital - inputs.funded_before
    day_carry = carry(cash, inputs.cdi, terms)
    management = to_cents(capital * terms.management_fee / YEAR)
    gross = (
        before.nav + before.provision - paid + flow + inputs.positions_pnl + day_carry - management
    )
    hurdle = before.hurdle_quota * (1 + terms.hurdle * inputs.cdi)
    provision = to_cents(terms.performance_fee * max(ZERO, gross - units * hurdle))
    nav = gross - provision
    quota = to_places_8(nav / units) if units > 0 else before.quota
    pays = inputs.pays and provision > 0
    close = Accounts(
        nav=nav,
        units=units,
        quota=quota,
        provision=ZERO if pays else provision,
        hurdle_quota=quota if pays else hurdle,
    )
    return AccountsDay(
        day=inputs.day,
        close=close,
        flows=flows,
        flow=flow,
        capital=capital,
        cash=cash,
        carry=day_carry,
        management_fee=management,
        performance_fee=provision - (before.provision - paid),
        performance_paid=paid + (provision if pays else ZERO),
        positions_pnl=inputs.positions_pnl,
        cdi=inputs.cdi,
    )


def account_days(before: Accounts, days: Iterable[DayInputs]) -> list[AccountsDay]:
    """The accounts of a run of business days, each starting from the close before."""
    out = []
    for inputs in days:
        out.append(account_day(before, inputs))
        before = out[-1].close
    return out


def is_payment_date(day: dt.date, next_business_day: dt.date, months: Iterable[int]) -> bool:
    """The last business day of a payment month: the next business day is in another
    month."""
    return day.month in set(months) and next_business_day.month != day.month
