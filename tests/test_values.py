"""Selectors return values, serializers format them: each cached data set's value, shown by
its serializer, is the JSON the API has always sent (keys, their order, decimal strings,
nulls), on a small book worked by hand."""

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from attribution.api.serializers import return_decimal, return_str
from attribution.selectors import AttributionReport
from pms_site import cache
from portfolio import services
from portfolio.models import Trade
from portfolio.selectors import BookRow, LiveBook, live_book
from risk.selectors import (
    Backtest,
    BacktestDay,
    ComponentVar,
    Decomposition,
    IncrementalVar,
    LikelihoodRatio,
    RiskReport,
    backtest,
    decomposition,
)
from tests.factories import InstrumentFactory, PriceFactory
from tests.fixtures.backtest import DAYS, backtest_history
from tests.shown import BOOK_KEYS

pytestmark = pytest.mark.django_db

WED, THU = dt.date(2024, 3, 13), dt.date(2024, 3, 14)


@pytest.fixture
def small_book(spx, macro, usd):
    """4 ESH4 bought at 5,000 (USD, rate 5.00 then 5.10) and 100 PETR4 (funded, BRL) at
    38.50, both marked on Thursday."""
    usd({WED: "5.00", THU: "5.10"})
    petr = InstrumentFactory(
        symbol="PETR4", asset_class="equity", currency="BRL", multiplier=D("1"), settlement="funded"
    )
    services.capital_flow_create(date=WED, amount=D("1000000.00"), note="seed", actor="t")
    services.trades_book(
        requests=[
            services.TradeRequest("ESH4", "MACRO", D("4"), D("5000"), WED, D("0")),
            services.TradeRequest("PETR4", "MACRO", D("100"), D("38.50"), WED, D("0")),
        ],
        actor="t",
        source=Trade.Source.API,
    )
    PriceFactory(instrument=spx, date=THU, price=D("5010"))
    PriceFactory(instrument=petr, date=THU, price=D("40.00"))
    services.mark_to_market(as_of=THU, actor="t")


def test_the_live_book_is_a_value(small_book):
    book = live_book()
    assert isinstance(book, LiveBook) and all(isinstance(r, BookRow) for r in book.positions)
    # 4 × 10 × 50 × 5.10 = 10,200 and 100 × 1.50 = 150: NAV 1,010,350
    assert (book.valuation_date, book.nav, book.totals.unrealized_pnl) == (
        THU,
        D("1010350.00"),
        D("10350.00"),
    )


def test_the_book_shown_is_the_api_json(small_book):
    shown = json.loads(cache.REGISTRY["book"].rendered(live_book()) + b"}")
    assert list(shown) == BOOK_KEYS
    assert (shown["as_of"], shown["valuation_date"], shown["nav"]) == (
        "2024-03-14",
        "2024-03-14",
        "1010350.00",
    )
    future, equity = shown["positions"]
    common = ["id", "instrument", "strategy", "quantity", "avg_cost", "last_price"]
    common += ["price_date", "notional_base", "market_value_base", "unrealized_pnl_base"]
    common += ["realized_pnl_base", "daily_pnl_base", "dv01_base", "opened_at", "closed_at"]
    common += ["status", "asset_class", "currency"]
    assert list(future) == common
    assert list(equity) == [*common, "cost_base", "price_pnl_base", "fx_pnl_base"]
    assert {k: future[k] for k in common[1:]} == {
        "instrument": "ESH4",
        "strategy": "MACRO",
        "quantity": "4.000000",
        "avg_cost": "5000.000000000000",
        "last_price": "5010.00000000",
        "price_date": "2024-03-14",
        "notional_base": "5110200.00",  # 4 × 5,010 × 50 × 5.10
        "market_value_base": "5110200.00",
        "unrealized_pnl_base": "10200.00",
        "realized_pnl_base": "0.00",
        "daily_pnl_base": "10200.00",
        "dv01_base": "0.00",
        "opened_at": "2024-03-13",
        "closed_at": None,
        "status": "open",
        "asset_class": "equity",
        "currency": "USD",
    }
    assert (equity["cost_base"], equity["price_pnl_base"], equity["fx_pnl_base"]) == (
        "3850.00",
        "150.00",
        "0.00",
    )
    assert shown["totals"] == {
        "positions": 2,
        "open_positions": 2,
        "gross_exposure": "5114200.00",
        "net_exposure": "5114200.00",
        "long_exposure": "5114200.00",
        "short_exposure": "0.00",
        "unrealized_pnl": "10350.00",
        "realized_pnl": "0.00",
        "daily_pnl": "10350.00",
    }
    assert shown["stale_prices"] == []


def test_the_dashboard_reads_the_value_the_api_reads_the_bytes(small_book):
    first = cache.read_value("book")
    assert isinstance(first.value, LiveBook) and first.value.nav == D("1010350.00")
    answer = cache.read("book").content
    assert answer.startswith(cache.REGISTRY["book"].rendered(first.value) + b',"cached":')


