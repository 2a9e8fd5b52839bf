"""The base of every serializer of the API: strict input (`core.inputs` holds the rules)
— an unknown field is a 400 naming it, numbers are ASCII decimals within their column's
digits and bounds, dates are in the fund's range, codes match their pattern, notes are
bounded — and UTC datetimes."""

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.http import QueryDict
from rest_framework import serializers

from . import inputs
from .errors import RowErrors


def validated_rows(
    serializer_class: type[serializers.Serializer], rows: list[Any], *, text: bool = False
) -> list[dict[str, Any]]:
    """Validate a list of rows, raising RowErrors by row index for the bad ones. `text`:
    the rows' values are all text (a CSV file's), not JSON's types."""
    parsed = serializer_class(data=rows, many=True, context={"text_values": text})
    if parsed.is_valid():
        return parsed.validated_data  # type: ignore[return-value]
    errors: Any = parsed.errors
    # DRF gives a list with an empty dict per good row, or a dict by index; a row that is
    # not an object (null, a number) has a list of messages.
    by_index = errors.items() if isinstance(errors, dict) else enumerate(errors)
    raise RowErrors(
        {
            int(i): dict(e) if isinstance(e, Mapping) else {"non_field_errors": list(e)}
            for i, e in by_index
            if e
        }
    )


class UTCDateTimeField(serializers.DateTimeField):
    """A datetime as the API shows it: UTC, ISO 8601 with `Z`, whatever time zone is active
    (São Paulo's, for pages and the admin)."""

    def default_timezone(self) -> dt.tzinfo:
        return dt.UTC


