"""The base of every serializer of the API: strict input (`core.inputs` holds the rules)
— an unknown field is a 400 naming it, numbers are ASCII decimals within their column's
digits and bounds, dates are in the fund's range, codes match their pattern, notes are
bounded — and UTC datetimes."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from rest_framework import serializers

from . import inputs
from .errors import RowErrors


def validated_rows(
    serializer_class: type[serializers.Serializer], rows: list[Any]
) -> list[dict[str, Any]]:
    """Validate a list of rows, raising RowErrors by row index for the bad ones."""
    parsed = serializer_class(data=rows, many=True)
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
    """A decimal written in ASCII digits: "١٢٣" is refused, not read as 123."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str) and not inputs.is_ascii_decimal(data.strip()):
            self.fail("invalid")
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


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


class RejectUnknownFields:
    """An unknown field is an error, not silently ignored: a misspelt `quantity` on a close
    must not close the whole position."""

    fields: Any

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                expected = ", ".join(sorted(writable)) or "no fields"
                raise serializers.ValidationError(
                    {name: [f"Unknown field; expected {expected}."] for name in unknown}
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
