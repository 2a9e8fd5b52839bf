"""Run a pipeline in the foreground, step by step, for a business date or a range of them."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.calendar import business_days, today
from core.errors import Conflict
from ops import pipelines
from ops.models import PipelineRun


class Command(BaseCommand):
    help = (
        "Run the eod (mark-to-market → snapshots → risk → attribution) or preopen "
        "(mark-to-market → proposals → morning pack) pipeline now, here, for --date "
        "(default today) or for every business day from --from to --to, in order. A past "
        "date is computed from the fund's timeline; the live book is never marked back. "
        "A date whose run is queued or running is refused (exit 1); --force takes that run "
        "over when its worker died (never while its worker is alive on this host)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipeline", choices=list(pipelines.PIPELINES))
        parser.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--from", dest="start", type=dt.date.fromisoformat, help="YYYY-MM-DD, with --to"
        )
        parser.add_argument(
            "--to", dest="end", type=dt.date.fromisoformat, help="YYYY-MM-DD (default today)"
        )
        parser.add_argument("--force", action="store_true")
        parser.add_argument("--actor", default="run_pipeline")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["pipeline"]
        if options["date"] and (options["start"] or options["end"]):
            raise CommandError("Give --date, or --from and --to: not both.")
        if options["end"] and not options["start"]:
            raise CommandError("--to goes with --from.")
        if options["start"]:
            end = options["end"] or today()
            if options["start"] > end:
                raise CommandError(f"--from {options['start']} is after --to {end}.")
            dates = business_days(options["start"], end)
            if not dates:
                raise CommandError(f"No business day from {options['start']} to {end}.")
        else:
            dates = [options["date"] or today()]
        steps = " → ".join(s.name for s in pipelines.PIPELINES[name])
        for number, date in enumerate(dates, start=1):
            counter = f"[{number}/{len(dates)}] " if len(dates) > 1 else ""
            self.stdout.write(f"{counter}{name} for {date}: {steps}")
            run = self.run_one(name, date, options)
            if run.status == PipelineRun.Status.FAILED:
                resume = (
                    f" Then resume: `manage.py run_pipeline {name} --from {date} --to {dates[-1]}`."
                    if len(dates) > 1
                    else ""
                )
                raise CommandError(
                    f"{run.pipeline} {run.business_date} failed after {run.seconds:.1f} s: "
                    f"{run.error}. A risk alert is open; fix the cause and run it again.{resume}"
                )
            self.stdout.write(
                self.style.SUCCESS(
                    f"{counter}{run.pipeline} {run.business_date}: {run.status} in "
                    f"{run.seconds:.1f} s"
                )
            )

    def run_one(self, name: str, date: dt.date, options: dict[str, Any]) -> PipelineRun:
        def progress(step: str, message: str) -> None:
            self.stdout.write(f"  {step}: {message}")
            self.stdout.flush()

        try:
            run = pipelines.pipeline_run(
                pipeline=name,
                date=date,
                actor=options["actor"],
                force=options["force"],
                progress=progress,
            )
        except pipelines.RunBusy as busy:
            hint = "" if options["force"] else " Use --force if its worker died."
            raise CommandError(f"{busy}{hint}") from None
        except Conflict as conflict:  # taken over by another process while it ran here
            raise CommandError(str(conflict)) from None
        except ValidationError as error:
            raise CommandError(f"{name} {date} not run: {' '.join(error.messages)}") from None
        for step in run.steps:
            if "seconds" in step:
                self.stdout.write(
                    f"  {step['name']:<15} {step['status']:<10} {step['seconds']:8.2f} s"
                )
        return run
