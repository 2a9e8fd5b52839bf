"""Import signals from a CSV file (instrument, strategy, date, score): all rows or none."""

from typing import Any

from core.csv_import import ImportCommand
from trading import services
from trading.api.serializers import SignalRowSerializer


class Command(ImportCommand):
    help = (
        "Import signals from a CSV file with columns instrument,strategy,date,score "
        "(score in [-1, 1]; upsert by instrument, strategy and date)."
    )
    actor = "import_signals"
    batch_check = staticmethod(services.signals_check)

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.read(
            options,
            SignalRowSerializer,
            {"instrument", "strategy", "date", "score"},
            lambda rows: services.signals_upsert(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Signals imported: {created} created, {updated} updated.")
        )
