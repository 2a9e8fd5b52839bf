"""Create or update the django-q2 schedules of the pipelines (idempotent)."""

import datetime as dt
from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import Schedule

from ops import health, pipelines


class Command(BaseCommand):
    help = (
        "Create or update one schedule per pipeline (crons in UTC, PMS_SCHEDULES); running "
        "it again changes nothing, and two at once (servers starting together) leave one "
        "schedule of each. Each cluster writes its own heartbeat (no schedule does)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        schedules = [
            (
                f"pms-{pipeline}",
                "ops.pipelines.scheduled",
                repr(pipeline),
                "",
                settings.PMS_SCHEDULES[pipeline],
            )
            for pipeline in pipelines.PIPELINES
        ]
        with transaction.atomic():
            _one_at_a_time()
            if Schedule.objects.filter(name=health.RETIRED_HEARTBEAT_SCHEDULE).delete()[0]:
                self.stdout.write(f"deleted {health.RETIRED_HEARTBEAT_SCHEDULE}: retired")
            for name, func, call_args, call_kwargs, cron in schedules:
                schedule, created = _write(name, func, call_args, call_kwargs, cron, now)
                self.stdout.write(
                    f"{'created' if created else 'updated'} {schedule.name}: {cron} (UTC), "
                    f"next run {schedule.next_run:%Y-%m-%d %H:%M} UTC"
                )


def _one_at_a_time() -> None:
    """Hold until the transaction ends the lock that makes commands run one after the other:
    a schedule's name is not unique in its table, so two servers starting at once would
    each create the same schedule. On SQLite the transaction's start (IMMEDIATE) is it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _write(
    name: str, func: str, call_args: str, call_kwargs: str, cron: str, now: dt.datetime
) -> tuple[Schedule, bool]:
    """Create or update the schedule `name`, the only one of that name."""
    doubles = Schedule.objects.filter(name=name).order_by("pk").values_list("pk", flat=True)[1:]
    Schedule.objects.filter(pk__in=list(doubles)).delete()  # left by an earlier race, if any
    schedule, created = Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": func,
            "args": call_args,
            "kwargs": call_kwargs,
            "schedule_type": Schedule.CRON,
            "cron": cron,
            "repeats": -1,
        },
    )
    # A pipeline's next slot of the cron, not "now": setting up must not run it.
    schedule.next_run = croniter(cron, now).get_next(type(now))
    schedule.save(update_fields=["next_run"])
    return schedule, created


# The advisory lock of setup_schedules (any constant bigint no other code of the fund uses).
_LOCK_KEY = 0x706D735F73636864  # "pms_schd"