class StrictDecimalField(serializers.DecimalField):
    """A decimal as the fund accepts it (the schema states the same, `text_pattern`): a
    JSON number, or a string of ASCII digits written plainly — no sign but a leading minus
    where negatives are allowed, no exponent, no blank, no leading zero, within the
    column's digits ("١٢٣", "1e3", "" and " 7" are refused)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nonzero = any(v in (positive, nonzero) for v in self.validators) or bool(
            self.min_value is not None and self.min_value > 0
        )
        self.signed = self.min_value is None or self.min_value < 0
        bounds = [abs(Decimal(b)) for b in (self.min_value, self.max_value) if b is not None]
        self.form = re.compile(self._pattern(bound=None))
        self.text_pattern = self._pattern(bound=max(bounds) if bounds else None)

    def _pattern(self, *, bound: Decimal | None) -> str:
        return inputs.decimal_pattern(
            places=self.decimal_places or 0,
            whole_digits=self.max_whole_digits or 0,
            bound=bound,
            signed=self.signed,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)  # its digits and places
        if isinstance(data, str) and not self.form.match(data):
            if data.startswith("-") and not self.signed:
                self.fail("min_value", min_value=self.min_value)
            self.fail("invalid")
        return value  # its bounds are the validators'


class FundDateField(serializers.DateField):
    """A date of the fund's data: from 1990-01-01 to today (São Paulo), or to the latest
    date `latest()` allows."""

    def __init__(self, *, latest: Any = None, **kwargs: Any) -> None:
        self.latest = latest
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> dt.date:
        day: dt.date = super().to_internal_value(value)
        problem = inputs.date_problem(day, latest=self.latest() if self.latest else None)
        if problem:
            raise serializers.ValidationError(problem)
        return day


# The JSON type each kind of field takes, as the schema states it: DRF would also read 7 as
# "7", "true" as true or "12" as 12, which the schema calls invalid.
JSON_TYPES: tuple[tuple[type, type | tuple[type, ...], str], ...] = (
    (serializers.BooleanField, bool, "Must be true or false."),
    (serializers.IntegerField, int, "Must be a whole number."),
    (serializers.PrimaryKeyRelatedField, int, "Must be an id (a whole number)."),
    (serializers.ChoiceField, str, "Must be a string: one of the choices."),
    (serializers.CharField, str, "Must be a string."),
    (serializers.DateField, str, "Must be a date written YYYY-MM-DD."),
)


def json_type_problem(field: serializers.Field, value: Any) -> Any:
    """Why `value`, from a JSON body, is not of the type `field` takes (None if it is)."""
    if value is None:
        return None  # null is the field's own rule (allow_null)
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        child = field.child
        problems = {i: [p] for i, v in enumerate(value) if (p := json_type_problem(child, v))}
        return problems or None
    for kind, expected, message in JSON_TYPES:
        if isinstance(field, kind):
            wrong = isinstance(value, bool) and expected is int
            return message if wrong or not isinstance(value, expected) else None
    return None


class RejectUnknownFields:
    """An unknown field is an error, not silently ignored: a misspelt `quantity` on a close
    must not close the whole position. From a JSON body (not a form or a CSV file, whose
    values are all text), each field's value is of the JSON type the schema gives it."""

    fields: Any
    context: dict[str, Any]

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                expected = ", ".join(sorted(writable)) or "no fields"
                raise serializers.ValidationError(
                    {name: [f"Unknown field; expected {expected}."] for name in unknown}
                )
        json = isinstance(data, dict) and not isinstance(data, QueryDict)  # not a form
        if json and not self.context.get("text_values"):  # nor a CSV file's row
            wrong = {
                name: problem
                for name in data
                if (problem := json_type_problem(self.fields[name], data[name]))
            }
            if wrong:
                raise serializers.ValidationError(
                    {n: p if isinstance(p, dict) else [p] for n, p in wrong.items()}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class ModelSerializer(RejectUnknownFields, serializers.ModelSerializer):
    """The base of every model serializer of the API: its datetimes are UTC, its decimals
    ASCII, its dates in the fund's range, and unknown fields refused."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UTCDateTimeField,
        models.DecimalField: StrictDecimalField,
    }


class StrictSerializer(RejectUnknownFields, serializers.Serializer):
    """An input serializer that refuses unknown fields."""


def positive(value: Decimal) -> None:
    if value <= 0:
        raise serializers.ValidationError("Must be positive.")


def nonzero(value: Decimal) -> None:
    if value == 0:
        raise serializers.ValidationError("Cannot be zero.")


def code_field(**kwargs: Any) -> serializers.CharField:
    """A symbol or a strategy code."""
    return serializers.CharField(max_length=32, validators=[inputs.code_validator], **kwargs)


def note_field(**kwargs: Any) -> serializers.CharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("default", "")
    return serializers.CharField(max_length=inputs.NOTE_MAX, allow_blank=True, **kwargs)


def bounded(
    max_digits: int, places: int, bound: Decimal, *, signed: bool = False, **kwargs: Any
) -> StrictDecimalField:
    return StrictDecimalField(
        max_digits=max_digits,
        decimal_places=places,
        max_value=bound,
        min_value=-bound if signed else Decimal(0),
        **kwargs,
    )


def quantity_field(**kwargs: Any) -> StrictDecimalField:
    """A trade's quantity: never zero."""
    kwargs.setdefault("validators", [nonzero])
    return bounded(24, 6, inputs.QUANTITY_MAX, signed=True, **kwargs)


def price_field(**kwargs: Any) -> StrictDecimalField:
    return bounded(24, 8, inputs.PRICE_MAX, validators=[positive], **kwargs)


def money_field(**kwargs: Any) -> StrictDecimalField:
    return StrictDecimalField(max_digits=24, decimal_places=2, **kwargs)


def fees_field(**kwargs: Any) -> StrictDecimalField:
    return bounded(24, 2, inputs.FEES_MAX, required=False, default=Decimal("0"), **kwargs)


def confirm_field() -> serializers.BooleanField:
    return serializers.BooleanField(
        default=False,
        help_text="Confirms a price outside PMS_PRICE_BAND of the last close.",
    )


class UpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
