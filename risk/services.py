"""Writes of risk: the daily snapshot (from the fund's timeline), the alert lifecycle
(limits', pipelines' and the NAV's breaks with the administrator's), limits and stress
scenarios with their rules; each audited."""

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import inputs
from core.calendar import business_days, next_business_day, previous_business_day
from core.errors import Conflict
from core.formatting import money
from core.progress import Progress
from portfolio.models import AuditRecord, Instrument, PortfolioSnapshot
from portfolio.selectors import BREAK, OK, NavReconciliation, book_state_on, nav_reconciliation
from portfolio.services import (
    audit_record,
    audited_create,
    audited_delete,
    audited_update,
    fund_inception_or_error,
    model_state,
)

from . import engine, selectors
from .api.report import report_shown
from .models import NAV_BREAK, RiskAlert, RiskLimit, RiskSnapshot, StressScenario

ACTIVE = (RiskAlert.Status.OPEN, RiskAlert.Status.ACKNOWLEDGED)
UNDER = ("ok", "warning")
SYSTEM = "system"  # the actor of the alerts' own changes (two breaches joined)


@transaction.atomic
def alerts_update(*, as_of: dt.date, values: Sequence[selectors.LimitValue]) -> list[RiskAlert]:
    """The check of business day `as_of` applied to the limits' alerts: one alert per limit
    and breach (a run of consecutive business days in breach). Returns the alerts of the
    limits in breach on `as_of`.

    A day in breach extends the alert whose breach holds it or adjoins it, either way (two
    alerts it joins become one), or opens a new alert; a day back under resolves the
    limit's alerts that ended before it, and, when a check of the day is run again with a
    different answer, takes the day out of the breach that held it. Days are checked in any
    order and any number of times with the same result: a new alert whose later days a
    check already found under is born resolved. A limit whose value is unavailable (a VaR
    without the history) changes nothing. Alerts of deactivated limits resolve.
    """
    now = timezone.now()
    checked = {v.limit.pk: v for v in values if v.status != "unavailable"}
    # Checks of two days at once take their limits in turn: the alerts they read stay true.
    list(RiskLimit.objects.select_for_update().filter(pk__in=checked).order_by("pk"))
    RiskAlert.objects.filter(status__in=ACTIVE, limit__is_active=False).update(
        status=RiskAlert.Status.RESOLVED, resolved_at=now
    )
    nearby = _alerts_near(as_of, checked)
    changes = _AlertChanges(now)
    for limit_id, value in checked.items():
        alerts = nearby.get(limit_id, [])
        if value.status == "breach":
            changes.breach_on(as_of, value, alerts)
        else:
            changes.under_on(as_of, alerts)
    changes.resolve_from_later_checks()
    return changes.save()


def _alerts_near(day: dt.date, limit_ids: Iterable[int]) -> dict[int, list[RiskAlert]]:
    """By limit, oldest first: the alerts a check of `day` may change — those holding or
    adjoining it, those ending before it not yet resolved or resolved later than it."""
    before, after = previous_business_day(day), next_business_day(day)
    alerts = (
        RiskAlert.objects.select_for_update()
        .alias(through=Coalesce("last_day", "date"))
        .filter(limit_id__in=limit_ids)
        .filter(
            Q(date__lte=after, through__gte=before)
            | Q(through__lt=day, status__in=ACTIVE)
            | Q(through__lt=day, resolved_on__gt=day)
        )
        .order_by("limit_id", "date")
    )
    nearby: dict[int, list[RiskAlert]] = {}
    for alert in alerts:
        alert.last_day = alert.last
        nearby.setdefault(alert.limit_id, []).append(alert)  # type: ignore[arg-type]
    return nearby


