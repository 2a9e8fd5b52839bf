"""The trade ticket in the admin: book, close and roll through the API's services as the
person logged in (audited as them), with the API's rules (band confirm, weekdays), errors
next to their field, and a ticket posted twice booking once."""

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portfolio import services
from portfolio.models import AuditRecord, Instrument, Position, Price, Trade
from tests.factories import InstrumentFactory, StrategyFactory, desk

TICKET = "/admin/portfolio/trade/ticket/"
THU = dt.date(2024, 3, 14)  # the day before the tests' today


def win(symbol: str, maturity: dt.date) -> Instrument:
    """A mini index future of the WIN chain, in BRL (no FX rate needed): 0.2 BRL a point."""
    return InstrumentFactory.create(
        symbol=symbol, root="WIN", maturity=maturity, multiplier=D("0.2"), asset_class="equity"
    )


@pytest.fixture
def chain(macro: Any) -> dict[str, Instrument]:
    return {"J": win("WINJ24", dt.date(2024, 4, 17)), "M": win("WINM24", dt.date(2024, 6, 12))}


def filled(client: Client, kind: str, **fields: str) -> dict[str, str]:
    """A ticket form as the page gives it (its hidden state) with `fields` typed in."""
    page = client.get(TICKET)
    assert page.status_code == 200
    form = dict((k, f) for k, _, f in page.context["forms"])[kind]
    return {"ticket": kind, f"{kind}-seen": str(form.initial["seen"])} | {
        f"{kind}-{name}": value for name, value in fields.items()
    }


def posted(client: Client, data: dict[str, str]) -> tuple[int, str]:
    """Post a ticket: the status of the answer, and the page it leads to."""
    answer = client.post(TICKET, data)
    status = answer.status_code
    if status == 302:
        assert answer["Location"] == TICKET  # post, redirect, get
        answer = client.get(TICKET)
    return status, answer.content.decode()


BUY_10 = {
    "instrument": "WINJ24",
    "strategy": "MACRO",
    "side": "buy",
    "quantity": "10",
    "price": "100",
    "trade_date": "2024-03-15",
}


def test_the_pm_books_rolls_and_closes_from_the_ticket(chain: Any) -> None:
    pm = desk("pm")
    status, page = posted(pm, filled(pm, "book", **BUY_10, fees="1.50"))
    booked = Trade.objects.get()
    assert status == 302
    assert (
        f"Booked: bought 10 WINJ24 at 100 for MACRO on 2024-03-15 (trade {booked.pk}); "
        "the position is now long 10." in page
    )
    assert (booked.quantity, booked.price, booked.fees) == (D("10"), D("100"), D("1.50"))
    assert (booked.booked_by, booked.source) == ("pm", "admin")
    position = Position.objects.get()

    roll = {"position": str(position.pk), "to": "WINM24", "price_from": "110"}
    roll |= {"price_to": "112.5", "trade_date": "2024-03-15", "fees": "3"}
    status, page = posted(pm, filled(pm, "roll", **roll))
    assert status == 302
    assert (
        "Rolled long 10 of MACRO from WINJ24 at 110 into WINM24 at 112.5 on 2024-03-15; "
        "WINM24 now long 10." in page
    )
    closing, opening = Trade.objects.order_by("pk")[1:]
    # Long 10 at 100 sold at 110, 0.2 BRL a point: 10 × 10 × 0.2 = 20, less 3 of fees: 17.
    assert (closing.quantity, closing.realized_pnl_base) == (D("-10"), D("17"))
    assert (opening.instrument.symbol, opening.quantity, opening.price) == (
        "WINM24",
        D("10"),
        D("112.5"),
    )
    rolled = Position.objects.get(closed_at__isnull=True)

    status, page = posted(
        pm, filled(pm, "close", position=str(rolled.pk), price="113", trade_date="2024-03-15")
    )
    assert status == 302
    last = Trade.objects.latest("pk")
    assert (
        f"Closed: sold 10 WINM24 at 113 for MACRO on 2024-03-15 (trade {last.pk}); "
        "the position is closed." in page
    )
    # 10 × (113 − 112.5) × 0.2 = 1.00.
    assert last.realized_pnl_base == D("1")
    assert not Position.objects.filter(closed_at__isnull=True).exists()
    assert set(Trade.objects.values_list("booked_by", "source")) == {("pm", "admin")}
    actions = list(AuditRecord.objects.order_by("pk").values_list("actor", "action"))
    assert actions == [
        ("pm", "trade.book"),
        ("pm", "trade.book"),
        ("pm", "trade.book"),
        ("pm", "position.roll"),
        ("pm", "trade.book"),
    ]


