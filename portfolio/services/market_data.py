"""Writes of market data and capital: prices, FX rates and flows, checked row by row and
written all or nothing."""

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from pms_site.signals import data_changed

from ..calendar import today
from ..errors import RowErrors
from ..models import CapitalFlow, FxRate, Instrument, Price
from ..selectors import base_currency
from .audit import audit_record, model_state

RowErrorMap = dict[int, dict[str, list[str]]]


def resolve_references(
    rows: Sequence[Mapping[str, Any]],
    field_name: str,
    model: type[models.Model],
    key: str,
    errors: RowErrorMap,
) -> dict[Any, int]:
    """Ids of the objects the rows name in `field_name` (by `key`); unknown ones are errors."""
    ids = dict(
        model._default_manager.filter(
            **{f"{key}__in": {row[field_name] for row in rows}}
        ).values_list(key, "pk")
    )
    for index, row in enumerate(rows):
        if row[field_name] not in ids:
            errors.setdefault(index, {})[field_name] = [
                f"Unknown {model._meta.verbose_name} {row[field_name]!r}."
            ]
    return ids


def reject_future_dates(rows: Sequence[Mapping[str, Any]], errors: RowErrorMap) -> None:
    now = today()
    for index, row in enumerate(rows):
        if row["date"] > now:
            errors.setdefault(index, {})["date"] = [f"{row['date']} is in the future."]


def reject_duplicates(
    rows: Sequence[Mapping[str, Any]], key_fields: Sequence[str], errors: RowErrorMap
) -> None:
    """A batch names each key once: a later row with the same key is an error."""
    seen: dict[tuple[Any, ...], int] = {}
    label = " and ".join(", ".join(key_fields).rsplit(", ", 1))
    for index, row in enumerate(rows):
        key = tuple(row[name] for name in key_fields)
        if key in seen:
            errors.setdefault(index, {})[key_fields[0]] = [f"Same {label} as row {seen[key]}."]
        seen.setdefault(key, index)


def rows_upsert(
    model: Any, key_fields: Sequence[str], value_field: str, rows: list[dict[str, Any]]
) -> tuple[int, int]:
    """Insert or update rows by their key; answer (created, updated)."""
    existing = set(
        model.objects.filter(
            **{f"{name}__in": {row[name] for row in rows} for name in key_fields}
        ).values_list(*key_fields)
    )
    model.objects.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=list(key_fields),
        update_fields=[value_field],
        batch_size=2000,
    )
    updated = sum(tuple(row[name] for name in key_fields) in existing for row in rows)
    return len(rows) - updated, updated


@transaction.atomic
def prices_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert closes per (instrument, date). Rows: {instrument: symbol, date, price > 0}.

    Every row is checked before anything is written; one bad row rejects the batch.
    """
    errors: RowErrorMap = {}
    ids = resolve_references(rows, "instrument", Instrument, "symbol", errors)
    reject_future_dates(rows, errors)
    reject_duplicates(rows, ("instrument", "date"), errors)
    if errors:
        raise RowErrors(errors)
    created, updated = rows_upsert(
        Price,
        ("instrument_id", "date"),
        "price",
        [
            {"instrument_id": ids[r["instrument"]], "date": r["date"], "price": r["price"]}
            for r in rows
        ],
    )
    data_changed.send(sender=Price, event="book")
    audit_record(
        actor=actor,
        action="prices.upsert",
        after={"created": created, "updated": updated, "instruments": sorted(ids)},
    )
    return created, updated


@transaction.atomic
def fx_rates_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert FX rates per (currency, date). Rows: {currency, date, rate > 0} (base per unit)."""
    errors: RowErrorMap = {}
    for index, row in enumerate(rows):
        if row["currency"] == base_currency():
            errors.setdefault(index, {})["currency"] = [
                f"{row['currency']} is the base currency; its rate is always 1."
            ]
    reject_future_dates(rows, errors)
    reject_duplicates(rows, ("currency", "date"), errors)
    if errors:
        raise RowErrors(errors)
    created, updated = rows_upsert(
        FxRate, ("currency", "date"), "rate", [dict(row) for row in rows]
    )
    data_changed.send(sender=FxRate, event="book")
    audit_record(
        actor=actor,
        action="fx_rates.upsert",
        after={
            "created": created,
            "updated": updated,
            "currencies": sorted({r["currency"] for r in rows}),
        },
    )
    return created, updated


@transaction.atomic
def capital_flow_create(
    *, date: dt.date, amount: Decimal, note: str = "", actor: str
) -> CapitalFlow:
    if amount == 0:
        raise ValidationError({"amount": ["A capital flow cannot be zero."]})
    flow = CapitalFlow.objects.create(date=date, amount=amount, note=note)
    audit_record(actor=actor, action="capital_flow.create", obj=flow, after=model_state(flow))
    return flow