class _AlertChanges:
    """What one check does to the alerts: the rows to save, to delete, and the new breaches
    whose end a later check may already have seen."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.changed: dict[int, RiskAlert] = {}  # by id(): new rows have no pk yet
        self.deleted: list[RiskAlert] = []
        self.unresolved_ends: list[RiskAlert] = []
        self.in_breach: list[RiskAlert] = []

    def _touch(self, alert: RiskAlert) -> RiskAlert:
        alert.days = days_in_breach(alert.date, alert.last)
        if alert.resolved_on is not None:
            alert.status = RiskAlert.Status.RESOLVED
            alert.resolved_at = alert.resolved_at or self.now
        else:
            acknowledged = alert.acknowledged_at is not None
            alert.status = RiskAlert.Status.ACKNOWLEDGED if acknowledged else RiskAlert.Status.OPEN
            alert.resolved_at = None
        self.changed[id(alert)] = alert
        return alert

    def breach_on(self, day: dt.date, value: selectors.LimitValue, alerts: list[RiskAlert]) -> None:
        """`day` in breach: it joins the breach holding or adjoining it (all of them become
        one, the oldest alert kept), or starts one."""
        before, after = previous_business_day(day), next_business_day(day)
        touching = [
            a
            for a in alerts
            if a.date <= after and a.last >= before and (a.date <= day <= a.last or not _undone(a))
        ]
        if not touching:
            touching = [RiskAlert(limit_id=value.limit.pk, date=day, opened_at=self.now)]
            touching[0].last_day = day
        kept, *joined = touching
        end = max(touching, key=lambda a: a.last)
        if end.last <= day:  # `day` is the breach's last: its figures are the breach's
            end.value, end.utilization = value.value, value.utilization
        kept.value, kept.utilization = end.value, end.utilization
        kept.worst_utilization = _breach_worst(day, value.utilization, touching)
        kept.date, kept.last_day = min(day, kept.date), max(day, end.last)
        # The breach is resolved as its last alert was, unless its end moved to `day` or
        # `day` was the check that had undone it: then the first later check that found
        # the limit under says whether it is.
        kept.resolved_on, kept.resolved_at = end.resolved_on, end.resolved_at
        undone = end.resolved_on is not None and end.resolved_on <= kept.last
        if undone or (kept.resolved_on is None and kept.last == day):
            kept.resolved_on = None
            self.unresolved_ends.append(kept)
        for alert in joined:
            if kept.acknowledged_at is None and alert.acknowledged_at is not None:
                kept.acknowledged_by = alert.acknowledged_by
                kept.acknowledged_at, kept.note = alert.acknowledged_at, alert.note
            self.deleted.append(alert)
        self.in_breach.append(self._touch(kept))

    def under_on(self, day: dt.date, alerts: list[RiskAlert]) -> None:
        """`day` back under: it resolves the breaches that ended before it (or moves their
        resolution to it, when a check found it earlier), and is taken out of the breach
        that held it (a check run again with a different answer)."""
        for alert in alerts:
            if alert.last >= day >= alert.date:
                self._take_out(alert, day)
            elif alert.last < day and (
                alert.status in ACTIVE or (alert.resolved_on and alert.resolved_on > day)
            ):
                alert.resolved_on = day
                self._touch(alert)

    def _take_out(self, alert: RiskAlert, day: dt.date) -> None:
        """`day` out of `alert`'s breach: what is left before it stays the alert, resolved
        on `day`; what is left after it is a breach of its own (the alert, when nothing is
        left before); nothing left, the alert goes. Figures from the days' checks."""
        first, last = alert.date, alert.last
        before = (first, previous_business_day(day)) if first < day else None
        after = (next_business_day(day), last) if day < last else None
        if before is None and after is None:  # its only day: resolved on it, kept as seen
            alert.resolved_on = day
            self._touch(alert)
            return
        checks = _breach_figures(alert.limit_id, first, last)  # type: ignore[arg-type]
        if after is not None:
            later = alert
            if before is not None:
                later = RiskAlert(limit_id=alert.limit_id, opened_at=self.now)
                later.value, later.utilization = alert.value, alert.utilization
                later.resolved_on, later.resolved_at = alert.resolved_on, alert.resolved_at
            later.date, later.last_day = after
            known = worst(*_utilizations(checks, *after))
            later.worst_utilization = alert.worst_utilization if known is None else known
            self._touch(later)
        if before is not None:
            alert.date, alert.last_day = before
            current = checks.get(before[1])
            alert.value, alert.utilization = current if current else (None, None)
            alert.worst_utilization = worst(*_utilizations(checks, *before))
            alert.resolved_on = day
            self._touch(alert)

    def resolve_from_later_checks(self) -> None:
        """A breach whose end moved is resolved on the first later day a stored check found
        its limit under (days are checked in any order: the later ones may come first)."""
        waiting = {alert.limit_id: alert for alert in self.unresolved_ends}
        if not waiting:
            return
        since = min(alert.last for alert in waiting.values())
        later = RiskSnapshot.objects.filter(date__gt=since).order_by("date")
        for date, limits in later.values_list("date", "limits").iterator(chunk_size=20):
            for row in limits:
                alert = waiting.get(row.get("id"))
                if alert is not None and date > alert.last and row.get("status") in UNDER:
                    alert.resolved_on = date
                    self._touch(alert)
                    del waiting[alert.limit_id]  # type: ignore[arg-type]
            if not waiting:
                return

    def save(self) -> list[RiskAlert]:
        """Write the changes (a breach undone or joined into another is audited as it
        was), and return the alerts of the limits in breach on the day checked."""
        gone = {id(alert) for alert in self.deleted}
        for alert in self.deleted:
            audit_record(
                actor=SYSTEM,
                action="riskalert.fold",
                obj=alert,
                before=model_state(alert),
                note="joined into the breach next to it",
            )
        if self.deleted:
            RiskAlert.objects.filter(pk__in=[alert.pk for alert in self.deleted]).delete()
        kept = [a for key, a in self.changed.items() if key not in gone]
        RiskAlert.objects.bulk_create([a for a in kept if a.pk is None])
        RiskAlert.objects.bulk_update([a for a in kept if a.pk is not None], ALERT_FIELDS)
        return self.in_breach


