"""Writes of reference data: instruments and strategies, each checked by its rules and
audited. The API, the admin and the demo all write through these."""

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core import inputs
from core.errors import RowErrors

from ..models import Instrument, Strategy
from .audit import audited_create, audited_update

# Once traded, these define the P&L of booked trades (and, for a dated contract, when its
# positions expire and which chain they roll in): changing them would rewrite history.
FIXED_ONCE_TRADED = (
    "symbol",
    "currency",
    "quote_type",
    "settlement",
    "multiplier",
    "pricing",
    "maturity",
    "root",
)


def _terms(instance: Instrument | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The terms the instrument would have: the changes over what is stored, or over a new
    instrument's defaults."""
    defaults = {
        "quote_type": None,
        "currency": None,
        "settlement": Instrument.Settlement.MARGINED,
        "pricing": Instrument.Pricing.LINEAR,
        "dv01": Decimal("0"),
        "maturity": None,
    }
    return {
        name: changes.get(name, getattr(instance, name) if instance else default)
        for name, default in defaults.items()
    }


def _di1_problems(terms: Mapping[str, Any]) -> dict[str, list[str]]:
    """A DI1 is B3's: a rate in BRL, valued to its maturity."""
    if terms["pricing"] != Instrument.Pricing.DI1:
        return {}
    problems = {}
    if terms["quote_type"] != Instrument.QuoteType.YIELD:
        problems["quote_type"] = ["A DI1 is quoted in yield (its rate, % a year)."]
    if terms["currency"] != "BRL":
        problems["currency"] = ["A DI1 settles in BRL."]
    if terms["maturity"] is None:
        problems["maturity"] = ["A DI1 needs its maturity: its unit price is valued to it."]
    return problems


def instrument_check(*, instance: Instrument | None, changes: Mapping[str, Any]) -> None:
    """The rules of an instrument's terms, on a new one (`instance` None) or on changes
    to a stored one: a linear yield-quoted instrument needs a positive DV01 (a DI1's comes
    from its unit price), a funded one is quoted in price, a DI1 is a BRL rate with a
    maturity, a maturity is within the accepted dates, and the terms that price booked
    trades are fixed once it has trades. ValidationError names the fields."""
    terms = _terms(instance, changes)
    quote_type, dv01 = terms["quote_type"], terms["dv01"]
    errors: dict[str, list[str]] = _di1_problems(terms)
    if dv01 is not None and dv01 < 0:
        errors["dv01"] = ["Must not be negative."]
    elif (
        quote_type == Instrument.QuoteType.YIELD
        and terms["pricing"] == Instrument.Pricing.LINEAR
        and not dv01
    ):
        errors["dv01"] = ["A yield-quoted instrument needs a positive dv01."]
    if (
        terms["settlement"] == Instrument.Settlement.FUNDED
        and quote_type != Instrument.QuoteType.PRICE
    ):
        errors["settlement"] = [
            "A funded instrument is quoted in price (its cost is quantity × price × "
            "multiplier): hold a yield-quoted bond as margined, or quote it by price."
        ]
    maturity_problem = terms["maturity"] and inputs.maturity_problem(terms["maturity"])
    if maturity_problem:
        errors["maturity"] = [maturity_problem]
    if instance is not None and instance.trades.exists():
        for name in FIXED_ONCE_TRADED:
            if name in changes and changes[name] != getattr(instance, name):
                errors[name] = [f"Cannot change {name}: {instance.symbol} has trades."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def instrument_create(*, actor: str, **fields: Any) -> Instrument:
    instrument_check(instance=None, changes=fields)
    return audited_create(Instrument, actor=actor, **fields)


@transaction.atomic
def instrument_update(instrument: Instrument, /, *, actor: str, **changes: Any) -> Instrument:
    """Change an instrument's fields; the row is locked, so a first trade booked meanwhile
    is seen by the traded-instrument rule."""
    locked = Instrument.objects.select_for_update().get(pk=instrument.pk)
    instrument_check(instance=locked, changes=changes)
    return audited_update(locked, actor=actor, **changes)


@transaction.atomic
def instruments_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Create the instruments of `rows` not yet stored, and change the stored ones' fields
    that differ (an import file describes the instruments): each by the instrument rules,
    all rows or none. RowErrors names each bad row. Returns (created, updated)."""
    stored = {
        i.symbol: i for i in Instrument.objects.filter(symbol__in=[r["symbol"] for r in rows])
    }
    errors: dict[int, dict[str, list[str]]] = {}
    created = updated = 0
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if row["symbol"] in seen:
            errors[index] = {"symbol": [f"{row['symbol']} is on an earlier row too."]}
            continue
        seen.add(row["symbol"])
        instrument = stored.get(row["symbol"])
        try:
            if instrument is None:
                instrument_create(actor=actor, **row)
                created += 1
                continue
            changes = {k: v for k, v in row.items() if getattr(instrument, k) != v}
            if changes:
                instrument_update(instrument, actor=actor, **changes)
                updated += 1
        except ValidationError as error:
            errors[index] = error.message_dict
    if errors:
        raise RowErrors(errors)
    return created, updated


@transaction.atomic
def strategy_create(*, actor: str, **fields: Any) -> Strategy:
    return audited_create(Strategy, actor=actor, **fields)


@transaction.atomic
def strategy_update(strategy: Strategy, /, *, actor: str, **changes: Any) -> Strategy:
    locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
    return audited_update(locked, actor=actor, **changes)
