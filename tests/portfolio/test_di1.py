"""DI1 futures as B3 settles them (DESIGN.md "Dated instruments and DI1 futures").

The unit price (PU) is worked by the formula in this file, independently of
`portfolio.di1`: PU(y, n) = 100000 / (1 + y/100)^(n/252) to the cent, n the national
(ANBIMA) business days from the date (included) to the maturity (excluded). The business
days are counted by hand and checked against pyield's documented counts.

The week: DI1J24 matures on Monday 2024-04-01. From Monday 2024-03-11 the business days to
it are Mar 11–15 (5), Mar 18–22 (5) and Mar 25–28 (4; Mar 29 is Good Friday): n = 14, then
13, 12, 11 and 10 on Friday 2024-03-15, the suite's today.
"""

import datetime as dt
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from core.calendar import anbima_days, is_business_day
from core.errors import RowErrors
from portfolio import di1, services
from portfolio.models import Instrument, Position, PositionSnapshot, Price, Trade
from portfolio.selectors import Di1Index
from tests.factories import Di1Factory, StrategyFactory

CENT = D("0.01")
FRI8, MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in (8, 11, 12, 13, 14, 15))
MATURITY = dt.date(2024, 4, 1)
DAYS = {FRI8: 15, MON: 14, TUE: 13, WED: 12, THU: 11, FRI: 10}
RATES = {FRI8: "10.500", MON: "10.520", TUE: "10.480", WED: "10.470", THU: "10.555", FRI: "10.600"}
# The CDI of each day, a daily fraction; Wednesday's is not loaded: Thursday's settlement
# corrects Wednesday's PU by Tuesday's rate, carried.
CDI = {FRI8: "0.000401", MON: "0.000402", TUE: "0.000400", THU: "0.000403"}


def pu(rate: str | D, days: int) -> D:
    """The PU by the formula, to the cent (half up, as B3's prices)."""
    exact = D(100000) / (1 + D(rate) / 100) ** (D(days) / 252)
    return exact.quantize(CENT, ROUND_HALF_UP)


def corrected(previous: D, cdi: str) -> D:
    """The previous settlement PU corrected by the day's CDI, to the cent."""
    return (previous * (1 + D(cdi))).quantize(CENT, ROUND_HALF_UP)


def test_business_days_are_the_national_calendar_s_as_pyield_counts_them():
    # pyield's documented counts: bday.count("15-12-2023", "01-01-2024") == 10,
    # bday.count("01-01-2024", "01-01-2025") == 253, and 22 business days in January 2024.
    assert anbima_days(dt.date(2023, 12, 15), dt.date(2024, 1, 1)) == 10
    assert anbima_days(dt.date(2024, 1, 1), dt.date(2025, 1, 1)) == 253
    assert anbima_days(dt.date(2024, 1, 1), dt.date(2024, 2, 1)) == 22
    # The interbank market works on Christmas Eve and the year's last weekday, when B3 is
    # closed: 2026-12-24 and 2026-12-31 count, 2026-12-25 does not.
    assert not is_business_day(dt.date(2026, 12, 24))
    # From Dec 23 to the maturity Jan 4: Dec 23, 24, 28, 29, 30, 31 (Jan 1 is a holiday).
    assert anbima_days(dt.date(2026, 12, 23), dt.date(2027, 1, 4)) == 6
    for day, days in DAYS.items():
        assert anbima_days(day, MATURITY) == days


def test_the_unit_price_and_the_dv01_of_a_contract():
    # 100000 / 1.105^(15/252): ln 1.105 = 0.0998453, × 15/252 = 0.00594317, e^−that
    # = 0.99407445… → 99,407.45 (the formula above carries the digits).
    assert di1.unit_price(D("10.500"), 15) == pu("10.500", 15) == D("99407.45")
    assert di1.unit_price(D("13.000"), 0) == D("100000.00")  # at maturity, whatever the rate
    # One basis point at 15 days: PU(10.49) − PU(10.50), unrounded: about 100000 × 15/252 ×
    # 0.0001 / 1.105 × 0.994 = 0.535 BRL per contract.
    dv01 = di1.dv01_per_contract(D("10.500"), 15)
    exact = lambda y: D(100000) / (1 + D(y) / 100) ** (D(15) / 252)  # noqa: E731
    assert abs(dv01 - (exact("10.49") - exact("10.500"))) < D("1e-20")
    assert D("0.53") < dv01 < D("0.54")


