"""Create or update the django-q2 schedules of the pipelines (idempotent)."""

from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from pms_site import health, pipelines


class Command(BaseCommand):
    help = (
        "Create or update one schedule per pipeline (crons in UTC, PMS_SCHEDULES) and the "
        "cluster's heartbeat (every minute); running it again changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        schedules = [
            (
                f"pms-{pipeline}",
                "pms_site.pipelines.scheduled",
                repr(pipeline),
                "",
                settings.PMS_SCHEDULES[pipeline],
            )
            for pipeline in pipelines.PIPELINES
        ]
        # The heartbeat's results are not kept: they would push the pipelines' out of the
        # cluster's task history (Q_CLUSTER save_limit).
        schedules.append(
            (health.HEARTBEAT_SCHEDULE, "pms_site.health.heartbeat", "", _NOT_SAVED, "* * * * *")
        )
        for name, func, call_args, call_kwargs, cron in schedules:
            due_now = name == health.HEARTBEAT_SCHEDULE
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
            # A pipeline's next slot of the cron, not "now": setting up must not run it. The
            # heartbeat's current slot (this minute's, already past), so it is due at once:
            # the cluster's scheduler, which runs every 30 s in its sentinel and the first
            # time 30 s after the start, fires it on that first pass, rather than on the first
            # pass after the next whole minute (up to 90 s after the start).
            slots = croniter(cron, now)
            schedule.next_run = slots.get_prev(type(now)) if due_now else slots.get_next(type(now))
            schedule.save(update_fields=["next_run"])
            self.stdout.write(
                f"{'created' if created else 'updated'} {schedule.name}: {cron} (UTC), "
                f"next run {schedule.next_run:%Y-%m-%d %H:%M} UTC"
            )


_NOT_SAVED = "q_options={'save': False}"