def days_in_breach(first: dt.date, last: dt.date) -> int:
    """The business days from `first` to `last`, both counted."""
    return len(business_days(first, last))


def worst(*utilizations: Decimal | None) -> Decimal | None:
    """The largest utilization given, None when none is known."""
    known = [u for u in utilizations if u is not None]
    return max(known) if known else None


def _breach_worst(
    day: dt.date, utilization: Decimal | None, touching: Sequence[RiskAlert]
) -> Decimal | None:
    """The worst utilization of the breach that `day`, found in breach at `utilization`,
    makes of the alerts `touching` it: that of its days from their stored checks, `day`'s
    as checked now. The alerts next to `day` keep theirs (their days' checks are not
    `day`'s); the alert that held `day` (its check run again, perhaps lower) is read again
    without it, unless `day`'s figure now is at least that alert's worst. So the worst
    depends only on the stored checks, whatever order and however often days are run."""
    worsts = [utilization]
    for alert in touching:
        kept = alert.worst_utilization or alert.utilization
        if alert.date <= day <= alert.last and (
            utilization is None or kept is None or kept > utilization
        ):
            kept = _worst_without(alert, day, kept)
        worsts.append(kept)
    return worst(*worsts)


def _worst_without(alert: RiskAlert, day: dt.date, kept: Decimal | None) -> Decimal | None:
    """The worst utilization of `alert`'s days but `day`, from their stored checks; `kept`
    (the alert's) when some of them has none (its check was not stored)."""
    checks = _breach_figures(alert.limit_id, alert.date, alert.last)  # type: ignore[arg-type]
    others = [other for other in business_days(alert.date, alert.last) if other != day]
    if any(other not in checks for other in others):
        return kept
    return worst(*(checks[other][1] for other in others))


def _undone(alert: RiskAlert) -> bool:
    """A breach of one day that a check of that day, run again, found under: kept as seen,
    resolved on that day; it joins no breach next to it."""
    return alert.resolved_on is not None and alert.resolved_on <= alert.last


ALERT_FIELDS = [
    "date",
    "last_day",
    "days",
    "value",
    "utilization",
    "worst_utilization",
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "note",
    "resolved_on",
    "resolved_at",
]


def _breach_figures(
    limit_id: int, first: dt.date, last: dt.date
) -> dict[dt.date, tuple[Decimal | None, Decimal | None]]:
    """(value, utilization) of `limit_id` on each day from `first` to `last` whose stored
    check found it in breach."""
    figures = {}
    rows = RiskSnapshot.objects.filter(date__range=(first, last)).values_list("date", "limits")
    for date, limits in rows:
        for row in limits:
            if row.get("id") == limit_id and row.get("status") == "breach":
                figures[date] = (money_or_none(row["value"]), money_or_none(row["utilization"]))
    return figures


def _utilizations(
    checks: Mapping[dt.date, tuple[Decimal | None, Decimal | None]], first: dt.date, last: dt.date
) -> list[Decimal | None]:
    return [utilization for day, (_, utilization) in checks.items() if first <= day <= last]


