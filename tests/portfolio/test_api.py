"""The book and market-data API (API.md): happy paths, errors, rights, query counts."""

import datetime as dt
from decimal import Decimal as D

import pytest

from portfolio.models import (
    AuditRecord,
    CapitalFlow,
    FxRate,
    Instrument,
    Position,
    Price,
    Strategy,
    Trade,
)
from tests.conftest import queries_of
from tests.factories import PriceFactory, StrategyFactory
from tests.shown import BOOK_KEYS

pytestmark = pytest.mark.django_db

THU, FRI = "2024-03-14", "2024-03-15"


def test_token_login(api_client_for, django_user_model):
    django_user_model.objects.create_user(username="alice", password="s3cret-pass")
    client = api_client_for(None)
    answer = client.post(
        "/api/auth/token/", {"username": "alice", "password": "s3cret-pass"}, format="json"
    )
    assert answer.status_code == 200 and len(answer.json()["token"]) == 64
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    assert client.get("/api/instruments/").status_code == 403  # no group yet
    assert (
        client.post("/api/auth/token/", {"username": "alice", "password": "no"}).status_code == 400
    )


def test_anonymous_is_401_and_wrong_group_is_403(api_client_for, viewer, pm):
    assert api_client_for(None).get("/api/book/").status_code == 401
    assert api_client_for("nogroup").get("/api/book/").status_code == 403
    assert viewer.get("/api/book/").status_code == 200
    instrument = {
        "symbol": "X",
        "name": "X",
        "asset_class": "equity",
        "currency": "BRL",
        "quote_type": "price",
    }
    assert viewer.post("/api/instruments/", instrument, format="json").status_code == 403
    assert pm.post("/api/instruments/", instrument, format="json").status_code == 403
    assert viewer.post("/api/book/mark-to-market/", {}, format="json").status_code == 403
    assert not Instrument.objects.exists()


def test_instrument_create_read_patch(ops):
    body = {
        "symbol": "DI1F27",
        "name": "DI1 Jan/27",
        "asset_class": "rates",
        "currency": "BRL",
        "quote_type": "yield",
        "multiplier": "100000",
        "dv01": 25,
        "lot_size": "5",
    }
    created = ops.post("/api/instruments/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json() == {
        **body,
        "multiplier": "100000.00000000",
        "dv01": "25.00000000",
        "lot_size": "5.000000",
        "settlement": "margined",
        "pricing": "linear",
        "maturity": None,
        "root": "",
        "is_active": True,
    }
    assert ops.get("/api/instruments/DI1F27/").json()["name"] == "DI1 Jan/27"
    patched = ops.patch("/api/instruments/DI1F27/", {"dv01": "24.5"}, format="json")
    assert patched.status_code == 200 and patched.json()["dv01"] == "24.50000000"
    assert (
        AuditRecord.objects.filter(action="instrument.update").get().before["dv01"] == "25.00000000"
    )
    assert ops.get("/api/instruments/NOPE/").status_code == 404


def test_instrument_bad_input_is_400_with_fields(ops, ibov, macro):
    answer = ops.post(
        "/api/instruments/",
        {
            "symbol": "Y",
            "name": "Y",
            "asset_class": "bonds",
            "currency": "usd",
            "quote_type": "yield",
            "multiplier": "-1",
        },
        format="json",
    )
    assert answer.status_code == 400
    assert set(answer.json()) == {"asset_class", "currency", "multiplier"}
    yield_without_dv01 = ops.post(
        "/api/instruments/",
        {
            "symbol": "Y",
            "name": "Y",
            "asset_class": "rates",
            "currency": "USD",
            "quote_type": "yield",
        },
        format="json",
    )
    assert yield_without_dv01.status_code == 400 and "dv01" in yield_without_dv01.json()
    # Once traded, the terms that priced the trades are fixed.
    PriceFactory(instrument=ibov, date=dt.date(2024, 3, 14))
    from portfolio import services

    services.trades_book(
        requests=[services.TradeRequest("INDJ24", "MACRO", D("1"), D("100"), dt.date(2024, 3, 14))],
        actor="t",
        source="api",
    )
    refused = ops.patch("/api/instruments/INDJ24/", {"multiplier": "2"}, format="json")
    assert refused.status_code == 400 and "multiplier" in refused.json()
    assert Instrument.objects.get(symbol="INDJ24").multiplier == D("1")


