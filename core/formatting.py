"""How the API writes values (decimals in plain notation, amounts in cents as money,
ratios to six places, dates in ISO 8601) and how a person reads them (thousands
separators, no trailing zeros, percentages)."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .calendar import fund_time_zone

RATIO = Decimal("0.000001")


def decimal_str(value: Decimal | None) -> str | None:
    """A Decimal as the API shows it: plain notation, never exponents."""
    return None if value is None else f"{value:f}"


def cents_str(value: int) -> str:
    """An amount held in integer cents, as money: 123456 → "1234.56"."""
    return decimal_str(Decimal(value).scaleb(-2)) or "0.00"


def ratio(value: float | Decimal) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(RATIO)


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as JSON holds them: decimals in plain notation, dates in ISO 8601."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = decimal_str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = [decimal_str(v) if isinstance(v, Decimal) else v for v in value]
        out[key] = value
    return out


# --- How a person reads them: the admin, the dashboard, the pack's page -----------------

DASH = "—"


def money(value: Decimal | float | int | str | None, places: int = 2) -> str:
    """1234567.891 → "1,234,567.89"; None → "—"."""
    return DASH if value is None else f"{Decimal(str(value)):,.{places}f}"


def quota(value: Decimal | str | None) -> str:
    """A quota or a number of units, to its 8 places: 1.0132835 → "1.01328350",
    1000000 → "1,000,000.00000000"; None → "—"."""
    return money(value, 8)


def number(value: Decimal | float | int | str | None, max_places: int | None = None) -> str:
    """A quantity or a price as entered, without trailing zeros: 6173000.000000 →
    "6,173,000", 4.912500 → "4.9125"; rounded to `max_places` when given (an average
    cost of 101.44099664 → "101.441" with 4)."""
    if value is None:
        return DASH
    exact = Decimal(str(value))
    if not exact.is_finite():
        return str(exact)
    if max_places is not None:
        exact = exact.quantize(Decimal(1).scaleb(-max_places))
    places = max(-int(exact.normalize().as_tuple().exponent), 0)
    return f"{exact:,.{places}f}"


# An instrument's places (the instrument has no field for them): a yield's three, in percent,
# as B3 quotes a DI1's rate (10.525%); an exchange rate's four (5.4321); any other price's
# two (5,012.25). Data feeds carry more (74,548.313881): a person reads the quote's own.
YIELD_PLACES, FX_PLACES, PRICE_PLACES = 3, 4, 2


def price_places(instrument: Any) -> int:
    """The places of an instrument's quote (anything with `quote_type` and `asset_class`)."""
    if instrument.quote_type == "yield":
        return YIELD_PLACES
    return FX_PLACES if instrument.asset_class == "fx" else PRICE_PLACES


def quote(value: Decimal | float | str | None, places: int | None, is_yield: bool) -> str:
    """A quote as a person reads it: to `places` (None: as given), no trailing zeros, a
    yield in percent: 10.5 → "10.5%"; None → "—"."""
    if value is None:
        return DASH
    shown = number(value, places)
    return f"{shown}%" if is_yield else shown


def price(value: Decimal | float | str | None, instrument: Any, extra_places: int = 0) -> str:
    """A quote of `instrument` to its places (`price_places`, plus `extra_places`: an
    average cost is finer than a quote): 74548.313881 → "74,548.31", 10.5 → "10.5%"."""
    places = price_places(instrument) + extra_places
    return quote(value, places, instrument.quote_type == "yield")


def flow_label(amount: Decimal) -> str:
    """A capital flow as a chart marks it: "subscription 1,000,000", "redemption 80,000"."""
    kind = "subscription" if amount > 0 else "redemption"
    return f"{kind} {money(abs(amount), 0)}"


def percent(fraction: Decimal | float | None, places: int = 1) -> str:
    """0.097288 → "9.7%"; 2838.26 → "283,826.0%"."""
    if fraction is None:
        return DASH
    return f"{Decimal(str(fraction)) * 100:,.{places}f}%"


def brt(value: dt.datetime | str | None) -> str:
    """A moment (a datetime, or the API's ISO string) in São Paulo time, labelled BRT."""
    if value is None or value == "":
        return "—"
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment.astimezone(fund_time_zone()):%Y-%m-%d %H:%M} BRT"
