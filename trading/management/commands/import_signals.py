"""Import signals from a CSV file (instrument, strategy, date, score): all rows or none."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.csv_import import run_import
from trading import services
from trading.api.serializers import SignalRowSerializer


class Command(BaseCommand):
    help = (
        "Import signals from a CSV file with columns instrument,strategy,date,score "
        "(score in [-1, 1]; upsert by instrument, strategy and date)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--actor", default="import_signals")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Reading {options['file']} …")
        created, updated = run_import(
            options["file"],
            SignalRowSerializer,
            {"instrument", "strategy", "date", "score"},
            lambda rows: services.signals_upsert(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Signals imported: {created} created, {updated} updated.")
        )
