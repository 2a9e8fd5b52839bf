"""Import closes from a CSV file (columns instrument, date, price): all rows or none."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.csv_import import run_import
from portfolio import services
from portfolio.api.serializers import PriceRowSerializer


class Command(BaseCommand):
    help = "Import prices from a CSV file with columns instrument,date,price (upsert by date)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--confirm-outliers",
            action="store_true",
            help="Accept prices further than PMS_PRICE_BAND from the last close.",
        )
        parser.add_argument("--actor", default="import_prices")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Reading {options['file']} …")
        created, updated = run_import(
            options["file"],
            PriceRowSerializer,
            {"instrument", "date", "price"},
            lambda rows: services.prices_upsert(rows=rows, actor=options["actor"]),
            confirm=options["confirm_outliers"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Prices imported: {created} created, {updated} updated.")
        )
