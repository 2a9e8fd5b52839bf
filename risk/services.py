"""Writes of risk: the daily snapshot, the alert lifecycle, limit removal."""

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portfolio.errors import Conflict
from portfolio.services import audit_record, model_state

from . import selectors
from .models import RiskAlert, RiskLimit, RiskSnapshot

ACTIVE = (RiskAlert.Status.OPEN, RiskAlert.Status.ACKNOWLEDGED)


@transaction.atomic
def alerts_update(*, as_of: dt.date, values: Sequence[selectors.LimitValue]) -> list[RiskAlert]:
    """Open one alert per breached limit and day; resolve the alerts of limits back under.

    A limit still in breach on a later day gets that day's alert as well. Alerts of
    deactivated limits resolve. Returns the alerts opened (or re-opened) for `as_of`.
    """
    now = timezone.now()
    breached = {v.limit.pk: v for v in values if v.status == "breach"}
    under = [v.limit.pk for v in values if v.status != "breach"]
    RiskAlert.objects.filter(status__in=ACTIVE).filter(limit_id__in=under).update(
        status=RiskAlert.Status.RESOLVED, resolved_at=now
    )
    RiskAlert.objects.filter(status__in=ACTIVE, limit__is_active=False).update(
        status=RiskAlert.Status.RESOLVED, resolved_at=now
    )
    existing = {
        alert.limit_id: alert
        for alert in RiskAlert.objects.select_for_update(of=("self",))
        .filter(date=as_of, limit_id__in=breached)
        .order_by()
    }
    opened = []
    for limit_id, value in breached.items():
        alert = existing.get(limit_id) or RiskAlert(limit_id=limit_id, date=as_of, opened_at=now)
        alert.value, alert.utilization = value.value, value.utilization
        if alert.status == RiskAlert.Status.RESOLVED:  # back in breach the same day
            alert.status, alert.resolved_at = RiskAlert.Status.OPEN, None
        opened.append(alert)
    RiskAlert.objects.bulk_create([a for a in opened if a.pk is None])
    RiskAlert.objects.bulk_update(
        [a for a in opened if a.pk is not None], ["value", "utilization", "status", "resolved_at"]
    )
    return opened


@transaction.atomic
def alert_acknowledge(*, alert_id: int, actor: str, note: str = "") -> RiskAlert:
    """A person takes note of an open alert; only once."""
    # Only the alert's row is locked: its limit may be none (a pipeline's alert).
    alert = (
        RiskAlert.objects.select_for_update(of=("self",)).select_related("limit").get(pk=alert_id)
    )
    if alert.status != RiskAlert.Status.OPEN:
        detail = (
            f"by {alert.acknowledged_by} at {alert.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
            if alert.status == RiskAlert.Status.ACKNOWLEDGED
            else "the limit is back under"
        )
        raise Conflict(f"Alert {alert.pk} is already {alert.status} ({detail}).")
    before = model_state(alert)
    alert.status = RiskAlert.Status.ACKNOWLEDGED
    alert.acknowledged_by = actor
    alert.acknowledged_at = timezone.now()
    alert.note = note
    alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at", "note"])
    audit_record(
        actor=actor,
        action="riskalert.acknowledge",
        obj=alert,
        before=before,
        after=model_state(alert),
        note=note,
    )
    return alert


@transaction.atomic
def limit_delete(*, limit: RiskLimit, actor: str) -> None:
    """Delete a limit that never raised an alert; one with alerts is deactivated instead."""
    if limit.alerts.exists():
        raise Conflict(
            f"Limit {limit.name!r} has alerts on record: deactivate it (is_active=false) "
            "instead of deleting it."
        )
    audit_record(actor=actor, action="risklimit.delete", obj=limit, before=model_state(limit))
    limit.delete()


@transaction.atomic
def risk_snapshot_take(
    *, date: dt.date | None = None, window: int | None = None, actor: str
) -> RiskSnapshot:
    """Store the risk of the book at its as-of date and raise or resolve the limit alerts.

    The snapshot is of the book as marked: `date`, when given, must be the book's as-of
    date (mark the book to that date first). Taking a date again replaces its snapshot.
    The window defaults to the `PMS_RISK_WINDOW` setting.
    """
    book = selectors.Book.load()
    as_of = book.state.as_of
    if date is not None and date != as_of:
        raise ValidationError(
            {"date": [f"The book is marked as of {as_of}: mark it to {date} first."]}
        )
    risk = selectors.risk_compute(book=book, window=window or settings.PMS_RISK_WINDOW)
    values = selectors.limits_evaluate(risk)
    report = selectors.risk_report(risk, values)
    figures = risk.figures
    snapshot, _ = RiskSnapshot.objects.update_or_create(
        date=as_of,
        defaults={
            "nav": risk.book.state.nav,
            "window": risk.window,
            "var_95": selectors.money(figures.var[0.95]),
            "var_99": selectors.money(figures.var[0.99]),
            "es_95": selectors.money(figures.expected_shortfall[0.95]),
            "es_99": selectors.money(figures.expected_shortfall[0.99]),
            "exposures": report["exposures"],
            "dv01_by_currency": report["dv01_by_currency"],
            "limits": report["limits"],
            "missing_history": report["missing_history"],
            "computed_at": timezone.now(),
        },
    )
    alerts_update(as_of=as_of, values=values)
    audit_record(
        actor=actor,
        action="risksnapshot.take",
        obj=snapshot,
        after={"date": as_of, "var_95": snapshot.var_95, "nav": snapshot.nav},
    )
    return snapshot
