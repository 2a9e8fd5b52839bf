"""How the API writes numbers: decimals in plain notation, amounts in cents as money,
ratios to six places."""

from decimal import Decimal

RATIO = Decimal("0.000001")


def decimal_str(value: Decimal | None) -> str | None:
    """A Decimal as the API shows it: plain notation, never exponents."""
    return None if value is None else f"{value:f}"


def cents_str(value: int) -> str:
    """An amount held in integer cents, as money: 123456 → "1234.56"."""
    return decimal_str(Decimal(value).scaleb(-2)) or "0.00"


def ratio(value: float | Decimal) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(RATIO)