@pytest.fixture
def week(db):
    Di1Factory.create(symbol="DI1J24", maturity=MATURITY)
    StrategyFactory.create(code="LONG")
    StrategyFactory.create(code="SHORT")
    services.capital_flow_create(date=FRI8, amount=D("10000000.00"), actor="ops")
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": d, "rate": D(r)} for d, r in CDI.items()], actor="ops"
    )
    close(FRI8)


def close(day: dt.date) -> None:
    row = {"instrument": "DI1J24", "date": day, "price": D(RATES[day])}
    services.prices_upsert(rows=[row], actor="ops")


def trade(strategy: str, quantity: str, rate: str, day: dt.date) -> None:
    request = services.TradeRequest("DI1J24", strategy, D(quantity), D(rate), day)
    services.trades_book(requests=[request], actor="pm", source=Trade.Source.API)


def daily(strategy: str) -> D:
    return Position.objects.get(strategy__code=strategy).daily_pnl_base


def settle(day: dt.date) -> dict[str, D]:
    close(day)
    services.mark_to_market(as_of=day, actor="ops")
    return {s: daily(s) for s in ("LONG", "SHORT")}


def test_five_days_of_daily_settlements_to_the_cent(week):
    PA = {day: pu(RATES[day], n) for day, n in DAYS.items()}
    # Monday: buy 10 at 10.510 and sell 6 at 10.515; each settles against Monday's PU.
    trade("LONG", "10", "10.510", MON)
    trade("SHORT", "-6", "10.515", MON)
    mon = {"LONG": 10 * (PA[MON] - pu("10.510", 14)), "SHORT": -6 * (PA[MON] - pu("10.515", 14))}
    assert settle(MON) == mon
    # Tuesday: the 10 held settle against Monday's PU corrected by Monday's CDI; 5 more
    # bought at 10.490 settle against their own PU.
    trade("LONG", "5", "10.490", TUE)
    tue_corrected = corrected(PA[MON], CDI[MON])
    tue = {
        "LONG": 10 * (PA[TUE] - tue_corrected) + 5 * (PA[TUE] - pu("10.490", 13)),
        "SHORT": -6 * (PA[TUE] - tue_corrected),
    }
    assert settle(TUE) == tue
    # The average traded rate: (10 × 10.510 + 5 × 10.490) / 15 = 157.55 / 15.
    assert Position.objects.get(strategy__code="LONG").avg_cost == D("10.503333333333")
    wed_corrected = corrected(PA[TUE], CDI[TUE])
    wed = {"LONG": 15 * (PA[WED] - wed_corrected), "SHORT": -6 * (PA[WED] - wed_corrected)}
    assert settle(WED) == wed
    # Thursday: Wednesday's CDI is missing, Tuesday's is carried. Sell 6 of the 15 at
    # 10.540: they settle at their price; they realize 6/15 of what the 15 had earned by
    # then (the settlements so far, and today's up to the trade's PU).
    thu_corrected = corrected(PA[WED], CDI[TUE])
    trade("LONG", "-6", "10.540", THU)
    thu = {
        "LONG": 15 * (PA[THU] - thu_corrected) - 6 * (PA[THU] - pu("10.540", 11)),
        "SHORT": -6 * (PA[THU] - thu_corrected),
    }
    assert settle(THU) == thu
    earned = mon["LONG"] + tue["LONG"] + wed["LONG"] + 15 * (pu("10.540", 11) - thu_corrected)
    realized = (earned * 6 / 15).quantize(CENT, ROUND_HALF_UP)
    long = Position.objects.get(strategy__code="LONG")
    assert long.realized_pnl_base == realized
    assert long.quantity == 9 and long.avg_cost == D("10.503333333333")
    fri_corrected = corrected(PA[THU], CDI[THU])
    fri = {"LONG": 9 * (PA[FRI] - fri_corrected), "SHORT": -6 * (PA[FRI] - fri_corrected)}
    assert settle(FRI) == fri
    # Unrealized is the sum of the settlements, less what the reduction realized.
    long = Position.objects.get(strategy__code="LONG")
    total = sum((d["LONG"] for d in (mon, tue, wed, thu, fri)), D(0))
    assert long.unrealized_pnl_base == total - realized
    short = Position.objects.get(strategy__code="SHORT")
    assert short.unrealized_pnl_base == sum((d["SHORT"] for d in (mon, tue, wed, thu, fri)), D(0))
    # Notional q × PU; DV01 q × the DV01 of a contract from Friday's rate.
    assert long.notional_base == 9 * PA[FRI]
    assert long.dv01_base == (9 * di1.dv01_per_contract(D("10.600"), 10)).quantize(CENT)
    # The timeline computes the same days from the ledger.
    services.snapshots_build(start=MON, end=FRI, actor="ops")
    for day, expected in zip((MON, TUE, WED, THU, FRI), (mon, tue, wed, thu, fri), strict=True):
        rows = PositionSnapshot.objects.filter(date=day)
        assert {r.strategy.code: r.daily_pnl_base for r in rows} == expected