def test_a_roll_into_a_contract_held_says_what_it_rolled_and_what_is_held(chain: Any) -> None:
    """Long 10 WINJ24 rolled into WINM24, where the strategy is short 4: 10 rolled, long 6
    held (the message once said "rolled long 6")."""
    for symbol, quantity in (("WINJ24", "10"), ("WINM24", "-4")):
        request = services.TradeRequest(symbol, "MACRO", D(quantity), D("100"), THU)
        services.trade_book(request=request, actor="pm", source="api")
    pm = desk("pm")
    held = Position.objects.get(instrument__symbol="WINJ24")
    roll = {"position": str(held.pk), "to": "WINM24", "price_from": "100", "price_to": "100"}
    status, page = posted(pm, filled(pm, "roll", **roll, trade_date="2024-03-15"))
    assert status == 302
    assert "Rolled long 10 of MACRO from WINJ24 at 100 into WINM24 at 100" in page
    assert "; WINM24 now long 6." in page


@pytest.mark.parametrize("group", ["viewer", "risk", "ops"])
def test_a_user_without_the_pm_rights_gets_no_ticket(chain: Any, group: str) -> None:
    client = desk(group)
    assert TICKET not in client.get("/admin/").content.decode()
    assert client.get(TICKET).status_code == 403
    body = {"ticket": "book", "book-seen": "0"} | {f"book-{k}": v for k, v in BUY_10.items()}
    assert client.post(TICKET, body).status_code == 403
    assert not Trade.objects.exists()


def test_the_pm_finds_the_ticket_in_the_menu_and_on_a_positions_page(chain: Any) -> None:
    pm = desk("pm")
    assert f'href="{TICKET}"' in pm.get("/admin/").content.decode()
    request = services.TradeRequest("WINJ24", "MACRO", D("-4"), D("100"), THU)
    trade = services.trade_book(request=request, actor="pm", source="api")
    page = pm.get(f"/admin/portfolio/position/{trade.position_id}/change/").content.decode()
    assert f'href="{TICKET}?position={trade.position_id}#ticket-close"' in page
    answer = pm.get(f"{TICKET}?position={trade.position_id}")
    ticket = answer.content.decode()
    assert f'<option value="{trade.position_id}" selected>WINJ24 · MACRO · short 4</option>' in (
        ticket
    )
    # The roll offers the other contracts of the position's chain.
    roll = dict((k, f) for k, _, f in answer.context["forms"])["roll"]
    assert roll.fields["to"].widget.choices == [("", "———"), ("WIN", [("WINM24", "WINM24")])]
    for odd in ("²", "-1", "1e3", "x"):  # a position that is no number picks none
        answer = pm.get(TICKET, {"position": odd})
        assert answer.status_code == 200
        assert f'<option value="{trade.position_id}" selected>' not in answer.content.decode()


