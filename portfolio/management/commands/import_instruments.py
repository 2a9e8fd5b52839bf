"""Import instruments from a CSV file: new symbols are created, stored ones changed; all
rows or none."""

from typing import Any

from core.csv_import import ImportCommand, dry_run
from portfolio import services
from portfolio.api.serializers import InstrumentRowSerializer


class Command(ImportCommand):
    help = (
        "Import instruments from a CSV file with columns symbol,name,asset_class,currency,"
        "quote_type and optional settlement (margined, the default, or funded),pricing (linear, "
        "the default, or di1),maturity (YYYY-MM-DD),root,multiplier,dv01,lot_size,is_active. A "
        "new symbol is created; a stored one has the fields that differ changed (its terms, "
        "settlement, pricing, maturity and root included, are fixed once it has trades). All "
        "rows or none."
    )
    actor = "import_instruments"
    # The rows are independent: the lines that parse are checked by the service itself.
    batch_check = staticmethod(
        dry_run(lambda rows: services.instruments_upsert(rows=rows, actor="import_instruments"))
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = self.read(
            options,
            InstrumentRowSerializer,
            {"symbol", "name", "asset_class", "currency", "quote_type"},
            lambda rows: services.instruments_upsert(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Instruments imported: {created} created, {updated} updated.")
        )
