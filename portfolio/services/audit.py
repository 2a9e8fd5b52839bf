"""The audit trail's writes: who changed what, when, from what to what."""

from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import models

from core.formatting import jsonable

from ..models import AuditRecord

M = TypeVar("M", bound=models.Model)


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


def _action(obj: models.Model, verb: str) -> str:
    return f"{type(obj).__name__.lower()}.{verb}"


def audited_create(model: type[M], *, actor: str, **fields: Any) -> M:
    """Create a row after the model's own validation, and audit it (`<model>.create`)."""
    obj = model(**fields)
    obj.full_clean()
    obj.save()
    obj.refresh_from_db()  # the state as stored (decimals to their places)
    audit_record(actor=actor, action=_action(obj, "create"), obj=obj, after=model_state(obj))
    return obj


def audited_update(
    obj: M, *, actor: str, verb: str = "update", audit_note: str = "", **changes: Any
) -> M:
    """Change a row (read under lock by the caller) after the model's own validation, and
    audit it with its state before and after (`<model>.<verb>`)."""
    before = model_state(obj)
    for name, value in changes.items():
        setattr(obj, name, value)
    # The changed fields and the model's rules; what is unchanged was valid when written.
    obj.full_clean(exclude=[f.name for f in obj._meta.fields if f.name not in changes])
    obj.save(update_fields=list(changes) or None)
    obj.refresh_from_db()
    audit_record(
        actor=actor,
        action=_action(obj, verb),
        obj=obj,
        before=before,
        after=model_state(obj),
        note=audit_note,
    )
    return obj


def audited_delete(obj: models.Model, *, actor: str) -> None:
    """Delete a row, auditing its last state (`<model>.delete`)."""
    audit_record(actor=actor, action=_action(obj, "delete"), obj=obj, before=model_state(obj))
    obj.delete()
