"""Take the daily risk snapshots of a range of business days from the fund's timeline."""

import datetime as dt
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max

from core.progress import monthly
from portfolio.models import PortfolioSnapshot
from portfolio.selectors import inception
from risk import services


class Command(BaseCommand):
    help = (
        "Take the risk snapshot (VaR, ES, exposures, limits and their alerts) of every "
        "business day from --start to --end (default: from the fund's inception to its "
        "last snapshot), each from that day's position snapshots, as the EOD risk step "
        "does; the VaR backtest reads them. Stored risk snapshots in the range are "
        "replaced. Run `backfill_snapshots` first for days without a snapshot."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--start", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--end", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument(
            "--window", type=int, help="Returns in the VaR window (default PMS_RISK_WINDOW)."
        )
        parser.add_argument("--actor", default="backfill_risk_snapshots")

    def handle(self, *args: Any, **options: Any) -> None:
        end = options["end"] or PortfolioSnapshot.objects.aggregate(day=Max("date"))["day"]
        if end is None:
            raise CommandError("No fund snapshot yet: run `manage.py backfill_snapshots` first.")
        first = inception()
        start = options["start"] or first or end
        if first is not None and first <= end and start < first:
            self.stdout.write(
                f"The fund's inception is {first} (its first capital flow): nothing is "
                f"taken before it."
            )
            start = first
        if options["window"] is not None and options["window"] < 1:
            raise CommandError("--window: at least 1 return.")
        self.stdout.write(f"Taking the risk snapshots from {start} to {end} …")
        started = time.perf_counter()
        try:
            taken = services.risk_snapshots_build(
                start=start,
                end=end,
                window=options["window"],
                actor=options["actor"],
                progress=monthly(self.stdout),
            )
        except ValidationError as error:
            raise CommandError(f"Nothing taken: {' '.join(error.messages)}") from None
        short = sum(snapshot.var_99 is None for snapshot in taken)
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(taken)} risk snapshots in {time.perf_counter() - started:.1f} s"
                + (f"; {short} without VaR (too little history)." if short else ".")
            )
        )
