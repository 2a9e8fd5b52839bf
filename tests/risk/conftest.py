"""A small book whose risk is worked out by hand.

21 business days (Feb 16 to Mar 15, 2024) of quotes, paths that zig-zag deterministically:
    INDJ24 (BRL, ×1)          100000 + 500 × ((7k mod 11) − 5)   → 101500 on Mar 15
    ESH4 (USD, ×50)           5000 + 20 × ((5k mod 9) − 4)       → 4940
    USD rate X(USD)           5 + 0.01 × ((3k mod 7) − 3)        → 5.01
    USDBRL (BRL, spot)        X(USD)                             → 5.01
    DI1F27 (yield, DV01 25)   10.50 + 0.05 × ((4k mod 5) − 2)    → 10.40
Positions, all bought on Mar 15 at that day's quote (no unrealized P&L, no fees), so
NAV = the 10,000,000.00 capital:
    INDJ24 / MACRO   +10      notional 10 × 101500           =  1,015,000.00
    ESH4 / MACRO     +2       2 × 4940 × 50 × 5.01           =  2,474,940.00
    ESH4 / RV        −1       −1 × 4940 × 50 × 5.01          = −1,237,470.00
    USDBRL / MACRO   +100000  100000 × 5.01                  =    501,000.00
    DI1F27 / MACRO   −100     notional −100 × 100000         = −10,000,000.00
                              DV01 −100 × 25                 =     −2,500.00 per bp
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.calendar import business_days_ending
from portfolio import services
from portfolio.models import FxRate, Price
from tests.conftest import TODAY
from tests.factories import InstrumentFactory, StrategyFactory

DAYS = business_days_ending(TODAY, 21)


def ind(k: int) -> Decimal:
    return Decimal(100000 + 500 * ((7 * k) % 11 - 5))


def es(k: int) -> Decimal:
    return Decimal(5000 + 20 * ((5 * k) % 9 - 4))


def usd(k: int) -> Decimal:
    return Decimal(5) + Decimal("0.01") * ((3 * k) % 7 - 3)


def di(k: int) -> Decimal:
    return Decimal("10.50") + Decimal("0.05") * ((4 * k) % 5 - 2)


PATHS = {"INDJ24": ind, "ESH4": es, "USDBRL": usd, "DI1F27": di}


@pytest.fixture
def book(db: None, ibov: Any, spx: Any, di1: Any, macro: Any) -> dict[str, Any]:
    assert DAYS[0] == dt.date(2024, 2, 16) and DAYS[-1] == TODAY
    usdbrl = InstrumentFactory.create(symbol="USDBRL", asset_class="fx", currency="BRL")
    StrategyFactory.create(code="RV")
    instruments = {i.symbol: i for i in (ibov, spx, di1, usdbrl)}
    Price.objects.bulk_create(
        Price(instrument=instruments[symbol], date=day, price=path(k))
        for symbol, path in PATHS.items()
        for k, day in enumerate(DAYS)
    )
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=day, rate=usd(k)) for k, day in enumerate(DAYS)
    )
    services.capital_flow_create(
        date=DAYS[0], amount=Decimal("10000000.00"), note="capital", actor="test"
    )
    trades = [
        ("INDJ24", "MACRO", "10"),
        ("ESH4", "MACRO", "2"),
        ("ESH4", "RV", "-1"),
        ("USDBRL", "MACRO", "100000"),
        ("DI1F27", "MACRO", "-100"),
    ]
    services.trades_book(
        requests=[
            services.TradeRequest(
                instrument=symbol,
                strategy=strategy,
                quantity=Decimal(quantity),
                price=PATHS[symbol](20),
                trade_date=TODAY,
            )
            for symbol, strategy, quantity in trades
        ],
        actor="test",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="test")
    return instruments


@pytest.fixture
def timeline(book: dict[str, Any]) -> dict[str, Any]:
    """The book with its timeline: the snapshots of every business day from the capital."""
    services.snapshots_build(start=DAYS[0], end=TODAY, actor="test")
    return book
