"""Import daily benchmark rates from a CSV file (columns benchmark, date, rate): all rows
or none."""

from typing import Any

from core.csv_import import ImportCommand
from portfolio import services
from portfolio.api.serializers import BenchmarkRateSerializer


class Command(ImportCommand):
    help = (
        "Import daily benchmark rates from a CSV file with columns date,rate and, optionally, "
        "benchmark (default CDI); the rate is a daily fraction, e.g. 0.000415. Upserted by "
        "date: all rows or none."
    )
    actor = "import_benchmark_rates"
    batch_check = staticmethod(services.benchmark_rates_check)

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.read(
            options,
            BenchmarkRateSerializer,
            {"date", "rate"},
            lambda rows: services.benchmark_rates_upsert(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Benchmark rates imported: {created} created, {updated} updated.")
        )