@transaction.atomic
def alert_acknowledge(*, alert_id: int, actor: str, note: str) -> RiskAlert:
    """A person takes note of an open alert, saying what is done about it (the note is
    required); the alert stays open, acknowledged, until its breach ends. The alert is
    read again under its lock: of two acknowledges at once, one takes effect and the other
    is a Conflict naming who acknowledged it."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": ["Say what is done about the alert: a note is required."]})
    # Only the alert's row is locked: its limit may be none (a pipeline's alert).
    alert = (
        RiskAlert.objects.select_for_update(of=("self",)).select_related("limit").get(pk=alert_id)
    )
    if alert.status != RiskAlert.Status.OPEN:
        detail = (
            f"by {alert.acknowledged_by} at {alert.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC"
            if alert.status == RiskAlert.Status.ACKNOWLEDGED and alert.acknowledged_at
            else "the limit is back under"
        )
        raise Conflict(f"Alert {alert.pk} is already {alert.status} ({detail}).")
    audited_update(
        alert,
        actor=actor,
        verb="acknowledge",
        audit_note=note,
        status=RiskAlert.Status.ACKNOWLEDGED,
        acknowledged_by=actor,
        acknowledged_at=timezone.now(),
        note=note,
    )
    return alert


@transaction.atomic
def limit_delete(limit: RiskLimit, /, *, actor: str) -> None:
    """Delete a limit that never raised an alert; one with alerts is deactivated instead."""
    if limit.alerts.exists():
        raise Conflict(
            f"Limit {limit.name!r} has alerts on record: deactivate it (is_active=false) "
            "instead of deleting it."
        )
    audited_delete(limit, actor=actor)


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
        selectors.BookArrays.load(book_state_on(date)), window=window
    )
    var, es = report.var, report.expected_shortfall
    shown = report_shown(report)
    snapshot, _ = RiskSnapshot.objects.update_or_create(
        date=date,
        defaults={
            "nav": risk.book.state.nav,
            "window": risk.window,
            "window_used": risk.window_used,
            "var_unavailable": risk.var_unavailable or "",
            "var_95": var[0.95],
            "var_99": var[0.99],
            "es_95": es[0.95],
            "es_99": es[0.99],
            **{
                name: shown[name]
                for name in (
                    "exposures",
                    "dv01_by_currency",
                    "dv01_by_tenor",
                    "drawdown",
                    "limits",
                )
            },
            "missing_history": report.missing_history,
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


def risk_snapshots_build(
    *,
    start: dt.date,
    end: dt.date,
    actor: str,
    window: int | None = None,
    progress: Progress | None = None,
) -> list[RiskSnapshot]:
    """Take the risk snapshot of every business day from `start` (or the inception, if
    later) to `end`, each from that day's timeline as the EOD risk step takes it, and
    check its limits. Each day is its own transaction: an interrupted run keeps the days
    it finished, and running it again gives the same snapshots.

    Every day needs its fund snapshot: ValidationError names the `backfill_snapshots`
    command when some are missing, before anything is written.
    """
    if start > end:
        raise ValidationError({"start": [f"start {start} is after end {end}."]})
    start = max(start, fund_inception_or_error(end))
    days = business_days(start, end)
    stored = set(
        PortfolioSnapshot.objects.filter(date__range=(start, end)).values_list("date", flat=True)
    )
    missing = [day for day in days if day not in stored]
    if not days or missing:
        first, last = (missing[0], missing[-1]) if missing else (start, end)
        raise ValidationError(
            {
                "detail": [
                    f"{len(missing) or 'No'} business day(s) from {first} to {last} without "
                    f"a fund snapshot: run `manage.py backfill_snapshots --start {first} "
                    f"--end {last}` first."
                ]
            }
        )
    taken = []
    for done, day in enumerate(days, start=1):
        taken.append(risk_snapshot_take(date=day, window=window, actor=actor))
        if progress:
            progress(day, done, len(days))
    return taken


# --- Stress scenarios -------------------------------------------------------------------------

SHOCK_TARGET_PATTERN = r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z"
SHOCK_MAX = Decimal("10000")  # bp for a yield; a relative move is at most 10
SHOCK_PLACES = 8
SHOCK_FIELDS = ("target_type", "target", "shock", "quote_type")
TARGET_TYPES = ("instrument", "asset_class", "currency")


def _shock_row(raw: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A shock as given (JSON from the API or the admin), parsed: the row and its errors."""
    if not isinstance(raw, Mapping):
        return {}, {"non_field_errors": [f"A shock is an object with {', '.join(SHOCK_FIELDS)}."]}
    errors: dict[str, list[str]] = {
        name: [f"Unknown field; expected {', '.join(SHOCK_FIELDS)}."]
        for name in sorted(set(raw) - set(SHOCK_FIELDS))
    }
    row = {name: raw.get(name) for name in SHOCK_FIELDS}
    if row["target_type"] not in TARGET_TYPES:
        errors["target_type"] = [f"One of {', '.join(TARGET_TYPES)}."]
    if not isinstance(row["target"], str) or not re.match(SHOCK_TARGET_PATTERN, row["target"]):
        errors["target"] = ["A symbol, an asset class or a currency code."]
    text = str(row["shock"]).strip()
    if isinstance(row["shock"], bool) or not inputs.is_ascii_decimal(text):
        errors["shock"] = ["A number."]
    else:
        row["shock"] = shock = Decimal(text)
        if abs(shock) > SHOCK_MAX:
            errors["shock"] = [f"At most {SHOCK_MAX:,.0f} either way."]
        elif shock.as_tuple().exponent < -SHOCK_PLACES:  # type: ignore[operator]
            errors["shock"] = [f"At most {SHOCK_PLACES} decimal places."]
        else:  # stored as the API has always written it
            row["shock"] = shock.quantize(Decimal(1).scaleb(-SHOCK_PLACES))
    if row["quote_type"] not in (None, "", *Instrument.QuoteType.values):
        errors["quote_type"] = [f"One of {', '.join(Instrument.QuoteType.values)}."]
    return row, errors


