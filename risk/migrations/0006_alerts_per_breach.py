"""One alert per limit and breach: the fields of a breach, and the daily alerts of the days
of a breach (consecutive business days in breach) folded into one.

The rule of the fold is here, whole, as it was when the alerts were folded: a migration
must not change with the code that came later (the calendar is the fund's, from the
`holidays` package, as `core.calendar` read it then)."""

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from itertools import groupby
from typing import Any

import holidays
from django.conf import settings
from django.db import migrations, models
from django.db.models import F

ROW_FIELDS = (
    "id",
    "limit_id",
    "date",
    "status",
    "value",
    "utilization",
    "acknowledged_by",
    "acknowledged_at",
    "note",
    "resolved_at",
)
BREACH_FIELDS = (
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
)
UNDER = ("ok", "warning")


@cache
def _holidays(market: str, year: int) -> holidays.HolidayBase:
    return holidays.financial_holidays(market, years=year)


def next_business_day(day: dt.date) -> dt.date:
    """The first business day strictly after `day` on the fund's exchange calendar."""
    day += dt.timedelta(days=1)
    while day.weekday() >= 5 or day in _holidays(settings.PMS_CALENDAR, day.year):
        day += dt.timedelta(days=1)
    return day


def breach_runs(
    days: Iterable[dt.date], next_day: Callable[[dt.date], dt.date] = next_business_day
) -> list[tuple[dt.date, dt.date]]:
    """The runs of consecutive business days among `days` (business days, in any order,
    repeats allowed): (first, last) of each, oldest first."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if runs and next_day(runs[-1][1]) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def fold_daily_alerts(
    rows: Sequence[Mapping[str, Any]],
    under_days: Mapping[int, Sequence[dt.date]],
    next_day: Callable[[dt.date], dt.date] = next_business_day,
) -> tuple[list[dict[str, Any]], list[int]]:
    """The alerts of a limit's days in breach folded into one alert per breach.

    `rows` are limit alerts as the database held them, one per limit and day (`id`,
    `limit_id`, `date`, `status`, `value`, `utilization`, `acknowledged_by`,
    `acknowledged_at`, `note`, `resolved_at`); `under_days`, by limit, the days (oldest
    first) whose stored check found it under. Returns (the alert kept for each breach, its
    earliest day's row, with the breach's fields; the ids of the other rows, to delete).
    """
    kept: list[dict[str, Any]] = []
    folded: list[int] = []
    ordered = sorted(rows, key=lambda row: (row["limit_id"], row["date"]))
    for limit_id, of_limit in groupby(ordered, key=lambda row: row["limit_id"]):
        by_day = {row["date"]: row for row in of_limit}  # one per limit and day
        under = under_days.get(limit_id, ())
        for first, last in breach_runs(by_day, next_day):
            run = [row for day, row in sorted(by_day.items()) if first <= day <= last]
            later = bisect_right(under, last)  # the first later check under, if any
            resolved_on = under[later] if later < len(under) else next_day(last)
            kept.append(breach_of(run, resolved_on))
            folded.extend(row["id"] for row in run[1:])
    return kept, folded


def breach_of(run: Sequence[Mapping[str, Any]], resolved_on: dt.date) -> dict[str, Any]:
    """The fields of one breach from the daily alerts of its days (oldest first, one a
    business day): its current value and utilization from its last day, its worst
    utilization from all its days, the latest acknowledgement any of its days had. It is
    resolved when its last day's alert was, on `resolved_on` (the first later day a stored
    check found the limit under, else the next business day)."""
    head, tail = run[0], run[-1]
    acknowledged = [row for row in run if row["acknowledged_at"] is not None]
    ack = max(acknowledged, key=lambda row: row["acknowledged_at"]) if acknowledged else None
    resolved = tail["status"] == "resolved"
    status = "resolved" if resolved else ("acknowledged" if ack else "open")
    known = [row["utilization"] for row in run if row["utilization"] is not None]
    return {
        "id": head["id"],
        "date": head["date"],
        "last_day": tail["date"],
        "days": len(run),
        "value": tail["value"],
        "utilization": tail["utilization"],
        "worst_utilization": max(known) if known else None,
        "status": status,
        "acknowledged_by": ack["acknowledged_by"] if ack else "",
        "acknowledged_at": ack["acknowledged_at"] if ack else None,
        "note": ack["note"] if ack else "",
        "resolved_on": resolved_on if resolved else None,
        "resolved_at": tail["resolved_at"] if resolved else None,
    }


def under_days_stored(snapshot_model: Any, limit_ids: set[int]) -> dict[int, list[dt.date]]:
    """By limit, oldest first: the days whose stored check (the risk snapshot's limit row)
    found it under."""
    under: dict[int, list[dt.date]] = {}
    stored = snapshot_model.objects.order_by("date").values_list("date", "limits")
    for day, limits in stored.iterator(chunk_size=100):
        for row in limits or ():
            if row.get("id") in limit_ids and row.get("status") in UNDER:
                under.setdefault(row["id"], []).append(day)
    return under


def fold_alerts(apps: Any, schema_editor: Any) -> None:
    """Every alert becomes one of one day; then the limits' alerts of consecutive business
    days in breach become one per breach (its earliest day's row kept)."""
    alert_model = apps.get_model("risk", "RiskAlert")
    alert_model.objects.update(last_day=F("date"), days=1)
    rows = list(alert_model.objects.filter(limit__isnull=False).values(*ROW_FIELDS))
    under = under_days_stored(apps.get_model("risk", "RiskSnapshot"), {r["limit_id"] for r in rows})
    kept, folded = fold_daily_alerts(rows, under)
    alert_model.objects.filter(pk__in=folded).delete()
    changed = []
    for breach in kept:
        alert = alert_model(pk=breach["id"])
        for name in BREACH_FIELDS:
            setattr(alert, name, breach[name])
        changed.append(alert)
    alert_model.objects.bulk_update(changed, BREACH_FIELDS, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0005_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="riskalert",
            options={
                "ordering": ["-date", "-pk"],
                "permissions": [("acknowledge_riskalert", "Can acknowledge alerts")],
            },
        ),
        migrations.AddField(
            model_name="riskalert",
            name="days",
            field=models.PositiveIntegerField(default=1, help_text="Business days in breach."),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="last_day",
            field=models.DateField(
                blank=True, help_text="The breach's last business day; blank: its first.", null=True
            ),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="resolved_on",
            field=models.DateField(
                blank=True,
                help_text="The business day a check found the limit back under.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="worst_utilization",
            field=models.DecimalField(
                blank=True, decimal_places=6, help_text="Over the breach.", max_digits=16, null=True
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="date",
            field=models.DateField(
                help_text="The breach's first business day (a pipeline's: the run's date).",
                verbose_name="first day",
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="utilization",
            field=models.DecimalField(
                decimal_places=6, help_text="On the last day in breach.", max_digits=16, null=True
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="value",
            field=models.DecimalField(
                decimal_places=6,
                help_text="On the last day in breach. Null: undefined (NAV ≤ 0).",
                max_digits=28,
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="riskalert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("last_day__isnull", True), ("last_day__gte", models.F("date")), _connector="OR"
                ),
                name="riskalert_last_day_not_before_first",
            ),
        ),
        migrations.RunPython(fold_alerts, migrations.RunPython.noop, elidable=True),
    ]
