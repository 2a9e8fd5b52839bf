"""Import executed trades from a CSV file into the ledger: all rows or none."""

from typing import Any

from core.csv_import import ImportCommand
from portfolio import services
from portfolio.api.serializers import TradeRowSerializer
from portfolio.models import Trade


class Command(ImportCommand):
    help = (
        "Import trades from a CSV file with columns trade_date,instrument,strategy,quantity,price "
        "and optional fees,note (quantity signed: + buy, − sell)."
    )
    actor = "import_trades"
    confirmable = True

    def handle(self, *args: Any, **options: Any) -> None:
        def book(rows: list[dict[str, Any]]) -> list[Trade]:
            requests = [services.TradeRequest(**row) for row in rows]
            return services.trades_book(
                requests=requests, actor=options["actor"], source=Trade.Source.IMPORT
            )

        trades = self.read(
            options,
            TradeRowSerializer,
            {"trade_date", "instrument", "strategy", "quantity", "price"},
            book,
        )
        self.stdout.write(self.style.SUCCESS(f"Trades imported: {len(trades)} booked."))
