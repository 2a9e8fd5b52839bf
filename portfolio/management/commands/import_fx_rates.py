"""Import FX rates from a CSV file (columns date, currency, rate): every bad line named in
one run, then all rows or none, through the service of the API's FX writes."""

from typing import Any

from core.csv_import import ImportCommand
from portfolio.imports import FX_RATES_CSV


class Command(ImportCommand):
    help = (
        "Import FX rates from a CSV file with columns date,currency,rate: the rate is in the "
        "base currency per one unit of the currency (USD 5.1234). Upsert by currency and "
        "date, all rows or none: every bad line is named in one run, and a rate further than "
        "PMS_PRICE_BAND from the currency's previous one needs --confirm-outliers. A file "
        "separated by ';' (Excel in Portuguese) has decimal commas (5,1234) and dates "
        "dd/mm/yyyy or YYYY-MM-DD."
    )
    actor = "import_fx_rates"
    confirmable = True

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.import_csv(options, FX_RATES_CSV)
        self.stdout.write(
            self.style.SUCCESS(f"FX rates imported: {created} created, {updated} updated.")
        )