def test_the_risk_shown_is_the_api_json(small_book):
    """No history of daily returns yet: no VaR, and the report says why, with its nulls."""
    report = cache.compute("risk", window=20)
    assert isinstance(report, RiskReport)
    assert report.var == {0.95: None, 0.99: None} and report.var_unavailable
    shown = json.loads(cache.REGISTRY["risk"].rendered(report) + b"}")
    assert list(shown) == [
        "as_of",
        "nav",
        "method",
        "window",
        "window_used",
        "short_history",
        "var_unavailable",
        "var",
        "expected_shortfall",
        "exposures",
        "dv01_by_currency",
        "dv01_by_tenor",
        "drawdown",
        "limits",
        "missing_history",
    ]
    assert (shown["as_of"], shown["nav"], shown["window_used"]) == ("2024-03-14", "1010350.00", 0)
    assert shown["var"] == shown["expected_shortfall"] == {"0.95": None, "0.99": None}
    exposures = shown["exposures"]
    assert (exposures["gross"], exposures["net"], exposures["short"]) == (
        "5114200.00",
        "5114200.00",
        "0.00",
    )
    assert exposures["leverage"] == "5.061810"  # 5,114,200 / 1,010,350
    assert exposures["by_currency"] == {
        "BRL": {"gross": "4000.00", "net": "4000.00"},
        "USD": {"gross": "5110200.00", "net": "5110200.00"},
    }
    assert exposures["top_concentrations"][0] == {
        "instrument": "ESH4",
        "strategy": "MACRO",
        "notional": "5110200.00",
        "weight": "5.057851",
    }
    assert shown["dv01_by_currency"] == {} and shown["dv01_by_tenor"] == []
    assert list(shown["drawdown"]) == ["as_of", "value", "peak_date"]


def test_the_attribution_shown_is_the_api_json(small_book):
    services.snapshots_build(start=WED, end=THU, actor="t")
    report = cache.compute("attribution", period="mtd", by="currency")
    assert isinstance(report, AttributionReport)
    assert report.total_pnl == sum((row.pnl for row in report.rows), D(0))
    shown = json.loads(cache.REGISTRY["attribution"].rendered(report) + b"}")
    assert list(shown) == [
        "period",
        "by",
        "start",
        "end",
        "total_pnl",
        "total_return",
        "linking",
        "rows",
    ]
    assert shown["rows"] == [
        {
            "key": "BRL",
            "pnl": "150.00",
            "contribution": "0.000150000000000",
            "fx_pnl": "0.00",
            "fx_contribution": "0.000000000000000",
        },
        {
            "key": "USD",
            "pnl": "10200.00",
            "contribution": "0.010200000000000",
            "fx_pnl": "0.00",
            "fx_contribution": "0.000000000000000",
        },
    ]
    assert (shown["period"], shown["start"], shown["end"]) == ("mtd", "2024-03-13", "2024-03-14")
    assert (shown["total_pnl"], shown["total_return"]) == ("10350.00", "0.010350000000000")


def compact(expected: dict) -> bytes:
    """JSON as the API renders it: compact, keys in order, UTF-8."""
    return json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_decomposition_shown_is_the_api_json(book, api_client_for):
    """The hand-worked 5-position book (tests/fixtures/risk_book.py) by strategy."""
    report = decomposition(by="strategy", window=20)
    assert isinstance(report, Decomposition)
    assert all(isinstance(row, ComponentVar) for row in report.rows)
    assert all(isinstance(row, IncrementalVar) for row in report.incremental)
    assert report.var == sum((row.component_var for row in report.rows), D(0)) == D("41988.99")
    answer = api_client_for("viewer").get("/api/risk/decomposition/", {"by": "strategy"})
    assert answer.status_code == 200
    assert answer.content == compact(
        {
            "as_of": "2024-03-15",
            "by": "strategy",
            "confidence": 0.99,
            "window_used": 20,
            "var": "41988.99",
            "rows": [
                {"key": "MACRO", "component_var": "54350.23", "share": "1.294392"},
                {"key": "RV", "component_var": "-12361.24", "share": "-0.294392"},
            ],
            "incremental": [
                {"strategy": "MACRO", "incremental_var": "9282.31"},
                {"strategy": "RV", "incremental_var": "-12418.31"},
            ],
        }
    )


def backtest_day(k: int, pnl: str) -> dict:
    """The k-th of the 5 days, as the API shows it (exceptions after the 2nd and 3rd)."""
    return {"date": DAYS[-6 + k].isoformat(), "var": "100.00", "pnl": pnl, "exception": k in {1, 2}}


def test_the_backtest_shown_is_the_api_json(db, api_client_for):
    """5 snapshots (VaR 99% 100.00), the next days' P&L +10.00 but −150.00 after the 2nd and
    the 3rd: 2 exceptions in a row. Kupiec (T 5, x 2, p 0.01): −2[3 ln 0.99 + 2 ln 0.01] +
    2[3 ln 0.6 + 2 ln 0.4] = 11.750866; Christoffersen: each transition as likely (½), 0."""
    backtest_history({1, 2}, days=DAYS[-6:])
    report = backtest()
    assert isinstance(report, Backtest) and all(isinstance(d, BacktestDay) for d in report.days)
    assert isinstance(report.kupiec, LikelihoodRatio) and report.expected == pytest.approx(0.05)
    assert (report.days[1].var, report.days[1].pnl) == (D("100.00"), D("-150.00"))
    answer = api_client_for("viewer").get("/api/risk/backtest/")
    assert answer.status_code == 200
    assert answer.content == compact(
        {
            "confidence": 0.99,
            "start": "2024-03-08",
            "end": "2024-03-14",
            "observations": 5,
            "exceptions": 2,
            "expected": "0.050000",
            "kupiec": {"lr": "11.750866", "p_value": "0.000608"},
            "christoffersen": {"lr": "0.000000", "p_value": "1.000000"},
            "traffic_light": "red",
            "traffic_light_days": 5,
            "days": [
                backtest_day(0, "10.00"),
                backtest_day(1, "-150.00"),
                backtest_day(2, "-150.00"),
                backtest_day(3, "10.00"),
                backtest_day(4, "10.00"),
            ],
        }
    )


@pytest.mark.parametrize("value", [0.0, -0.0, 0.0103500000000004, -0.123456789012345678, 1 / 3])
def test_a_return_as_a_decimal_is_the_one_shown(value):
    assert str(return_decimal(value)) == str(D(return_str(value)))
