"""Import closes from a CSV file (columns instrument, date, price): every bad line named in
one run, then all rows or none."""

from typing import Any

from core.csv_import import ImportCommand
from portfolio.imports import PRICES_CSV


class Command(ImportCommand):
    help = (
        "Import prices from a CSV file with columns instrument,date,price (upsert by "
        "instrument and date), all rows or none: every bad line is named in one run. A file "
        "separated by ';' (Excel in Portuguese) has decimal commas (1.234,56) and dates "
        "dd/mm/yyyy or YYYY-MM-DD."
    )
    actor = "import_prices"
    confirmable = True

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.import_csv(options, PRICES_CSV)
        self.stdout.write(
            self.style.SUCCESS(f"Prices imported: {created} created, {updated} updated.")
        )
