"""The live day against the timeline when the day does not go as planned: closes that
arrive late or are corrected after the PM has traded, trades on two days the book has not
marked yet, a position closed by one of them, a first trade on a holiday. Each day's live
P&L is worked out by hand, and once the book is marked to a day with no trades after it,
it is the timeline's daily P&L of that day.

INDJ24 is 1 BRL per point, so a position's P&L is quantity × the move."""

import datetime as dt
from decimal import Decimal as D

import pytest

from portfolio import services
from portfolio.models import PortfolioSnapshot, Position, Trade
from tests.shown import shown_book

pytestmark = pytest.mark.django_db

FRI8, MON, TUE, WED = (dt.date(2024, 3, d) for d in (8, 11, 12, 13))
CARNIVAL = dt.date(2024, 2, 13)  # a weekday holiday of B3


def buy(quantity: str, price: str, day: dt.date) -> None:
    request = services.TradeRequest("INDJ24", "MACRO", D(quantity), D(price), day)
    services.trades_book(requests=[request], actor="pm", source=Trade.Source.API)


def close(day: dt.date, price: str) -> None:
    services.prices_upsert(
        rows=[{"instrument": "INDJ24", "date": day, "price": D(price)}], actor="ops"
    )


def mark(day: dt.date) -> None:
    services.mark_to_market(as_of=day, actor="ops")


def day_pnl() -> D:
    return sum((p.daily_pnl_base for p in Position.objects.all()), D("0.00"))


def timeline(day: dt.date) -> D:
    services.snapshots_build(start=FRI8, end=day, actor="ops")
    return PortfolioSnapshot.objects.get(date=day).pnl


@pytest.fixture
def fund(ibov, macro):
    services.capital_flow_create(date=FRI8, amount=D("1000000.00"), actor="ops")


def test_a_corrected_close_after_a_trade_of_the_next_day(fund):
    buy("10", "100", MON)
    close(MON, "100")
    mark(MON)
    close(TUE, "110")
    mark(TUE)
    buy("10", "120", WED)  # the book still at Tuesday's close
    close(TUE, "112")  # corrected: the book is marked again to Tuesday
    # Tuesday: 10 × (112 − 100) = 120, and Wednesday's trade at Tuesday's close,
    # 10 × (112 − 120) = −80: 40.
    assert day_pnl() == D("40.00")
    close(WED, "115")
    mark(WED)
    # Wednesday: 10 × (115 − 112) + 10 × (115 − 120) = 30 − 50 = −20, from the corrected close.
    assert day_pnl() == D("-20.00") == timeline(WED)


def test_the_valuation_dates_close_arriving_after_a_trade(fund):
    buy("10", "100", FRI8)
    close(FRI8, "100")
    mark(FRI8)
    mark(MON)  # Monday's close is late: the book is marked at Friday's, stale
    buy("10", "105", TUE)
    close(MON, "104")  # it arrives: Monday is marked again
    # Monday: 10 × (104 − 100) = 40, and Tuesday's trade at Monday's close, 10 × (104 − 105)
    # = −10: 30.
    assert day_pnl() == D("30.00")
    close(TUE, "106")
    mark(TUE)
    # Tuesday: 10 × (106 − 104) + 10 × (106 − 105) = 20 + 10 = 30.
    assert day_pnl() == D("30.00") == timeline(TUE)


def test_trades_on_two_days_the_book_has_not_marked(fund):
    buy("10", "100", MON)
    close(MON, "100")
    mark(MON)
    buy("10", "105", TUE)
    close(TUE, "110")  # after the valuation date: it waits for the mark
    buy("10", "108", WED)
    mark(TUE)  # the repair of a missed evening
    # Tuesday: 10 × (110 − 100) + 10 × (110 − 105) = 150, and Wednesday's trade at Tuesday's
    # close, 10 × (110 − 108) = 20: 170.
    assert day_pnl() == D("170.00")
    close(WED, "112")
    mark(WED)
    # Wednesday: 20 × (112 − 110) + 10 × (112 − 108) = 40 + 40 = 80.
    assert day_pnl() == D("80.00") == timeline(WED)


def test_a_position_closed_on_a_day_the_book_has_not_marked(fund):
    buy("10", "100", MON)
    close(MON, "100")
    mark(MON)
    buy("10", "105", TUE)
    close(TUE, "110")
    buy("-20", "108", WED)  # closes it: 20 × (108 − 102.5) = 110 realized
    mark(TUE)
    book = shown_book()
    # Tuesday: 10 × 10 + 10 × 5 = 150, and the sale at Tuesday's close, −20 × (110 − 108)
    # = −40: 110, listed with the closed position.
    assert book["valuation_date"] == "2024-03-12"
    assert [(r["status"], r["daily_pnl_base"]) for r in book["positions"]] == [("closed", "110.00")]
    close(WED, "112")
    mark(WED)
    # Wednesday: the sale against Tuesday's close of 20 at 102.5 (150): 110 − 150 = −40.
    assert day_pnl() == D("-40.00") == timeline(WED)
    assert shown_book()["totals"]["daily_pnl"] == "-40.00"


def test_a_first_trade_on_a_holiday_is_in_the_next_business_days_pnl(ibov, macro):
    buy("10", "100", CARNIVAL)
    position = Position.objects.get()
    assert position.pnl_date == dt.date(2024, 2, 14)  # Ash Wednesday, the next business day
    close(CARNIVAL, "101")  # foreign markets' close of the holiday: accepted, marked
    position.refresh_from_db()
    assert (position.price_date, position.unrealized_pnl_base) == (CARNIVAL, D("10.00"))
