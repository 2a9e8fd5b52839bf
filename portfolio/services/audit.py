"""The audit trail's writes: who changed what, when, from what to what."""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import models

from core.formatting import decimal_str

from ..models import AuditRecord


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
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


def audit_record(
    *,
    actor: str,
    action: str,
    obj: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
) -> AuditRecord:
    return AuditRecord.objects.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        note=note,
    )


def model_state(obj: models.Model) -> dict[str, Any]:
    return jsonable({f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields})