def test_a_price_beyond_the_band_needs_confirm(ibov: Any, macro: Any) -> None:
    Price.objects.create(instrument=ibov, date=THU, price=D("100000"))
    pm = desk("pm")
    trade = {**BUY_10, "instrument": "INDJ24", "quantity": "1", "price": "140000"}
    status, page = posted(pm, filled(pm, "book", **trade))
    # 140,000 is 40% from the last close of 100,000: beyond the 25% band.
    assert status == 200 and not Trade.objects.exists()
    assert "tick confirm if it is right." in page and "band" in page
    status, page = posted(pm, filled(pm, "book", **trade, confirm="on"))
    assert status == 302 and "Booked: bought 1 INDJ24 at 140,000 for MACRO" in page
    assert Trade.objects.get().price == D("140000")


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        (
            {"trade_date": "2024-03-09"},
            "trade_date",
            "2024-03-09 is a Saturday: trades, closes and FX rates are dated on weekdays",
        ),
        ({"quantity": "-10"}, "quantity", "Give it without a sign: the side says buy or sell."),
        ({"price": "1,000"}, "price", "A valid number is required."),
    ],
)
def test_bad_input_is_refused_next_to_its_field(
    chain: Any, typed: dict[str, str], field: str, message: str
) -> None:
    pm = desk("pm")
    answer = pm.post(TICKET, filled(pm, "book", **{**BUY_10, **typed}))
    assert answer.status_code == 200
    form = dict((k, f) for k, _, f in answer.context["forms"])["book"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert not Trade.objects.exists()


def test_a_position_closed_meanwhile_is_said_and_nothing_booked(chain: Any) -> None:
    pm = desk("pm")
    request = services.TradeRequest("WINJ24", "MACRO", D("10"), D("100"), THU)
    trade = services.trade_book(request=request, actor="t", source="api")
    position = Position.objects.get(pk=trade.position_id)
    form = filled(pm, "close", position=str(position.pk), price="101", trade_date="2024-03-15")
    services.position_close(position=position, price=D("102"), actor="someone")  # another tab
    status, page = posted(pm, form)
    assert status == 200
    assert f"Position {position.pk} was closed on 2024-03-15." in page
    assert Trade.objects.count() == 2 and Trade.objects.latest("pk").booked_by == "someone"


def test_a_ticket_posted_twice_books_once(chain: Any) -> None:
    pm = desk("pm")
    request = services.TradeRequest("WINJ24", "MACRO", D("10"), D("100"), THU)
    position_id = services.trade_book(request=request, actor="t", source="api").position_id
    close = filled(pm, "close", position=str(position_id), price="101", trade_date="2024-03-15")
    assert posted(pm, close)[0] == 302
    status, page = posted(pm, close)  # the same form again: a double click, the back button
    assert status == 200 and f"Position {position_id} was closed on 2024-03-15." in page
    assert Trade.objects.count() == 2

    part = filled(pm, "book", **BUY_10)
    assert posted(pm, part)[0] == 302
    answer = pm.post(TICKET, part)  # a second tab holding the same ticket
    assert answer.status_code == 200
    assert "WINJ24 / MACRO traded after this ticket was filled in: bought 10 at 100" in (
        answer.content.decode()
    )
    assert Trade.objects.count() == 3
    # Filled in again on the ledger as it is now: submitted once more, it is meant.
    again = dict((k, f) for k, _, f in answer.context["forms"])["book"]
    assert again.data["book-seen"] == str(Trade.objects.latest("pk").pk)
    assert posted(pm, dict(again.data.items()))[0] == 302
    assert Trade.objects.filter(instrument__symbol="WINJ24", quantity=D("10")).count() == 3


def test_the_ticket_reads_the_book_in_a_few_queries_whatever_its_size(chain: Any) -> None:
    pm = desk("pm")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert pm.get(TICKET).status_code == 200
        return len(captured)

    request = services.TradeRequest("WINJ24", "MACRO", D("1"), D("100"), THU)
    services.trade_book(request=request, actor="t", source="api")
    one = queries()
    for code in ("RV", "CARRY", "TAIL"):
        StrategyFactory.create(code=code)
        for symbol in ("WINJ24", "WINM24"):
            request = services.TradeRequest(symbol, code, D("1"), D("100"), THU)
            services.trade_book(request=request, actor="t", source="api")
    assert Position.objects.filter(closed_at__isnull=True).count() == 7
    assert queries() == one


def test_a_matured_contract_is_not_offered(chain: Any) -> None:
    """WING24 matured on Feb 14 (today is Mar 15, 2024): neither traded nor rolled into."""
    win("WING24", dt.date(2024, 2, 14))
    forms = dict((k, f) for k, _, f in desk("pm").get(TICKET).context["forms"])
    offered = {i.symbol for i in forms["book"].fields["instrument"].queryset}
    assert {"WINJ24", "WINM24"} <= offered and "WING24" not in offered
    assert "WING24" not in {i.symbol for i in forms["roll"].fields["to"].queryset}
