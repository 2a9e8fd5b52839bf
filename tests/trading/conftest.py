"""A book whose proposals are sized by hand.

61 business days (Dec 15, 2023 to Mar 15, 2024; k = 0 … 60) of quotes that alternate:
    X(USD)             5.00 on even k, 5.05 on odd k
    ESH4 (USD, ×50)    5000 every day, so P × X alternates 25,000 / 25,250
    INDJ24 (BRL, ×1)   100,000 / 101,000, lot size 5
    DI1F27 (yield)     10.50 / 10.60, DV01 25 BRL, notional 100,000 per contract
So over the 60 daily moves (30 up on odd k, 30 down on even k):
    ESH4 and INDJ24 returns  +0.01 up, −1/101 = −0.00990099… down;
        mean d = (0.01 − 1/101)/2, each return is mean ± h with h = (0.01 + 1/101)/2,
        σ (ddof=1) = h × √(60/59) = 0.0099504950 × 1.0084389682 = 0.0100344670
    DI1F27 Δy  +10 bp up, −10 bp down: σ = 10 × √(60/59) = 10.0843896818 bp
On Mar 15 (k = 60, even) X(USD) = 5.00, INDJ24 = 100,000, DI1F27 = 10.50.

The book: 10,000,000.00 of capital and DI1F27 / MACRO −100 bought on Mar 15 at 10.50:
notional −10,000,000.00, DV01 −2,500.00, NAV 10,000,000.00. The risk window is 60.
"""

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest

from core.calendar import business_days_ending
from portfolio import services
from portfolio.models import FxRate, Instrument, Price, Strategy
from tests.conftest import TODAY
from tests.factories import StrategyFactory
from trading.models import Signal

DAYS = business_days_ending(TODAY, 61)
# Two days more of quotes (k = −2, −1), so that a proposal dated the day before TODAY,
# sized on the close before it, has its 60 moves too.
HISTORY = business_days_ending(TODAY, 63)
H = (Decimal("0.01") + Decimal(1) / Decimal(101)) / 2
SIGMA_PRICE = H * (Decimal(60) / Decimal(59)).sqrt()  # 0.0100344670…
SIGMA_BP = 10 * (Decimal(60) / Decimal(59)).sqrt()  # 10.0843896818… bp


def up(k: int) -> bool:
    return k % 2 == 1


PATHS = {
    "ESH4": lambda k: Decimal("5000"),
    "INDJ24": lambda k: Decimal("101000") if up(k) else Decimal("100000"),
    "DI1F27": lambda k: Decimal("10.60") if up(k) else Decimal("10.50"),
}


@pytest.fixture
def fund(db: None, settings: Any, spx: Instrument, ibov: Instrument, di1: Instrument) -> Strategy:
    assert DAYS[0] == dt.date(2023, 12, 15)
    assert math.isclose(float(SIGMA_PRICE), 0.0100344670, rel_tol=1e-8)
    settings.PMS_RISK_WINDOW = 60
    Instrument.objects.filter(pk=ibov.pk).update(lot_size=Decimal("5"))
    macro = StrategyFactory.create(
        code="MACRO", risk_budget=Decimal("1000000"), min_trade_fraction=Decimal("0.1")
    )
    StrategyFactory.create(
        code="RV", risk_budget=Decimal("1000000"), min_trade_fraction=Decimal("0.1")
    )
    instruments = {i.symbol: i for i in (spx, ibov, di1)}
    Price.objects.bulk_create(
        Price(instrument=instruments[symbol], date=day, price=path(k))
        for symbol, path in PATHS.items()
        for k, day in enumerate(HISTORY, start=-2)
    )
    FxRate.objects.bulk_create(
        FxRate(currency="USD", date=day, rate=Decimal("5.05") if up(k) else Decimal("5.00"))
        for k, day in enumerate(HISTORY, start=-2)
    )
    services.capital_flow_create(
        date=DAYS[0], amount=Decimal("10000000.00"), note="capital", actor="test"
    )
    services.trades_book(
        requests=[
            services.TradeRequest("DI1F27", "MACRO", Decimal("-100"), Decimal("10.50"), TODAY)
        ],
        actor="test",
        source="api",
    )
    # The book valued at today's close (stored already), as after the evening's mark: the
    # figures below are today's.
    services.mark_to_market(as_of=TODAY, actor="test")
    return macro


def signal(symbol: str, strategy: str, score: str, day: dt.date = TODAY) -> Signal:
    return Signal.objects.create(
        instrument=Instrument.objects.get(symbol=symbol),
        strategy=Strategy.objects.get(code=strategy),
        date=day,
        score=Decimal(score),
    )
