"""A fund whose snapshots and attribution are worked out by hand.

Days: D0 = Tue Mar 12, D1 = Mar 13, D2 = Mar 14, D3 = Fri Mar 15, 2024.
Capital 10,000,000.00 on D0; a subscription of 1,000,000.00 on D2.
Trades: on D0 MACRO buys 2 ESH4 (USD, ×50) at 5000 and RV buys 10 INDJ24 (BRL, ×1) at
100,000; on D2 MACRO sells 1 ESH4 at 5100 (X = 5.00): realizes 1 × 100 × 50 × 5.00 =
25,000.00.
Closes       D0        D1        D2        D3
  ESH4       5000      5050      5100      5080
  INDJ24     100,000   101,000   100,500   102,000
  X(USD)     5.00      5.10      5.00      5.05
"""

import datetime as dt
from decimal import Decimal

import pytest

from portfolio import services
from portfolio.models import FxRate, Instrument, Price, Strategy
from tests.factories import StrategyFactory

D0, D1, D2, D3 = (dt.date(2024, 3, day) for day in (12, 13, 14, 15))
CLOSES = {
    "ESH4": ("5000", "5050", "5100", "5080"),
    "INDJ24": ("100000", "101000", "100500", "102000"),
}
USD = ("5.00", "5.10", "5.00", "5.05")


@pytest.fixture
def fund(db: None, spx: Instrument, ibov: Instrument, macro: Strategy) -> None:
    StrategyFactory.create(code="RV")
    instruments = {"ESH4": spx, "INDJ24": ibov}
    days = (D0, D1, D2, D3)
    Price.objects.bulk_create(
        Price(instrument=instruments[symbol], date=day, price=Decimal(close))
        for symbol, closes in CLOSES.items()
        for day, close in zip(days, closes, strict=True)
    )
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=day, rate=Decimal(rate))
        for day, rate in zip(days, USD, strict=True)
    )
    services.capital_flow_create(date=D0, amount=Decimal("10000000.00"), actor="test")
    services.capital_flow_create(date=D2, amount=Decimal("1000000.00"), actor="test")
    trade = services.TradeRequest
    services.trades_book(
        requests=[
            trade("ESH4", "MACRO", Decimal("2"), Decimal("5000"), D0),
            trade("INDJ24", "RV", Decimal("10"), Decimal("100000"), D0),
            trade("ESH4", "MACRO", Decimal("-1"), Decimal("5100"), D2),
        ],
        actor="test",
        source="api",
    )