def test_the_cdi_carried_for_a_missing_day_is_reported(week):
    trade("LONG", "10", "10.510", MON)
    for day in (MON, TUE, WED):
        close(day)
    result = services.mark_to_market(as_of=THU, actor="ops")
    assert result.cdi_carried == [WED]


def test_a_cdi_loaded_late_re_marks_the_di1_book(week):
    trade("LONG", "10", "10.510", MON)
    close(MON)
    close(TUE)
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": MON, "rate": D("0")}], actor="ops"
    )  # Monday's CDI wrong at first: 0
    services.mark_to_market(as_of=TUE, actor="ops")
    PA_MON, PA_TUE = pu(RATES[MON], 14), pu(RATES[TUE], 13)
    assert daily("LONG") == 10 * (PA_TUE - PA_MON)  # nothing to correct by
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": MON, "rate": D(CDI[MON])}], actor="ops"
    )  # corrected: the book is re-marked at once
    assert daily("LONG") == 10 * (PA_TUE - corrected(PA_MON, CDI[MON]))


def test_the_maturity_s_end_of_day_settles_at_100000(week):
    """Held to maturity: the last settlement is q × (100000 − PA_{t−1} × (1 + c_{t−1})).

    On Thursday 2024-03-28 one business day is left (Good Friday and the weekend follow):
    n = 1. The CDI between the two closes is Thursday's alone (Good Friday is a national
    holiday too)."""
    mar27, mar28 = dt.date(2024, 3, 27), dt.date(2024, 3, 28)
    trade("LONG", "10", "10.510", MON)
    with time_machine.travel(dt.datetime(2024, 4, 1, 22, 0, tzinfo=dt.UTC), tick=False):
        closes = {mar27: "10.610", mar28: "10.640"}
        rows = [{"instrument": "DI1J24", "date": d, "price": D(r)} for d, r in closes.items()]
        services.prices_upsert(rows=rows, actor="ops")
        services.benchmark_rates_upsert(
            rows=[{"benchmark": "CDI", "date": mar28, "rate": D("0.000404")}], actor="ops"
        )
        services.mark_to_market(as_of=mar28, actor="ops")
        held = Position.objects.get(strategy__code="LONG")
        before = held.unrealized_pnl_base
        expired = services.positions_expire(as_of=MATURITY, actor="pipeline")
        services.mark_to_market(as_of=MATURITY, actor="ops")
    assert [t.price for t in expired.trades] == [D("10.640")]  # the last close; n = 0
    last = 10 * (D("100000.00") - corrected(pu("10.640", 1), "0.000404"))
    position = Position.objects.get(pk=held.pk)
    assert position.closed_at == MATURITY and position.quantity == 0
    assert position.daily_pnl_base == last
    assert position.realized_pnl_base == before + last  # all it earned, realized


