"""How the API writes values: decimals in plain notation, amounts in cents as money,
ratios to six places, dates in ISO 8601."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
