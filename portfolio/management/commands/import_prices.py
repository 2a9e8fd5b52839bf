"""Import closes from a CSV file (columns instrument, date, price): all rows or none."""

from typing import Any

from core.csv_import import ImportCommand
from portfolio import services
from portfolio.api.serializers import PriceRowSerializer


class Command(ImportCommand):
    help = "Import prices from a CSV file with columns instrument,date,price (upsert by date)."
    actor = "import_prices"
    confirmable = True

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.read(
            options,
            PriceRowSerializer,
            {"instrument", "date", "price"},
            lambda rows: services.prices_upsert(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Prices imported: {created} created, {updated} updated.")
        )
