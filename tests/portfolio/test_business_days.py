"""Weekends are never the date of a trade, a close, an FX rate, a flow or a mark; flows and
marks fall on the fund's business days only (B3's: a weekday holiday accepts market data
and trades, since foreign markets trade). Every path says which business day is next and
writes nothing."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from portfolio.models import CapitalFlow, FxRate, Position, Price, Trade

pytestmark = pytest.mark.django_db

SATURDAY, SUNDAY, CARNIVAL = "2024-03-09", "2024-03-10", "2024-02-13"
NEXT = "the next business day is 2024-03-11"


def test_a_trade_on_a_sunday_is_refused_and_on_a_holiday_booked(pm, ibov, macro):
    trade = {"instrument": "INDJ24", "strategy": "MACRO", "quantity": "1", "price": "127000"}
    answer = pm.post("/api/positions/", {**trade, "trade_date": SUNDAY}, format="json")
    assert answer.status_code == 400
    assert NEXT in str(answer.json()) and "trade_date" in str(answer.json())
    assert not Trade.objects.exists()
    booked = pm.post("/api/positions/", {**trade, "trade_date": CARNIVAL}, format="json")
    assert booked.status_code == 201, booked.json()


def test_closes_and_fx_rates_on_a_saturday_are_refused_naming_the_row(ops, ibov):
    prices = ops.post(
        "/api/prices/",
        [
            {"instrument": "INDJ24", "date": "2024-03-08", "price": "127000"},
            {"instrument": "INDJ24", "date": SATURDAY, "price": "127100"},
        ],
        format="json",
    )
    assert prices.status_code == 400
    assert NEXT in str(prices.json()) and "1" in prices.json()
    rates = ops.post(
        "/api/fx-rates/", [{"currency": "USD", "date": SATURDAY, "rate": "5"}], format="json"
    )
    assert rates.status_code == 400 and NEXT in str(rates.json())
    holiday = ops.post(
        "/api/prices/",
        [{"instrument": "INDJ24", "date": CARNIVAL, "price": "127000"}],
        format="json",
    )
    assert holiday.status_code == 200  # foreign markets close on a B3 holiday
    assert list(Price.objects.values_list("date", flat=True)) == [dt.date(2024, 2, 13)]
    assert not FxRate.objects.exists()


def test_flows_and_marks_fall_on_business_days(ops):
    for day, next_day in ((SUNDAY, "2024-03-11"), (CARNIVAL, "2024-02-14")):
        flow = ops.post("/api/capital-flows/", {"date": day, "amount": "1000000"}, format="json")
        assert flow.status_code == 400
        assert f"the next business day is {next_day}" in str(flow.json()["date"])
        mark = ops.post("/api/book/mark-to-market/", {"date": day}, format="json")
        assert mark.status_code == 400
        assert f"the next business day is {next_day}" in str(mark.json()["date"])
    assert not CapitalFlow.objects.exists() and not Position.objects.exists()


def test_a_csv_of_trades_with_a_sunday_line_imports_nothing(tmp_path: Path, ibov, macro):
    path = tmp_path / "trades.csv"
    path.write_text(
        "trade_date,instrument,strategy,quantity,price\n"
        "2024-03-08,INDJ24,MACRO,1,127000\n"
        f"{SUNDAY},INDJ24,MACRO,1,127000\n"
    )
    with pytest.raises(CommandError) as error:
        call_command("import_trades", str(path))
    assert "line 3: trade_date:" in str(error.value) and NEXT in str(error.value)
    assert not Trade.objects.exists()
