"""Create or update the django-q2 schedules of the pipelines (idempotent)."""

from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from pms_site import pipelines


class Command(BaseCommand):
    help = (
        "Create or update one schedule per pipeline (crons in UTC, PMS_SCHEDULES); "
        "running it again changes nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for pipeline in pipelines.PIPELINES:
            cron = settings.PMS_SCHEDULES[pipeline]
            schedule, created = Schedule.objects.update_or_create(
                name=f"pms-{pipeline}",
                defaults={
                    "func": "pms_site.pipelines.scheduled",
                    "args": repr(pipeline),
                    "schedule_type": Schedule.CRON,
                    "cron": cron,
                    "repeats": -1,
                },
            )
            # The next slot of the cron, not "now": setting up must not run the pipeline.
            schedule.next_run = croniter(cron, now).get_next(type(now))
            schedule.save(update_fields=["next_run"])
            self.stdout.write(
                f"{'created' if created else 'updated'} {schedule.name}: {cron} (UTC), "
                f"next run {schedule.next_run:%Y-%m-%d %H:%M} UTC"
            )
