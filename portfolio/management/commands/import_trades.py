"""Import executed trades from a CSV file into the ledger: all rows or none."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.csv_import import run_import
from portfolio import services
from portfolio.api.serializers import TradeRowSerializer
from portfolio.models import Trade


class Command(BaseCommand):
    help = (
        "Import trades from a CSV file with columns trade_date,instrument,strategy,quantity,price "
        "and optional fees,note (quantity signed: + buy, − sell)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--confirm-outliers",
            action="store_true",
            help="Accept prices further than PMS_PRICE_BAND from the last close.",
        )
        parser.add_argument("--actor", default="import_trades")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Reading {options['file']} …")

        def book(rows: list[dict[str, Any]]) -> list[Trade]:
            requests = [services.TradeRequest(**row) for row in rows]
            return services.trades_book(
                requests=requests, actor=options["actor"], source=Trade.Source.IMPORT
            )

        trades = run_import(
            options["file"],
            TradeRowSerializer,
            {"trade_date", "instrument", "strategy", "quantity", "price"},
            book,
            confirm=options["confirm_outliers"],
        )
        self.stdout.write(self.style.SUCCESS(f"Trades imported: {len(trades)} booked."))
