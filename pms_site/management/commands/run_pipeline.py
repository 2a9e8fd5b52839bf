"""Run a pipeline in the foreground, step by step, for a business date."""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_site import pipelines
from pms_site.models import PipelineRun
from portfolio.calendar import today
from portfolio.errors import Conflict


class Command(BaseCommand):
    help = (
        "Run the eod (mark-to-market → snapshots → risk → attribution) or preopen "
        "(mark-to-market → proposals → morning pack) pipeline now, here, for --date "
        "(default today). --force takes over a run recorded as queued or running."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipeline", choices=list(pipelines.PIPELINES))
        parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--actor", default="run_pipeline")

    def handle(self, *args: Any, **options: Any) -> None:
        date = options["date"] or today()
        steps = pipelines.PIPELINES[options["pipeline"]]
        self.stdout.write(f"{options['pipeline']} for {date}: {' → '.join(s.name for s in steps)}")

        def progress(step: str, message: str) -> None:
            self.stdout.write(f"  {step}: {message}")
            self.stdout.flush()

        try:
            run = pipelines.pipeline_run(
                pipeline=options["pipeline"],
                date=date,
                actor=options["actor"],
                force=options["force"],
                progress=progress,
            )
        except Conflict as conflict:
            raise CommandError(f"{conflict} Use --force if its worker died.") from None
        for step in run.steps:
            if "seconds" in step:
                self.stdout.write(
                    f"  {step['name']:<15} {step['status']:<10} {step['seconds']:8.2f} s"
                )
        if run.status == PipelineRun.Status.FAILED:
            raise CommandError(
                f"{run.pipeline} {run.business_date} failed after {run.seconds:.1f} s: "
                f"{run.error}. A risk alert is open; fix the cause and run it again."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{run.pipeline} {run.business_date}: {run.status} in {run.seconds:.1f} s"
            )
        )
