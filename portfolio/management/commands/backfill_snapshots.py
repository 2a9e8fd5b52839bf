"""Rebuild the daily snapshots of a range of business days from the ledger."""

import datetime as dt
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.calendar import on_or_before, today
from core.progress import monthly
from portfolio import services
from portfolio.selectors import inception


class Command(BaseCommand):
    help = (
        "Rebuild position and portfolio snapshots for every business day from --start to "
        "--end (default: from the fund's inception, its first capital flow, to the last "
        "business day). Stored snapshots in the range are replaced; nothing is built "
        "before the inception."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--end", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--actor", default="backfill_snapshots")

    def handle(self, *args: Any, **options: Any) -> None:
        end = options["end"] or on_or_before(today())
        first = inception()
        start = options["start"] or first or end
        if first is not None and first <= end and start < first:
            self.stdout.write(
                f"The fund's inception is {first} (its first capital flow): nothing is "
                f"built before it."
            )
            start = first
        started = time.perf_counter()
        self.stdout.write(f"Building snapshots from {start} to {end} …")
        try:
            built = services.snapshots_build(
                start=start, end=end, actor=options["actor"], progress=monthly(self.stdout)
            )
        except ValidationError as error:
            raise CommandError(f"Nothing built: {' '.join(error.messages)}") from None
        last = built[-1]
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(built)} days in {time.perf_counter() - started:.1f} s; "
                f"NAV {last.nav:,.2f} on {last.date}."
            )
        )