def test_strategies(ops, viewer):
    answer = ops.post(
        "/api/strategies/",
        {"code": "FX", "name": "FX", "risk_budget": "1000000", "min_trade_fraction": 0.2},
        format="json",
    )
    assert answer.status_code == 201
    assert viewer.get("/api/strategies/FX/").json()["min_trade_fraction"] == "0.2000"
    bad = ops.patch(
        "/api/strategies/FX/", {"min_trade_fraction": "1.5", "risk_budget": "-1"}, format="json"
    )
    assert bad.status_code == 400 and set(bad.json()) == {"min_trade_fraction", "risk_budget"}


def test_attributions_accounts_keys_are_no_strategy_or_instrument(ops):
    # CASH, MANAGEMENT_FEE and PERFORMANCE_FEE are attribution's rows of the fund's accounts:
    # a strategy or an instrument of that name would make two rows with one key.
    strategy = {"code": "CASH", "name": "Cash", "risk_budget": "1000000"}
    answer = ops.post("/api/strategies/", strategy, format="json")
    assert answer.status_code == 400 and "attribution" in answer.json()["code"][0]
    instrument = {"symbol": "PERFORMANCE_FEE", "name": "x", "asset_class": "equity"}
    answer = ops.post("/api/instruments/", {**instrument, "currency": "BRL"}, format="json")
    assert answer.status_code == 400 and "attribution" in answer.json()["symbol"][0]
    assert not Strategy.objects.exists() and not Instrument.objects.exists()


def test_price_upload_upserts_and_lists(ops, viewer, ibov, spx):
    PriceFactory(instrument=ibov, date=dt.date(2024, 3, 14), price=D("1"))
    rows = [
        {"instrument": "INDJ24", "date": THU, "price": "127000.5"},
        {"instrument": "INDJ24", "date": FRI, "price": 127100},
        {"instrument": "ESH4", "date": FRI, "price": "5100.25"},
    ]
    answer = ops.post("/api/prices/", rows, format="json")
    assert answer.status_code == 200 and answer.json() == {"created": 2, "updated": 1}
    assert Price.objects.get(instrument=ibov, date=THU).price == D("127000.5")
    listed = viewer.get("/api/prices/?instrument=INDJ24&start=2024-03-15")
    assert listed.json()["count"] == 1
    assert listed.json()["results"] == [
        {"instrument": "INDJ24", "date": FRI, "price": "127100.00000000"}
    ]
    assert viewer.get("/api/prices/?start=yesterday").status_code == 400


