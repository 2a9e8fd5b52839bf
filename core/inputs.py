"""The input the fund accepts: one rule each, used by every path (API serializers, CSV
imports, admin forms, the services).

Bounds are what a global-macro fund can mean, well inside the columns' digits and inside
what the risk and attribution maths carry exactly (integer cents in int64, sums in Python
integers): a price or a quantity past them is a typo or an attack, never a trade.
"""

import datetime as dt
import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from core.calendar import is_business_day, next_business_day, today
from core.formatting import number

# Symbols and strategy codes: capitals, digits and `_ . -`, starting with a capital or a
# digit (no lower case, no look-alike letters, no path separators, no control characters).
CODE_PATTERN = r"[A-Z0-9][A-Z0-9_.-]{0,31}"
CURRENCY_PATTERN = r"[A-Z]{3}"  # ISO 4217: three ASCII capitals

code_validator = RegexValidator(
    rf"\A{CODE_PATTERN}\Z",
    "Use 1 to 32 characters: capitals A–Z, digits, and _ . - (starting with a capital or a "
    "digit), e.g. CLF7 or BRL_RATES.",
)
# The keys of attribution's rows of the fund's accounts, beside the strategies' and the
# instruments': no strategy or instrument may take them.
ACCOUNTS_KEYS = ("CASH", "MANAGEMENT_FEE", "PERFORMANCE_FEE")
ACCOUNTS_LABELS = dict(  # as pages show them
    zip(
        ACCOUNTS_KEYS, ("Cash (carry at the CDI)", "Management fee", "Performance fee"), strict=True
    )
)


def row_label(key: str) -> str:
    """A row of P&L by its key as a page writes it: a strategy's (or an instrument's) code,
    an account's name in words."""
    return ACCOUNTS_LABELS.get(key, key)


not_accounts_key = RegexValidator(
    rf"\A({'|'.join(ACCOUNTS_KEYS)})\Z",
    f"{', '.join(ACCOUNTS_KEYS)} name attribution's rows of the fund's accounts: choose another.",
    inverse_match=True,
)
currency_validator = RegexValidator(
    rf"\A{CURRENCY_PATTERN}\Z", "A currency is a three-letter ISO code in capitals, e.g. USD."
)

EARLIEST_DATE = dt.date(1990, 1, 1)
# A contract's maturity is in the future as often as not: the latest one accepted leaves
# room for the longest listed rates contracts (about 40 years) and no more.
MATURITY_LATEST = dt.date(2099, 12, 31)
NOTE_MAX = 400  # notes and reasons: a trade's note holds "Proposal <id>: " + the note

# Largest accepted magnitudes, by kind of number.
PRICE_MAX = Decimal(10**9)  # a close or a trade price (a yield in percent)
QUANTITY_MAX = Decimal(10**12)  # contracts, shares or units of currency
MULTIPLIER_MAX = Decimal(10**9)  # value of a point, or notional per contract
DV01_MAX = Decimal(10**7)  # value of 1 bp per contract
FX_RATE_MAX = Decimal(10**6)  # units of base per unit of a currency
BENCHMARK_RATE_MAX = Decimal("0.1")  # a daily rate (CDI ≈ 0.0005); an annual percent is refused
FEES_MAX = Decimal(10**10)
FLOW_MAX = Decimal(10**14)  # a subscription or redemption, base currency
UNITS_MAX = Decimal(10**18)  # units of the fund a flow issues or cancels
QUOTA_MAX = Decimal(10**9)  # the value of one unit of the fund
BUDGET_MAX = Decimal(10**12)  # a strategy's daily risk budget
NOTIONAL_MAX = 1e13  # a trade's or a position's notional in base currency
DV01_BASE_MAX = 1e10  # a trade's or a position's DV01 in base currency per bp


def date_problem(day: dt.date, *, latest: dt.date | None = None) -> str | None:
    """Why `day` is outside the dates the fund accepts (from 1990 to today, São Paulo)."""
    latest = latest or today()
    if day < EARLIEST_DATE:
        return f"{day} is before {EARLIEST_DATE}: the fund keeps no data that old."
    if day > latest:
        return f"{day} is in the future." if latest == today() else f"{day} is after {latest}."
    return None


