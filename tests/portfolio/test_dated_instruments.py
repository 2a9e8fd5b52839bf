"""Dated instruments: their terms (pricing, maturity, root) on every path that writes them,
no trading from the maturity on, and the roll of a position into a later contract of its
chain in one transaction."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command

from portfolio import services
from portfolio.models import AuditRecord, Instrument, Position, Trade
from tests.factories import InstrumentFactory

THU, FRI = dt.date(2024, 3, 14), dt.date(2024, 3, 15)  # FRI is the tests' today
GOOD_FRIDAY = dt.date(2024, 3, 29)  # a B3 holiday


def dated(symbol: str, maturity: dt.date, root: str = "WIN") -> Instrument:
    """A mini index future: 0.2 BRL per point."""
    return InstrumentFactory.create(
        symbol=symbol, root=root, maturity=maturity, multiplier=D("0.2"), asset_class="equity"
    )


@pytest.fixture
def chain(macro):
    """The WIN chain: March matured on Wednesday, April and June trade."""
    return {
        "H": dated("WINH24", dt.date(2024, 3, 13)),
        "J": dated("WINJ24", dt.date(2024, 4, 17)),
        "M": dated("WINM24", dt.date(2024, 6, 12)),
        "other": dated("INDJ24", dt.date(2024, 4, 17), root="IND"),
    }


def book(symbol: str, quantity: str, price: str, day: dt.date) -> Trade:
    request = services.TradeRequest(symbol, "MACRO", D(quantity), D(price), day)
    [trade] = services.trades_book(requests=[request], actor="tester", source=Trade.Source.API)
    return trade


DI1 = {
    "symbol": "DI1F27",
    "name": "DI1 Jan/27",
    "asset_class": "rates",
    "currency": "BRL",
    "quote_type": "yield",
    "pricing": "di1",
    "maturity": "2027-01-04",
    "root": "DI1",
}


def test_di1_created_with_its_terms_and_refused_without_them(ops):
    for missing, field, message in (
        ({"maturity": None}, "maturity", "A DI1 needs its maturity"),
        ({"quote_type": "price"}, "quote_type", "A DI1 is quoted in yield"),
        ({"currency": "USD"}, "currency", "A DI1 settles in BRL."),
        ({"maturity": "2100-01-04"}, "maturity", "2100-01-04 is after 2099-12-31."),
    ):
        refused = ops.post("/api/instruments/", {**DI1, **missing}, format="json")
        assert refused.status_code == 400, refused.json()
        assert refused.json()[field][0].startswith(message)
    assert not Instrument.objects.exists()
    created = ops.post("/api/instruments/", DI1, format="json")
    assert created.status_code == 201, created.json()
    shown = created.json()
    assert (shown["pricing"], shown["maturity"], shown["root"]) == ("di1", "2027-01-04", "DI1")
    assert D(shown["dv01"]) == 0  # a DI1's DV01 comes from its unit price, not a field
    # A linear yield instrument still needs its dv01; a DI1's comes from its unit price.
    linear = {**DI1, "symbol": "SWAP1Y", "pricing": "linear"}
    assert ops.post("/api/instruments/", linear, format="json").json() == {
        "dv01": ["A yield-quoted instrument needs a positive dv01."]
    }


def test_patch_of_dated_terms_until_the_instrument_has_trades(ops, chain):
    url = "/api/instruments/WINJ24/"
    moved = ops.patch(url, {"maturity": "2024-04-18", "root": "WINFUT"}, format="json")
    assert moved.status_code == 200, moved.json()
    assert Instrument.objects.get(symbol="WINJ24").maturity == dt.date(2024, 4, 18)
    refused = ops.patch(url, {"pricing": "di1"}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()) == {"quote_type"}  # a BRL price future, now dated
    book("WINJ24", "1", "100", THU)
    for field, value in (("maturity", "2024-04-19"), ("root", "WIN")):
        answer = ops.patch(url, {field: value}, format="json")
        assert answer.status_code == 400
        assert answer.json() == {field: [f"Cannot change {field}: WINJ24 has trades."]}
    instrument = Instrument.objects.get(symbol="WINJ24")
    assert (instrument.maturity, instrument.root) == (dt.date(2024, 4, 18), "WINFUT")


def test_maturity_on_a_holiday_is_the_next_business_day(db):
    assert dated("WINJ24", GOOD_FRIDAY).expires_on == dt.date(2024, 4, 1)
    assert dated("WINM24", dt.date(2024, 6, 12)).expires_on == dt.date(2024, 6, 12)
    assert InstrumentFactory.create(symbol="PETR4").expires_on is None


def test_instruments_imported_with_pricing_maturity_and_root(tmp_path, db):
    path = tmp_path / "instruments.csv"
    path.write_text(
        "symbol,name,asset_class,currency,quote_type,pricing,maturity,root,dv01\n"
        "DI1F27,DI1 Jan/27,rates,BRL,yield,di1,2027-01-04,DI1,\n"
        "WINJ24,Mini Ibovespa Apr/24,equity,BRL,price,,2024-04-17,WIN,\n"
        "PETR4,Petrobras PN,equity,BRL,price,,,,\n"
    )
    call_command("import_instruments", str(path))
    assert list(
        Instrument.objects.order_by("symbol").values_list("symbol", "pricing", "maturity", "root")
    ) == [
        ("DI1F27", "di1", dt.date(2027, 1, 4), "DI1"),
        ("PETR4", "linear", None, ""),
        ("WINJ24", "linear", dt.date(2024, 4, 17), "WIN"),
    ]
    path.write_text(
        "symbol,name,asset_class,currency,quote_type,pricing,maturity\n"
        "DI1N27,DI1 Jul/27,rates,BRL,yield,di1,\n"
    )
    with pytest.raises(CommandError) as error:
        call_command("import_instruments", str(path))
    assert "line 2: maturity: A DI1 needs its maturity" in str(error.value)
    assert not Instrument.objects.filter(symbol="DI1N27").exists()


def test_no_trade_from_the_maturity_on(pm, chain):
    trade = {"instrument": "WINH24", "strategy": "MACRO", "quantity": "5", "price": "100"}
    for day in ("2024-03-13", "2024-03-14"):
        refused = pm.post("/api/positions/", {**trade, "trade_date": day}, format="json")
        assert refused.status_code == 400
        [message] = refused.json()["trade_date"]
        assert message.startswith("WINH24 matured on 2024-03-13: it cannot be traded")
        assert "POST /api/positions/{id}/roll/" in message and "the WIN chain" in message
    assert not Trade.objects.exists()
    before = pm.post("/api/positions/", {**trade, "trade_date": "2024-03-12"}, format="json")
    assert before.status_code == 201, before.json()


def test_roll_moves_the_quantity_in_one_transaction(pm, chain):
    position = Position.objects.get(pk=book("WINJ24", "-10", "100", THU).position_id)
    answer = pm.post(
        f"/api/positions/{position.pk}/roll/",
        {"to": "WINM24", "price_from": "110", "price_to": "112.5", "fees": "3"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    closed, opened = answer.json()["closed"], answer.json()["opened"]
    assert (closed["id"], closed["status"], closed["closed_at"]) == (
        position.pk,
        "closed",
        "2024-03-15",
    )
    # Short 10 at 100 bought back at 110, 0.2 BRL a point: −10 × 10 × 0.2 = −20, less 3 fees.
    assert D(closed["quantity"]) == 0 and D(closed["realized_pnl_base"]) == D("-23")
    assert (opened["instrument"], opened["strategy"], opened["status"]) == (
        "WINM24",
        "MACRO",
        "open",
    )
    assert D(opened["quantity"]) == D("-10") and D(opened["avg_cost"]) == D("112.5")
    legs = list(
        Trade.objects.filter(trade_date=FRI).values_list(
            "instrument__symbol", "quantity", "price", "fees"
        )
    )
    assert legs == [("WINJ24", D("10"), D("110"), D("3")), ("WINM24", D("-10"), D("112.5"), D("0"))]
    [audit] = AuditRecord.objects.filter(action="position.roll")
    assert (audit.actor, audit.object_id) == ("user-pm", str(position.pk))
    assert audit.after["position"] == opened["id"]


def test_roll_refused_naming_the_field_and_nothing_written(pm, chain):
    position = Position.objects.get(pk=book("WINJ24", "10", "100", THU).position_id)
    url = f"/api/positions/{position.pk}/roll/"
    prices = {"price_from": "101", "price_to": "102"}
    for to, message in (
        ("INDJ24", "INDJ24 is of IND, not of WIN: a roll stays within its chain."),
        ("WINJ24", "The position is in WINJ24 already"),
        ("WINH24", "WINH24 matured on 2024-03-13"),
        ("NOPE", "Unknown instrument 'NOPE'."),
    ):
        answer = pm.post(url, {**prices, "to": to}, format="json")
        assert answer.status_code == 400
        assert answer.json()["to"][0].startswith(message)
    # The opening leg refused (an inactive contract) leaves the closing leg unbooked too.
    Instrument.objects.filter(symbol="WINM24").update(is_active=False)
    answer = pm.post(url, {**prices, "to": "WINM24"}, format="json")
    assert answer.json() == {"to": ["WINM24 is not active."]}
    assert Trade.objects.count() == 1 and Position.objects.get().closed_at is None
    assert not AuditRecord.objects.filter(action="position.roll").exists()


def test_roll_of_a_closed_position_is_a_conflict(pm, chain):
    position_id = book("WINJ24", "10", "100", THU).position_id
    book("WINJ24", "-10", "101", THU)
    answer = pm.post(
        f"/api/positions/{position_id}/roll/",
        {"to": "WINM24", "price_from": "101", "price_to": "102"},
        format="json",
    )
    assert answer.status_code == 409
    assert answer.json() == {"detail": f"Position {position_id} was closed on 2024-03-14."}
    assert Trade.objects.count() == 2


def test_roll_needs_the_pm_group(viewer, chain):
    position_id = book("WINJ24", "10", "100", THU).position_id
    body = {"to": "WINM24", "price_from": "101", "price_to": "102"}
    assert (
        viewer.post(f"/api/positions/{position_id}/roll/", body, format="json").status_code == 403
    )
    assert Trade.objects.count() == 1
