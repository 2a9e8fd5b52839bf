"""Batches of input rows, checked whole before anything is written (errors by row index
and field), then upserted in one statement: the shared steps of every import and bulk
POST."""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import models

from . import inputs
from .calendar import today

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


def reject_dates_outside(rows: Sequence[Mapping[str, Any]], errors: RowErrorMap) -> None:
    """Dates the fund accepts: from 1990 to today (São Paulo)."""
    now = today()
    for index, row in enumerate(rows):
        problem = inputs.date_problem(row["date"], latest=now)
        if problem:
            errors.setdefault(index, {})["date"] = [problem]


def reject_dates_where(
    rows: Sequence[Mapping[str, Any]],
    problem_of: Callable[[dt.date], str | None],
    errors: RowErrorMap,
) -> None:
    """Dates `problem_of` finds a problem with (a row's first problem with its date is
    the one named)."""
    for index, row in enumerate(rows):
        problem = problem_of(row["date"])
        if problem and "date" not in errors.get(index, {}):
            errors.setdefault(index, {})["date"] = [problem]


def reject_weekends(rows: Sequence[Mapping[str, Any]], errors: RowErrorMap) -> None:
    """Trades, closes and FX rates are dated on weekdays."""
    reject_dates_where(rows, inputs.weekend_problem, errors)


def earliest_dates(rows: Sequence[Mapping[str, Any]], key: str) -> dict[Any, Any]:
    """The earliest `date` of the rows, by the value of `key`."""
    earliest: dict[Any, Any] = {}
    for row in rows:
        earliest[row[key]] = min(row["date"], earliest.get(row[key], row["date"]))
    return earliest


def reject_out_of_bounds(
    rows: Sequence[Mapping[str, Any]], field: str, bound: Decimal, errors: RowErrorMap
) -> None:
    """Values above 0 and at most `bound`."""
    for index, row in enumerate(rows):
        if not 0 < row[field] <= bound:
            errors.setdefault(index, {})[field] = [f"Above 0 and at most {bound:,.0f}."]


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
    model: Any,
    key_fields: Sequence[str],
    value_fields: str | Sequence[str],
    rows: list[dict[str, Any]],
) -> tuple[int, int]:
    """Insert or update rows by their key, the value field (or fields) replaced on a row
    already stored; answer (created, updated)."""
    existing = set(
        model.objects.filter(
            **{f"{name}__in": {row[name] for row in rows} for name in key_fields}
        ).values_list(*key_fields)
    )
    model.objects.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=list(key_fields),
        update_fields=[value_fields] if isinstance(value_fields, str) else list(value_fields),
        batch_size=2000,
    )
    updated = sum(tuple(row[name] for name in key_fields) in existing for row in rows)
    return len(rows) - updated, updated