def test_price_upload_with_one_bad_row_writes_nothing(ops, ibov):
    rows = [
        {"instrument": "INDJ24", "date": THU, "price": "127000"},
        {"instrument": "INDJ24", "date": FRI, "price": "-3"},
        {"instrument": "NOPE", "date": FRI, "price": "3"},
    ]
    answer = ops.post("/api/prices/", rows, format="json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"1"} and "price" in answer.json()["1"]
    rows[1]["price"] = "3"
    rows.append({"instrument": "INDJ24", "date": THU, "price": "1"})
    rows.append({"instrument": "INDJ24", "date": "2024-03-18", "price": "1"})
    answer = ops.post("/api/prices/", rows, format="json")
    assert answer.status_code == 400
    assert answer.json() == {"4": {"date": ["2024-03-18 is in the future."]}}
    # Field-valid rows are then checked against the book: unknown symbols, duplicates, and,
    # in the same answer, the outliers among the other rows: Fri's 3 beside Thu's 127000 is
    # |3 / 127000 − 1| = 99.998%, shown as 100%, beyond the 25% band.
    answer = ops.post("/api/prices/", rows[:4], format="json")
    assert answer.status_code == 400
    assert answer.json() == {
        "1": {
            "price": [
                "3 is 100% from the last close 127,000 (band 25%): confirm it if it is right."
            ]
        },
        "2": {"instrument": ["Unknown instrument 'NOPE'."]},
        "3": {"instrument": ["Same instrument and date as row 0."]},
    }
    assert not Price.objects.exists()
    assert ops.post("/api/prices/", {"instrument": "INDJ24"}, format="json").status_code == 400


def test_fx_rates_and_capital_flows(ops, viewer):
    answer = ops.post(
        "/api/fx-rates/", [{"currency": "USD", "date": FRI, "rate": "4.9876"}], format="json"
    )
    assert answer.json() == {"created": 1, "updated": 0}
    assert viewer.get("/api/fx-rates/?currency=USD").json()["results"][0]["rate"] == "4.9876000000"
    base = ops.post(
        "/api/fx-rates/", [{"currency": "BRL", "date": FRI, "rate": "1"}], format="json"
    )
    assert base.status_code == 400 and "currency" in base.json()["0"]
    assert FxRate.objects.count() == 1

    flow = ops.post(
        "/api/capital-flows/",
        {"date": THU, "amount": "-2500000.00", "note": "redemption"},
        format="json",
    )
    assert flow.status_code == 400 and "units" in flow.json()["amount"][0]  # none outstanding
    flow = ops.post("/api/capital-flows/", {"date": THU, "amount": "10000000.00"}, format="json")
    assert flow.status_code == 201, flow.json()
    # The first flow is converted at the initial quota, 1: 10,000,000 units.
    assert (flow.json()["units"], flow.json()["quota"]) == ("10000000.00000000", "1.00000000")
    flow = ops.post(
        "/api/capital-flows/",
        {"date": THU, "amount": "-2500000.00", "note": "redemption"},
        format="json",
    )
    assert flow.status_code == 201 and flow.json()["amount"] == "-2500000.00"
    assert (flow.json()["units"], flow.json()["entered"]) == ("-2500000.00000000", "amount")
    for wrong in (
        {"date": THU, "amount": 0},
        {"date": THU, "amount": 5, "units": 5},
        {"date": THU},
    ):
        answer = ops.post("/api/capital-flows/", wrong, format="json")
        assert answer.status_code == 400 and "amount" in answer.json(), wrong
    too_many = ops.post("/api/capital-flows/", {"date": THU, "units": "-7500000.01"}, format="json")
    assert too_many.status_code == 400 and "7500000.00000000 are outstanding" in str(
        too_many.json()
    )
    assert CapitalFlow.objects.count() == 2


def test_positions_open_add_close_and_the_ledger(pm, viewer, ibov, macro):
    opened = pm.post(
        "/api/positions/",
        {
            "instrument": "INDJ24",
            "strategy": "MACRO",
            "quantity": 10,
            "price": "127000",
            "trade_date": THU,
        },
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    position = opened.json()
    assert (position["quantity"], position["avg_cost"], position["status"]) == (
        "10.000000",
        "127000.000000000000",
        "open",
    )
    added = pm.post(
        "/api/positions/",
        {"instrument": "INDJ24", "strategy": "MACRO", "quantity": "-4", "price": "128000"},
        format="json",
    )
    assert added.json()["id"] == position["id"]
    assert added.json()["realized_pnl_base"] == "4000.00"  # 4 × 1,000
    closed = pm.post(
        f"/api/positions/{position['id']}/close/", {"price": "126500", "fees": "25"}, format="json"
    )
    assert closed.status_code == 200
    # 6 × (126,500 − 127,000) − 25 = −3,025; 4,000 − 3,025 = 975
    assert (closed.json()["status"], closed.json()["realized_pnl_base"]) == ("closed", "975.00")
    assert (
        pm.post(
            f"/api/positions/{position['id']}/close/", {"price": "1"}, format="json"
        ).status_code
        == 409  # already closed: a state conflict
    )
    assert viewer.get("/api/positions/?status=closed").json()["count"] == 1
    assert viewer.get("/api/positions/?status=open").json()["count"] == 0
    ledger = viewer.get("/api/trades/?instrument=INDJ24&start=2024-03-15").json()
    assert [t["quantity"] for t in ledger["results"]] == ["-4.000000", "-6.000000"]
    assert viewer.post("/api/positions/", {}, format="json").status_code == 403
    assert pm.get("/api/positions/999999/").status_code == 404


def test_position_bad_input_books_nothing(pm, ibov, macro):
    answer = pm.post(
        "/api/positions/",
        {"instrument": "INDJ24", "strategy": "MACRO", "quantity": 0, "price": "x"},
        format="json",
    )
    assert answer.status_code == 400 and set(answer.json()) == {"quantity", "price"}
    unknown = pm.post(
        "/api/positions/",
        {"instrument": "NOPE", "strategy": "MACRO", "quantity": 1, "price": 1},
        format="json",
    )
    # One position: its errors by field, as every single object's are (not by row).
    assert unknown.status_code == 400 and unknown.json() == {
        "instrument": ["Unknown instrument 'NOPE'."]
    }
    assert not Trade.objects.exists() and not Position.objects.exists()


def test_ledger_is_read_only(api_client_for):
    assert api_client_for("superuser").post("/api/trades/", {}, format="json").status_code == 405
    with pytest.raises(PermissionError):
        Trade.objects.all().delete()


def test_mark_to_market_endpoint(ops, pm, ibov, macro):
    pm.post(
        "/api/positions/",
        {
            "instrument": "INDJ24",
            "strategy": "MACRO",
            "quantity": 2,
            "price": "127000",
            "trade_date": THU,
        },
        format="json",
    )
    PriceFactory(instrument=ibov, date=dt.date(2024, 3, 15), price=D("127300"))
    # At 15:00 on Friday the latest close due is Thursday's, the default; INDJ24 has none.
    early = ops.post("/api/book/mark-to-market/", {}, format="json").json()
    assert (early["as_of"], early["stale"], early["positions_updated"]) == (THU, ["INDJ24"], 0)
    answer = ops.post("/api/book/mark-to-market/", {"date": FRI}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {
        "as_of": FRI,
        "positions_updated": 1,
        "stale": [],
        "missing_fx": [],
        "total_unrealized_pnl": "600.00",
    }
    assert (
        ops.post("/api/book/mark-to-market/", {"date": "2024-13-01"}, format="json").status_code
        == 400
    )


def test_book_answers_the_contract_and_its_queries_do_not_grow(viewer, ibov, macro):
    from portfolio import services

    PriceFactory(instrument=ibov, date=dt.date(2024, 3, 14), price=D("127000"))
    strategies = [StrategyFactory(code=f"S{n:02d}") for n in range(40)]

    def queries_for_book(n: int) -> tuple[int, dict]:
        services.trades_book(
            requests=[
                services.TradeRequest("INDJ24", s.code, D("1"), D("126000"), dt.date(2024, 3, 14))
                for s in strategies[:n]
            ],
            actor="t",
            source="api",
        )
        count, answer = queries_of(viewer, "/api/book/")
        return count, answer.json()

    few, _ = queries_for_book(2)
    many, body = queries_for_book(40)
    assert few == many
    assert list(body) == [*BOOK_KEYS, "cached", "cache_age_seconds"]
    assert body["totals"]["positions"] == 40 and len(body["positions"]) == 40
    assert body["positions"][0]["instrument"] == "INDJ24"


def test_positions_list_queries_do_not_grow(viewer, ibov):
    from portfolio import services

    strategies = [StrategyFactory(code=f"S{n:02d}") for n in range(30)]

    def queries_for_list(n: int) -> int:
        services.trades_book(
            requests=[
                services.TradeRequest("INDJ24", s.code, D("1"), D("1"), dt.date(2024, 3, 14))
                for s in strategies[:n]
            ],
            actor="t",
            source="api",
        )
        count, answer = queries_of(viewer, "/api/positions/")
        assert answer.json()["count"] == Position.objects.count()
        return count

    assert queries_for_list(2) == queries_for_list(30)


def test_schema_and_docs_are_served(viewer):
    schema = viewer.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/book/",
        "/api/book/mark-to-market/",
        "/api/prices/",
        "/api/positions/{id}/close/",
        "/api/auth/token/",
    ):
        assert path in paths
    assert viewer.get("/api/docs/").status_code == 200