def maturity_problem(day: dt.date) -> str | None:
    """Why `day` cannot be a contract's maturity: from 1990 to MATURITY_LATEST."""
    return date_problem(day, latest=MATURITY_LATEST)


def validate_fund_date(day: dt.date) -> None:
    problem = date_problem(day)
    if problem:
        raise ValidationError(problem)


def weekend_problem(day: dt.date) -> str | None:
    """Why `day` cannot date a trade, a close or an FX rate: no market trades on a
    Saturday or a Sunday (a weekday holiday of the fund's calendar is accepted: foreign
    markets trade on it)."""
    if day.weekday() < 5:
        return None
    return (
        f"{day} is a {day:%A}: trades, closes and FX rates are dated on weekdays; "
        f"the next business day is {next_business_day(day)}."
    )


def business_day_problem(day: dt.date) -> str | None:
    """Why `day` cannot date a capital flow or a mark: those fall on the fund's business
    days only (no weekend, no holiday of its calendar)."""
    if is_business_day(day):
        return None
    kind = day.strftime("%A") if day.weekday() >= 5 else "holiday of the fund's calendar"
    return (
        f"{day} is a {kind}, not a business day of the fund; "
        f"the next business day is {next_business_day(day)}."
    )


def validate_weekday(day: dt.date) -> None:
    problem = weekend_problem(day)
    if problem:
        raise ValidationError(problem)


def validate_business_day(day: dt.date) -> None:
    problem = business_day_problem(day)
    if problem:
        raise ValidationError(problem)


