"""What only PostgreSQL shows for the book: closes of one position at once, under its
instrument's row lock."""

import datetime as dt
import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from portfolio import services
from portfolio.models import AuditRecord, Position, Trade
from tests.concurrency import at_once
from tests.conftest import TODAY
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.postgres


def short_position(quantity: str) -> Position:
    request = services.TradeRequest("INDJ24", "MACRO", D(quantity), D("127000"), TODAY)
    [trade] = services.trades_book(requests=[request], actor="pm", source="api")
    return Position.objects.get(pk=trade.position_id)


@pytest.mark.parametrize("clients", [2, 4, 8])
@pytest.mark.django_db(transaction=True)
def test_simultaneous_closes_of_one_position_close_it_once(clients, ibov, macro, api_client_for):
    """A double click, a client's retry, eight PMs: one close, the others 409, and never
    a position of the opposite sign."""
    position = short_position("-3137005")
    pms = [api_client_for("pm") for _ in range(clients)]  # one client per thread
    answers = at_once(
        [
            lambda pm=pm: pm.post(
                f"/api/positions/{position.pk}/close/", {"price": "126900"}, format="json"
            )
            for pm in pms
        ]
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * (clients - 1)
    refused = [a.json()["detail"] for a in answers if a.status_code == 409]
    assert set(refused) == {f"Position {position.pk} was closed on {TODAY}."}
    assert not Position.objects.filter(closed_at__isnull=True).exists()
    assert Trade.objects.filter(quantity=D("3137005")).count() == 1
    assert Trade.objects.count() == 2  # the opening sale and one purchase that closed it
    assert AuditRecord.objects.filter(action="trade.book").count() == 2
    position.refresh_from_db()
    # 3,137,005 × (127,000 − 126,900) × 1 = 313,700,500.00 realized by the one close
    assert (position.quantity, position.realized_pnl_base) == (D("0"), D("313700500.00"))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_partial_closes_never_close_more_than_is_held(ibov, macro, api_client_for):
    """Four closes of 1 at once on a position of 2: two are booked; the other two find it
    closed."""
    position = short_position("-2")
    pms = [api_client_for("pm") for _ in range(4)]
    answers = at_once(
        [
            lambda pm=pm: pm.post(
                f"/api/positions/{position.pk}/close/",
                {"price": "126900", "quantity": "1"},
                format="json",
            )
            for pm in pms
        ]
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
    assert Trade.objects.filter(quantity=D("1")).count() == 2
    assert not Position.objects.filter(closed_at__isnull=True).exists()


MON, TUE = dt.date(2024, 3, 11), dt.date(2024, 3, 12)


def eod_mark_held_open(day: dt.date, seconds: float) -> tuple[threading.Thread, threading.Event]:
    """The eod's mark of `day` in a transaction kept open `seconds` after it (the rest of
    the eod), in a thread; the event is set once the mark is done."""
    marked = threading.Event()

    def eod() -> None:
        try:
            with transaction.atomic():
                services.mark_to_market(as_of=day, actor="eod")
                marked.set()
                time.sleep(seconds)
        finally:
            connection.close()

    thread = threading.Thread(target=eod)
    thread.start()
    assert marked.wait(10)
    return thread, marked


def closes(day: dt.date, **prices: str) -> None:
    services.prices_upsert(
        rows=[{"instrument": s, "date": day, "price": D(p)} for s, p in prices.items()],
        actor="ops",
    )


@pytest.mark.django_db(transaction=True)
def test_a_trade_in_another_instrument_waits_for_the_mark_under_way(ibov, macro):
    """The eod marks Tuesday while the PM buys an instrument the book does not hold: the
    trade waits for the mark, so it is valued at Tuesday's close, in Tuesday's day."""
    InstrumentFactory.create(symbol="WDOJ24", asset_class="fx", currency="BRL")
    request = services.TradeRequest("INDJ24", "MACRO", D("10"), D("100"), MON)
    services.trades_book(requests=[request], actor="pm", source="api")
    closes(MON, INDJ24="100", WDOJ24="100")
    services.mark_to_market(as_of=MON, actor="ops")
    closes(TUE, INDJ24="110", WDOJ24="110")
    thread, _ = eod_mark_held_open(TUE, 1.0)
    request = services.TradeRequest("WDOJ24", "MACRO", D("5"), D("105"), TUE)
    services.trades_book(requests=[request], actor="pm", source="api")
    thread.join()
    wdo = Position.objects.get(instrument__symbol="WDOJ24")
    # 5 × (110 − 105) = 25, the day's and the position's
    assert (wdo.pnl_date, wdo.last_price, wdo.daily_pnl_base) == (TUE, D("110"), D("25.00"))


@pytest.mark.django_db(transaction=True)
def test_a_corrected_close_during_the_eod_mark_is_taken_after_it(ibov, macro):
    """Monday's close is corrected while the eod marks Tuesday: the upload waits for the
    mark, then marks Tuesday again from the corrected close (no 409)."""
    request = services.TradeRequest("INDJ24", "MACRO", D("10"), D("100"), MON)
    services.trades_book(requests=[request], actor="pm", source="api")
    closes(MON, INDJ24="100")
    services.mark_to_market(as_of=MON, actor="ops")
    closes(TUE, INDJ24="110")
    thread, _ = eod_mark_held_open(TUE, 1.0)
    closes(MON, INDJ24="101")
    thread.join()
    position = Position.objects.get()
    # Tuesday from the corrected Monday close: 10 × (110 − 101) = 90
    assert (position.pnl_date, position.daily_pnl_base) == (TUE, D("90.00"))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_rolls_of_one_position_roll_it_once(macro, api_client_for):
    """Two rolls of one position at once: one moves it, the other finds it closed (409);
    the quantity is never opened twice in the later contract."""
    for symbol, maturity in (("WINJ24", dt.date(2024, 4, 17)), ("WINM24", dt.date(2024, 6, 12))):
        InstrumentFactory.create(symbol=symbol, root="WIN", maturity=maturity)
    request = services.TradeRequest("WINJ24", "MACRO", D("10"), D("100"), TODAY)
    [trade] = services.trades_book(requests=[request], actor="pm", source="api")
    body = {"to": "WINM24", "price_from": "101", "price_to": "102"}
    pms = [api_client_for("pm") for _ in range(2)]
    answers = at_once(
        [
            lambda pm=pm: pm.post(f"/api/positions/{trade.position_id}/roll/", body, format="json")
            for pm in pms
        ]
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    opened = Position.objects.get(instrument__symbol="WINM24")
    assert (opened.quantity, opened.closed_at) == (D("10"), None)
    assert Trade.objects.count() == 3  # the opening trade and the roll's two legs
    assert AuditRecord.objects.filter(action="position.roll").count() == 1
