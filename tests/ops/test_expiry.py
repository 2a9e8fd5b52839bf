"""The end of day of a contract's maturity closes its open positions at the final
settlement (its last close), dated at the maturity, once: a re-run changes nothing."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from ops import pipelines
from portfolio import services
from portfolio.models import Position, Trade
from tests.factories import InstrumentFactory, PriceFactory, StrategyFactory

MON, TUE, WED = dt.date(2024, 3, 11), dt.date(2024, 3, 12), dt.date(2024, 3, 13)


@pytest.fixture
def march(db):
    """The March mini index future, 0.2 BRL a point, maturing on Wednesday, held long in
    MACRO and short in RV."""
    win = InstrumentFactory.create(
        symbol="WINH24", root="WIN", maturity=WED, multiplier=D("0.2"), asset_class="equity"
    )
    for code in ("MACRO", "RV"):
        StrategyFactory.create(code=code)
    for day, close in ((MON, "100"), (TUE, "102"), (WED, "105")):
        PriceFactory.create(instrument=win, date=day, price=D(close))
    services.trades_book(
        requests=[
            services.TradeRequest("WINH24", "MACRO", D("10"), D("100"), MON),
            services.TradeRequest("WINH24", "RV", D("-4"), D("102"), TUE),
        ],
        actor="tester",
        source=Trade.Source.API,
    )
    return win


def ledger() -> list[tuple]:
    return list(
        Trade.objects.order_by("id").values_list(
            "strategy__code", "trade_date", "quantity", "price", "realized_pnl_base", "source"
        )
    )


def test_the_maturity_eod_closes_at_the_final_settlement_once(march):
    assert services.positions_expire(as_of=TUE, actor="test") == services.Expiry([], [])
    summary = pipelines.eod_mark(WED, "pipeline:eod")
    assert summary.startswith("2 matured position(s) closed at the final settlement; ")
    # Long 10 from 100 to 105 at 0.2 a point: 10 × 5 × 0.2 = 10.00; short 4 from 102:
    # −4 × 3 × 0.2 = −2.40.
    closing = [
        ("MACRO", WED, D("-10"), D("105"), D("10.00"), "expiry"),
        ("RV", WED, D("4"), D("105"), D("-2.40"), "expiry"),
    ]
    assert ledger()[2:] == closing
    assert list(Position.objects.values_list("quantity", "closed_at", "realized_pnl_base")) == [
        (D("0"), WED, D("10.00")),
        (D("0"), WED, D("-2.40")),
    ]
    assert Trade.objects.filter(source="expiry").values_list("booked_by", flat=True)[0] == (
        "pipeline:eod"
    )
    # The eod of the same day again, or of a later one, books nothing more.
    assert pipelines.eod_mark(WED, "pipeline:eod").startswith("0 positions marked")
    assert services.positions_expire(as_of=dt.date(2024, 3, 15), actor="test").trades == []
    assert ledger()[2:] == closing


def test_a_past_eod_closes_at_the_maturity_not_at_its_own_date(march):
    expiry = services.positions_expire(as_of=dt.date(2024, 3, 15), actor="test")
    assert [(t.trade_date, t.price) for t in expiry.trades] == [(WED, D("105")), (WED, D("105"))]


def test_a_matured_contract_without_a_close_fails_the_step_unsettled(march):
    march.prices.all().delete()
    with pytest.raises(ValidationError) as error:
        pipelines.eod_mark(WED, "pipeline:eod")
    assert "No close on or before the maturity of WINH24" in error.value.messages[0]
    assert Position.objects.filter(closed_at__isnull=True).count() == 2
    assert not Trade.objects.filter(source="expiry").exists()