def test_a_cdi_corrected_before_a_trade_moves_only_what_was_held_across_it(week):
    """The CDI of Monday first wrong (0), then corrected after Tuesday's trade: Tuesday's
    settlement corrects Monday's PU for the 10 held from Monday, not for the 15 held now,
    and the live book stays the timeline's."""
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": MON, "rate": D("0")}], actor="ops"
    )
    trade("LONG", "10", "10.510", MON)
    trade("LONG", "5", "10.490", TUE)
    for day in (MON, TUE, WED):
        close(day)
    services.mark_to_market(as_of=WED, actor="ops")
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": MON, "rate": D(CDI[MON])}], actor="ops"
    )
    PA = {day: pu(RATES[day], DAYS[day]) for day in (MON, TUE, WED)}
    mon = 10 * (PA[MON] - pu("10.510", 14))
    tue = 10 * (PA[TUE] - corrected(PA[MON], CDI[MON])) + 5 * (PA[TUE] - pu("10.490", 13))
    wed = 15 * (PA[WED] - corrected(PA[TUE], CDI[TUE]))
    long = Position.objects.get(strategy__code="LONG")
    assert long.daily_pnl_base == wed
    assert long.unrealized_pnl_base == mon + tue + wed
    services.snapshots_build(start=MON, end=WED, actor="ops")
    assert PositionSnapshot.objects.get(date=WED).unrealized_pnl_base == mon + tue + wed
    assert [s.daily_pnl_base for s in PositionSnapshot.objects.order_by("date")] == [mon, tue, wed]


def test_a_trade_booked_after_the_book_settled_its_contract_is_refused(week):
    """DI1H24 matured on Wednesday; the book is valued on Friday, so the end of day of
    Wednesday settled its positions: a trade dated Monday, booked now, is refused (it
    would stay open in a dead contract)."""
    Di1Factory.create(symbol="DI1H24", maturity=WED)
    close(MON)
    services.mark_to_market(as_of=FRI, actor="ops")
    request = services.TradeRequest("DI1H24", "LONG", D("10"), D("10.5"), MON)
    with pytest.raises(RowErrors) as refused:
        services.trades_book(requests=[request], actor="pm", source=Trade.Source.API)
    assert "DI1H24 matured on 2024-03-13" in refused.value.errors[0]["trade_date"][0]
    assert not Trade.objects.filter(instrument__symbol="DI1H24").exists()


def test_a_position_is_not_closed_or_rolled_before_it_opened(week):
    Di1Factory.create(symbol="DI1K24", maturity=dt.date(2024, 5, 2))
    trade("LONG", "10", "10.510", TUE)
    position = Position.objects.get(strategy__code="LONG")
    with pytest.raises(ValidationError) as close_refused:
        services.position_close(position=position, price=D("10.5"), trade_date=MON, actor="pm")
    with pytest.raises(ValidationError) as roll_refused:
        services.position_roll(
            position=position,
            to="DI1K24",
            price_from=D("10.5"),
            price_to=D("10.6"),
            trade_date=MON,
            actor="pm",
        )
    for refused in (close_refused, roll_refused):
        assert "opened on 2024-03-12" in refused.value.message_dict["trade_date"][0]
    assert Trade.objects.count() == 1


def test_a_mark_reads_the_accrual_stored_on_the_close_as_the_history_gives_it(week):
    """Friday has no close yet: its mark reads Thursday's stored accrual and adds
    Thursday's correction, the rate carried; the same as from the whole history."""
    trade("LONG", "10", "10.510", MON)
    for day in (MON, TUE, WED, THU):
        close(day)
    services.mark_to_market(as_of=FRI, actor="ops")
    prices = Price.objects.filter(instrument__symbol="DI1J24")
    stored = dict(prices.values_list("date", "accrual"))
    # Monday's accrual is Friday the 8th's correction: its PU (15 days) corrected by its CDI.
    friday = pu(RATES[FRI8], 15)
    assert stored[MON] == corrected(friday, CDI[FRI8]) - friday
    instrument = Instrument.objects.get(symbol="DI1J24")
    history = Di1Index({instrument.pk: instrument.terms})
    assert stored == {day: history.accrued_before(instrument.pk, day) for day in stored}
    marked = Position.objects.values_list("unrealized_pnl_base", "daily_pnl_base").get()
    prices.update(accrual=None)  # closes loaded around the services: the history is read
    services.mark_to_market(as_of=FRI, actor="ops", restart=True)
    assert Position.objects.values_list("unrealized_pnl_base", "daily_pnl_base").get() == marked
