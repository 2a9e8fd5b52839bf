"""Writes of risk: the daily snapshot (from the fund's timeline), the alert lifecycle, limit
removal."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import Conflict
from portfolio.models import PortfolioSnapshot
from portfolio.selectors import book_state_on
from portfolio.services import audit_record, model_state

from . import selectors
from .models import RiskAlert, RiskLimit, RiskSnapshot

ACTIVE = (RiskAlert.Status.OPEN, RiskAlert.Status.ACKNOWLEDGED)


@transaction.atomic
def alerts_update(*, as_of: dt.date, values: Sequence[selectors.LimitValue]) -> list[RiskAlert]:
    """Open one alert per breached limit and day; resolve the alerts of limits back under.

    A limit still in breach on a later day gets that day's alert as well; a check resolves
    the alerts of its date and earlier, never those of a later date. So a past date can be
    checked again, in any order: its alert is born resolved when a later check already
    found the limit back under. A limit whose value is unavailable (a VaR without the
    history) neither opens nor resolves an alert. Alerts of deactivated limits resolve.
    Returns the alerts opened (or re-opened) for `as_of`.
    """
    now = timezone.now()
    breached = {v.limit.pk: v for v in values if v.status == "breach"}
    under = [v.limit.pk for v in values if v.status in ("ok", "warning")]
    RiskAlert.objects.filter(status__in=ACTIVE, date__lte=as_of, limit_id__in=under).update(
        status=RiskAlert.Status.RESOLVED, resolved_at=now
    )
    RiskAlert.objects.filter(status__in=ACTIVE, limit__is_active=False).update(
        status=RiskAlert.Status.RESOLVED, resolved_at=now
    )
    later = (
        RiskSnapshot.objects.filter(date__gt=as_of)
        .order_by("date")
        .values_list("limits", flat=True)
        .first()
    )
    under_later = {row["id"] for row in later or [] if row.get("status") in ("ok", "warning")}
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
        if limit_id in under_later:  # already back under on a later date
            if alert.status != RiskAlert.Status.RESOLVED:
                alert.status, alert.resolved_at = RiskAlert.Status.RESOLVED, now
        elif alert.status == RiskAlert.Status.RESOLVED:  # back in breach the same day
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


def money_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


@transaction.atomic
def risk_snapshot_take(
    *, date: dt.date | None = None, window: int | None = None, actor: str
) -> RiskSnapshot:
    """Store the risk of the book at the close of business date `date` (default: the
    latest snapshot's) and raise or resolve that date's limit alerts.

    The book is the fund's timeline of that date (its position and fund snapshots), never
    the live positions, so any past date can be taken, in any order, with the same result.
    Taking a date again replaces its snapshot. The window defaults to `PMS_RISK_WINDOW`
    and shrinks on a young fund; below `PMS_RISK_MIN_WINDOW` the VaR and ES are null.
    """
    if date is None:
        date = PortfolioSnapshot.objects.aggregate(day=Max("date"))["day"]
        if date is None:
            raise ValidationError(
                {"date": ["No snapshot yet: run `manage.py backfill_snapshots` first."]}
            )
    risk, values, report = selectors.risk_of(
        selectors.Book.load(book_state_on(date)), window=window
    )
    var, es = report["var"], report["expected_shortfall"]
    snapshot, _ = RiskSnapshot.objects.update_or_create(
        date=date,
        defaults={
            "nav": risk.book.state.nav,
            "window": risk.window,
            "window_used": risk.window_used,
            "var_unavailable": risk.var_unavailable or "",
            "var_95": money_or_none(var["0.95"]),
            "var_99": money_or_none(var["0.99"]),
            "es_95": money_or_none(es["0.95"]),
            "es_99": money_or_none(es["0.99"]),
            "exposures": report["exposures"],
            "dv01_by_currency": report["dv01_by_currency"],
            "drawdown": report["drawdown"],
            "limits": report["limits"],
            "missing_history": report["missing_history"],
            "computed_at": timezone.now(),
        },
    )
    alerts_update(as_of=date, values=values)
    audit_record(
        actor=actor,
        action="risksnapshot.take",
        obj=snapshot,
        after={"date": date, "var_95": snapshot.var_95, "nav": snapshot.nav},
    )
    return snapshot