def shocks_clean(raw: Any) -> list[dict[str, Any]]:
    """The shocks of a scenario or a stress run, parsed and checked (ValidationError, a
    message per bad row and field), JSON-safe as a scenario stores them (the move as a
    string)."""
    if not isinstance(raw, list | tuple) or not raw:
        raise ValidationError("Give at least one shock (a list of them).")
    parsed = [_shock_row(row) for row in raw]
    errors = {str(i): row_errors for i, (_, row_errors) in enumerate(parsed) if row_errors}
    rows = [row for row, _ in parsed]
    if not errors:
        errors = _shock_rules(rows)
    if not errors:
        _combined_rule(rows)
    if errors:
        raise ValidationError(
            [
                f"shock {index}: {field}: {' '.join(messages)}"
                for index, fields in errors.items()
                for field, messages in fields.items()
            ]
        )
    return [
        {**{k: v for k, v in row.items() if v not in (None, "")}, "shock": str(row["shock"])}
        for row in rows
    ]


def _scenario_fields(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("shocks"):
        try:
            fields["shocks"] = shocks_clean(fields["shocks"])
        except ValidationError as error:
            raise ValidationError({"shocks": error.messages}) from None
    return fields


def _saved(instance: Any) -> dict[str, Any]:
    """A stored row's fields, to check changes on the row as it would be saved."""
    if instance is None:
        return {}
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def scenario_check(*, instance: StressScenario | None, changes: Mapping[str, Any]) -> None:
    """The scenario as it would be saved: its shocks, and the model's rules."""
    fields = _scenario_fields(dict(changes))
    StressScenario(**{**_saved(instance), **fields}).clean()


@transaction.atomic
def scenario_create(*, actor: str, **fields: Any) -> StressScenario:
    return audited_create(StressScenario, actor=actor, created_by=actor, **_scenario_fields(fields))


@transaction.atomic
def scenario_update(scenario: StressScenario, /, *, actor: str, **changes: Any) -> StressScenario:
    locked = StressScenario.objects.select_for_update().get(pk=scenario.pk)
    return audited_update(locked, actor=actor, **_scenario_fields(changes))


@transaction.atomic
def scenario_delete(scenario: StressScenario, /, *, actor: str) -> None:
    audited_delete(scenario, actor=actor)


# --- Limits -----------------------------------------------------------------------------------


def limit_check(*, instance: RiskLimit | None, changes: Mapping[str, Any]) -> None:
    """The limit as it would be saved: the model's rules (scope and metric)."""
    RiskLimit(**{**_saved(instance), **changes}).clean()


@transaction.atomic
def limit_create(*, actor: str, **fields: Any) -> RiskLimit:
    return audited_create(RiskLimit, actor=actor, **fields)


@transaction.atomic
def limit_update(limit: RiskLimit, /, *, actor: str, **changes: Any) -> RiskLimit:
    return audited_update(
        RiskLimit.objects.select_for_update().get(pk=limit.pk), actor=actor, **changes
    )


def _shock_rules(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Targets must exist, and a relative move cannot take a price to zero or below.

    Two queries whatever the number of shocks: the instruments named, and the quote types
    held in each asset class named (an asset class holding both needs `quote_type`).
    """
    symbols = {r["target"] for r in rows if r["target_type"] == "instrument"}
    quote_of = dict(
        Instrument.objects.filter(symbol__in=symbols).values_list("symbol", "quote_type")
    )
    classes = {r["target"] for r in rows if r["target_type"] == "asset_class"}
    held: dict[str, set[str]] = {}
    for asset_class, quote_type in (
        Instrument.objects.filter(asset_class__in=classes)
        .values_list("asset_class", "quote_type")
        .distinct()
    ):
        held.setdefault(asset_class, set()).add(quote_type)
    errors: dict[str, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        kind, target = row["target_type"], row["target"]
        quote_types = {row.get("quote_type") or "price"}
        problem = None
        if kind == "instrument":
            if target not in quote_of:
                problem = ("target", f"Unknown instrument {target!r}.")
            quote_types = {quote_of.get(target, "price")}
        elif kind == "asset_class":
            if target not in Instrument.AssetClass.values:
                problem = ("target", f"Unknown asset class {target!r}.")
            elif not row.get("quote_type"):
                quote_types = held.get(target, {"price"})
                if len(quote_types) > 1:
                    problem = (
                        "quote_type",
                        f"{target} holds price and yield instruments: say which this shock "
                        "moves (quote_type price: relative move; yield: bp).",
                    )
        elif not re.fullmatch(inputs.CURRENCY_PATTERN, target):
            problem = ("target", "A currency is a three-letter ISO code in capitals, e.g. USD.")
        if problem is None and "price" in quote_types and not -1 < row["shock"] <= 10:
            problem = ("shock", "A relative move must be above -1 (-100%) and at most 10.")
        if problem:
            errors[str(index)] = {problem[0]: [problem[1]]}
    return errors


def _combined_rule(rows: list[dict[str, Any]]) -> None:
    """Shocks on the same position add up: together, they cannot take a price to zero or
    below either (−60% on an instrument and −60% on its asset class is −120%). One query:
    every instrument's labels, moved as a stress moves them (`engine.shock_vector`)."""
    labels = list(Instrument.objects.values_list("symbol", "asset_class", "currency", "quote_type"))
    if not labels:
        return
    symbol, asset_class, currency, quote_type = np.array(labels, dtype=str).T
    shocks = [
        engine.Shock(r["target_type"], r["target"], float(r["shock"]), r.get("quote_type"))
        for r in rows
    ]
    is_yield = quote_type == Instrument.QuoteType.YIELD
    moves = engine.shock_vector(
        shocks, instrument=symbol, asset_class=asset_class, currency=currency, is_yield=is_yield
    )
    wiped = [
        f"{s} ({m:+.0%})"
        for s, m, y in zip(symbol, moves, is_yield, strict=True)
        if not y and m <= -1
    ]
    if wiped:
        raise ValidationError(
            "Shocks on the same instrument add up, and these take a price to zero or below: "
            f"{', '.join(wiped[:10])}{' …' if len(wiped) > 10 else ''}."
        )


# --- The pipelines' alerts --------------------------------------------------------------------


@transaction.atomic
def pipeline_alert_open(*, source: str, date: dt.date, message: str, actor: str) -> RiskAlert:
    """A failed pipeline run's alert (one per pipeline and business date, opened again if
    it fails again), audited."""
    alert, _ = RiskAlert.objects.update_or_create(
        limit=None,
        source=source,
        date=date,
        defaults={
            "status": RiskAlert.Status.OPEN,
            "last_day": date,
            "message": message,
            "opened_at": timezone.now(),
            "resolved_at": None,
        },
    )
    audit_record(actor=actor, action="riskalert.open", obj=alert, after=model_state(alert))
    return alert


@transaction.atomic
def pipeline_alert_resolve(*, source: str, date: dt.date, actor: str) -> int:
    """The run of that pipeline and date succeeded: its open alert is resolved, audited."""
    alerts = list(
        RiskAlert.objects.select_for_update(of=("self",))
        .filter(limit=None, source=source, date=date, resolved_at__isnull=True)
        .order_by("pk")
    )
    now = timezone.now()
    for alert in alerts:
        audited_update(
            alert, actor=actor, verb="resolve", status=RiskAlert.Status.RESOLVED, resolved_at=now
        )
    return len(alerts)


# --- The NAV against the administrator's ------------------------------------------------------


@dataclass(frozen=True)
class NavCheck:
    """A check of days against the administrator's: each day as it reconciles now, and the
    days whose alert it opened (or opened again) and resolved."""

    days: list[NavReconciliation]
    opened: list[dt.date]
    resolved: list[dt.date]

    @property
    def breaks(self) -> list[dt.date]:
        return [day.date for day in self.days if day.status == BREAK]


def nav_break_message(day: NavReconciliation) -> str:
    """What breaks on `day`, in the fund's words: the NAVs and their difference, and the
    units when they differ."""
    parts = []
    if day.difference:
        parts.append(
            f"NAV {money(day.nav)}, the administrator's {money(day.official_nav)}: "
            f"{money(day.difference)} ({day.difference_bp} bp; tolerance "
            f"{settings.PMS_NAV_TOLERANCE_BP} bp)"
        )
    if day.units != day.official_units:
        parts.append(
            f"units {money(day.units, 8)}, the administrator's {money(day.official_units, 8)}"
        )
    return "; ".join(parts)


@transaction.atomic
def nav_breaks_update(*, days: Iterable[dt.date], actor: str) -> NavCheck:
    """Reconcile `days` with the administrator's and keep their `nav_break` alerts, one per
    day: a day in break opens its alert (again, if it had reconciled since) or brings the
    open one's message up to date; a day that reconciles resolves its alert; a day with one
    side only leaves its alert as it is (nothing is reconciled yet). A few queries whatever
    the number of days, each change audited as the pipelines' alerts are."""
    reconciled = nav_reconciliation(days=days)
    alerts = {
        alert.date: alert
        for alert in RiskAlert.objects.select_for_update(of=("self",)).filter(
            limit=None, source=NAV_BREAK, date__in=[day.date for day in reconciled]
        )
    }
    now = timezone.now()
    created: list[RiskAlert] = []
    changed: list[tuple[RiskAlert, dict[str, Any], str]] = []  # (alert, before, verb)
    for day in reconciled:
        alert = alerts.get(day.date)
        before = model_state(alert) if alert else {}
        if day.status == BREAK:
            message = nav_break_message(day)
            if alert is None:
                created.append(
                    RiskAlert(
                        source=NAV_BREAK,
                        date=day.date,
                        last_day=day.date,
                        message=message,
                        opened_at=now,
                    )
                )
            elif alert.status == RiskAlert.Status.RESOLVED:
                alert.status, alert.opened_at, alert.resolved_at = RiskAlert.Status.OPEN, now, None
                alert.message = message
                changed.append((alert, before, "open"))
            elif alert.message != message:
                alert.message = message
                changed.append((alert, before, "update"))
        elif day.status == OK and alert is not None and alert.status in ACTIVE:
            alert.status, alert.resolved_at = RiskAlert.Status.RESOLVED, now
            changed.append((alert, before, "resolve"))
    RiskAlert.objects.bulk_create(created)
    RiskAlert.objects.bulk_update(
        [alert for alert, _, _ in changed], ["status", "opened_at", "resolved_at", "message"]
    )
    AuditRecord.objects.bulk_create(
        [_alert_audit(actor, alert, "open", None) for alert in created]
        + [_alert_audit(actor, alert, verb, before) for alert, before, verb in changed]
    )
    opened = [a.date for a in created] + [a.date for a, _, verb in changed if verb == "open"]
    resolved = [alert.date for alert, _, verb in changed if verb == "resolve"]
    return NavCheck(reconciled, sorted(opened), sorted(resolved))


def _alert_audit(
    actor: str, alert: RiskAlert, verb: str, before: dict[str, Any] | None
) -> AuditRecord:
    return AuditRecord(
        actor=actor,
        action=f"riskalert.{verb}",
        object_type="RiskAlert",
        object_id=str(alert.pk),
        before=before,
        after=model_state(alert),
    )