ASCII_DECIMAL = re.compile(r"\A[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def is_ascii_decimal(text: str) -> bool:
    """A decimal written in ASCII digits ("١٢٣" is not 123 here)."""
    return bool(ASCII_DECIMAL.match(text))


# A decimal that is zero, however written: a positive or a non-zero field refuses it.
ZERO_DECIMAL_PATTERN = r"^-?0(?:\.0+)?$"


def _digit(low: int, high: int) -> str:
    return str(low) if low == high else f"[{low}-{high}]"


def _below(digits: str, *, leading: bool) -> list[str]:
    """Digit strings of the same length as `digits` and smaller (no leading zero when
    `leading`), as regex branches."""
    branches = []
    for i, d in enumerate(int(c) for c in digits):
        low = 1 if leading and i == 0 and len(digits) > 1 else 0
        if d > low:
            rest = len(digits) - i - 1
            branches.append(digits[:i] + _digit(low, d - 1) + (f"[0-9]{{{rest}}}" if rest else ""))
    return branches


def _at_most(bound: Decimal, places: int) -> str:
    """Unsigned decimals (no leading zero, at most `places` after the point) ≤ `bound`."""
    whole, _, fraction = f"{bound:f}".partition(".")
    fraction = fraction.ljust(places, "0")
    any_fraction = rf"(?:\.[0-9]{{1,{places}}})?" if places else ""
    smaller = _below(whole, leading=True)
    if len(whole) > 1:
        smaller.insert(0, "0" if len(whole) == 2 else f"0|[1-9][0-9]{{0,{len(whole) - 2}}}")
    equal = [fraction[:k] for k in range(1, places + 1)]
    for i, d in enumerate(int(c) for c in fraction):
        if d > 0:
            equal.append(fraction[:i] + _digit(0, d - 1) + f"[0-9]{{0,{places - i - 1}}}")
    branches = [f"(?:{'|'.join(smaller)}){any_fraction}"] if smaller else []
    branches.append(whole + (rf"(?:\.(?:{'|'.join(equal)}))?" if equal else ""))
    return "|".join(branches)


def decimal_pattern(
    *, places: int, whole_digits: int, bound: Decimal | None = None, signed: bool = False
) -> str:
    """The decimals a field accepts as text, as a regular expression: ASCII digits without
    a leading zero, a point only before a digit, at most `places` after it and at most
    `whole_digits` before it (and at most `bound`, when given), a minus sign if `signed`.
    The API checks the form and the schema states it with the bound: one rule for both."""
    digits_bound = Decimal(10) ** whole_digits - Decimal(10) ** -places
    if bound is None or bound >= digits_bound:
        whole = f"0|[1-9][0-9]{{0,{whole_digits - 1}}}" if whole_digits > 1 else "[0-9]"
        fraction = rf"(?:\.[0-9]{{1,{places}}})?" if places else ""
        body = f"(?:{whole}){fraction}" if whole_digits else f"0{fraction}"
    else:
        body = _at_most(bound, places)
    return rf"^{'-?' if signed else ''}(?:{body})$"


def quantity_problem(quantity: Decimal) -> str | None:
    """Why `quantity` cannot be a trade's: zero books nothing, and past QUANTITY_MAX it is
    a typo."""
    if quantity == 0:
        return "A trade's quantity cannot be zero."
    if abs(quantity) > QUANTITY_MAX:
        return f"At most {QUANTITY_MAX:,.0f} in one trade."
    return None


def price_problem(price: Decimal) -> str | None:
    """Why `price` cannot be a trade's: a price is positive and at most PRICE_MAX."""
    if 0 < price <= PRICE_MAX:
        return None
    return f"A trade's price is above 0 and at most {PRICE_MAX:,.0f}."


def fees_problem(fees: Decimal) -> str | None:
    """Why `fees` cannot be a trade's: fees are paid, never received, and at most FEES_MAX."""
    if 0 <= fees <= FEES_MAX:
        return None
    return f"Fees are from 0 to {FEES_MAX:,.0f}."


def flow_problem(amount: Decimal) -> str | None:
    """Why `amount` cannot be a capital flow: zero moves nothing, and past FLOW_MAX either
    way it is a typo."""
    if amount == 0:
        return "A capital flow cannot be zero."
    if abs(amount) > FLOW_MAX:
        return f"At most {FLOW_MAX:,.0f} either way."
    return None


def benchmark_rate_problem(rate: Decimal) -> str | None:
    """Why `rate` cannot be a daily benchmark rate: past BENCHMARK_RATE_MAX either way it is
    an annual percent (13.65) typed where the day's fraction belongs."""
    if -BENCHMARK_RATE_MAX <= rate <= BENCHMARK_RATE_MAX:
        return None
    return (
        f"A daily rate as a fraction, e.g. 0.000415 for 0.0415% a day: at most "
        f"{BENCHMARK_RATE_MAX} either way."
    )


def size_problem(notional_base: float, dv01_base: float) -> str | None:
    """Why a trade's or a position's base-currency size is past what the fund accepts
    (in floats, so that the check itself cannot overflow)."""
    if abs(notional_base) > NOTIONAL_MAX:
        return (
            f"A notional of {notional_base:,.0f} in base currency is past the largest "
            f"accepted, {NOTIONAL_MAX:,.0f}."
        )
    if abs(dv01_base) > DV01_BASE_MAX:
        return (
            f"A DV01 of {dv01_base:,.0f} per bp in base currency is past the largest "
            f"accepted, {DV01_BASE_MAX:,.0f}."
        )
    return None


def band_problem(quote_type: str, price: Decimal, last: Decimal) -> str | None:
    """Why `price` is implausible beside the last close `last`: further from it than
    PMS_PRICE_BAND (relative for price-quoted instruments, in bp for yield-quoted ones)."""
    band = settings.PMS_PRICE_BAND
    if quote_type == "yield":
        move = abs(price - last) * 100
        if move > band["yield"]:
            limit = band["yield"]
            return (
                f"{number(price)} is {move:,.0f} bp from the last close {number(last)} "
                f"(band {limit} bp)"
            )
        return None
    move = abs(price / last - 1)
    if move > band["price"]:
        return (
            f"{number(price)} is {move:,.0%} from the last close {number(last)} "
            f"(band {band['price']:.0%})"
        )
    return None
