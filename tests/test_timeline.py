"""The fund's timeline: any business date computed, re-computed or repaired, in any order,
without rewinding the live book.

The fund trades the risk tests' instruments (tests/fixtures/risk_book.py: 21 business days of
quotes, DAYS[0] = Feb 16 to DAYS[20] = Mar 15, 2024). Capital 10,000,000.00 on day 0,
2,000,000.00 in on day 6 and 1,000,000.00 out on day 8. Trades, each booked on its day:
    day 1  MACRO buys 10 INDJ24     day 5  MACRO sells 100 DI1F27 (DV01 −2,500 per bp)
    day 3  MACRO buys 2 ESH4        day 8  MACRO sells 4 INDJ24 (realizes P&L)
    day 9  RV buys 1 ESH4
"On time" is each day's eod run that evening; the DV01 limit (2,000) is in breach from day 5.
"""

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command

from ops import pipelines
from portfolio import services
from portfolio.models import (
    FxRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
)
from risk.models import RiskAlert, RiskLimit, RiskSnapshot
from tests.factories import StrategyFactory
from tests.fixtures.risk_book import DAYS, PATHS, load_market, usd
from tests.shown import shown_book

TRADES = {
    1: [("INDJ24", "MACRO", "10")],
    3: [("ESH4", "MACRO", "2")],
    5: [("DI1F27", "MACRO", "-100")],
    8: [("INDJ24", "MACRO", "-4")],
    9: [("ESH4", "RV", "1")],
}
FLOWS = {0: "10000000.00", 6: "2000000.00", 8: "-1000000.00"}


def evening(day: int) -> dt.datetime:
    """19:00 in São Paulo on DAYS[day]: after the close, before the next day."""
    return dt.datetime.combine(DAYS[day], dt.time(22, 0), tzinfo=dt.UTC)


@pytest.fixture
def fund(db: None, settings: Any, ibov: Instrument, spx: Instrument, di1: Instrument) -> None:
    settings.PMS_RISK_WINDOW = 20
    settings.PMS_RISK_MIN_WINDOW = 5  # a VaR from the fifth day of quotes
    settings.PMS_PIPELINE_RETRIES = 0
    StrategyFactory.create(code="MACRO")
    StrategyFactory.create(code="RV")
    load_market(ibov, spx, di1)
    RiskLimit.objects.create(name="DV01", metric="dv01", limit=Decimal("2000"))
    RiskLimit.objects.create(name="Drawdown", metric="drawdown", limit=Decimal("0.05"))


def trade_and_flow(day: int) -> None:
    """What the PM and operations book on DAYS[day], at that day's close."""
    if day in FLOWS:
        services.capital_flow_create(date=DAYS[day], amount=Decimal(FLOWS[day]), actor="ops")
    requests = [
        services.TradeRequest(symbol, strategy, Decimal(q), PATHS[symbol](day), DAYS[day])
        for symbol, strategy, q in TRADES.get(day, [])
    ]
    if requests:
        services.trades_book(requests=requests, actor="pm", source="api")


def live(day: int, *, eod: bool = True) -> None:
    """DAYS[day] as the fund lives it: the day's trades and flows, then (on time) its eod."""
    with time_machine.travel(evening(day), tick=False):
        trade_and_flow(day)
        if eod:
            run = pipelines.pipeline_run(pipeline="eod", date=DAYS[day], actor="scheduler")
            assert run.status == "succeeded", run.error


def rows(days: list[dt.date]) -> dict[str, list[dict[str, Any]]]:
    """Everything the timeline stores for `days`, without ids and clock times."""
    return {
        "positions": list(
            PositionSnapshot.objects.filter(date__in=days)
            .order_by("date", "instrument_id", "strategy_id")
            .values(*(f.name for f in PositionSnapshot._meta.fields if f.name != "id"))
        ),
        "fund": list(
            PortfolioSnapshot.objects.filter(date__in=days)
            .order_by("date")
            .values(
                *(
                    f.name
                    for f in PortfolioSnapshot._meta.fields
                    if f.name not in ("id", "computed_at")
                )
            )
        ),
        "risk": list(
            RiskSnapshot.objects.filter(date__in=days)
            .order_by("date")
            .values(
                *(f.name for f in RiskSnapshot._meta.fields if f.name not in ("id", "computed_at"))
            )
        ),
    }


def forget(days: list[dt.date]) -> None:
    for model in (PositionSnapshot, PortfolioSnapshot, RiskSnapshot):
        model.objects.filter(date__in=days).delete()


def live_book() -> list[Any]:
    return list(Position.objects.order_by("pk").values())


def assert_live_book_is_the_timeline(day: dt.date) -> None:
    """The live book marked to `day` shows what the timeline says of `day`."""
    snapshots = {
        (s.instrument_id, s.strategy_id): s for s in PositionSnapshot.objects.filter(date=day)
    }
    for position in Position.objects.filter(closed_at__isnull=True):
        snapshot = snapshots[(position.instrument_id, position.strategy_id)]
        assert position.pnl_date == day
        assert position.unrealized_pnl_base == snapshot.unrealized_pnl_base, position
        assert position.daily_pnl_base == snapshot.daily_pnl_base, position
    report = shown_book()
    fund = PortfolioSnapshot.objects.get(date=day)
    assert (Decimal(report["nav"]), Decimal(report["totals"]["daily_pnl"])) == (fund.nav, fund.pnl)


def test_a_past_date_leaves_the_live_book_and_gives_the_rows_of_its_own_evening(fund):
    for day in range(8):
        live(day)
    on_time = rows([DAYS[7]])
    for day in range(8, 11):
        live(day)
    assert_live_book_is_the_timeline(DAYS[10])
    before = live_book()

    with time_machine.travel(evening(10) + dt.timedelta(hours=1), tick=False):
        again = pipelines.pipeline_run(pipeline="eod", date=DAYS[7], actor="ops")
    assert again.status == "succeeded", again.error
    assert again.steps[0]["summary"] == (
        "the live book is marked as of 2024-03-01: left as it is (2024-02-27 is in the past)"
    )
    assert live_book() == before  # every live position byte-identical
    assert rows([DAYS[7]]) == on_time
    [day7] = on_time["risk"]
    assert day7["var_95"] is not None and day7["window_used"] == 7
    assert [row["status"] for row in day7["limits"] if row["name"] == "DV01"] == ["breach"]


def test_a_missed_week_repaired_in_order_or_backwards_gives_the_same_rows(fund):
    for day in range(11):
        live(day)
    week = DAYS[3:10]
    on_time = rows(week)
    alerts = set(RiskAlert.objects.values_list("limit__name", "date", "status"))
    assert ("DV01", DAYS[5], "open") in alerts

    forget(week)
    out = StringIO()
    with time_machine.travel(evening(10) + dt.timedelta(hours=1), tick=False):
        call_command(
            "run_pipeline", "eod", "--from", str(DAYS[3]), "--to", str(DAYS[9]), stdout=out
        )
    assert "[1/7] eod for 2024-02-21" in out.getvalue()
    assert "[7/7] eod 2024-02-29: succeeded" in out.getvalue()
    assert rows(week) == on_time

    forget(week)
    with time_machine.travel(evening(10) + dt.timedelta(hours=1), tick=False):
        for day in reversed(week):
            run = pipelines.pipeline_run(pipeline="eod", date=day, actor="ops")
            assert run.status == "succeeded", run.error
    assert rows(week) == on_time
    assert set(RiskAlert.objects.values_list("limit__name", "date", "status")) == alerts


def test_a_week_without_pipelines_is_caught_up_and_the_book_is_right(fund):
    """Days 3–9 traded but never closed (the cluster was down). Back on day 10, the
    scheduled eod marks the book from its last mark, days ago, and builds the missing
    timeline; the repair of days 3–9 afterwards leaves the book alone. The book shows day
    10's own P&L, as the timeline does."""
    for day in range(3):
        live(day)
    for day in range(3, 11):
        live(day, eod=False)
    # Trades dated after the book's valuation date leave it at the last close it marked.
    assert max(Position.objects.values_list("pnl_date", flat=True)) == DAYS[2]
    with time_machine.travel(evening(10), tick=False):
        today = pipelines.pipeline_run(pipeline="eod", date=DAYS[10], actor="scheduler")
    assert "the 7 missing day(s) before it built from 2024-02-21" in today.steps[1]["summary"]
    assert_live_book_is_the_timeline(DAYS[10])
    marked = live_book()
    out = StringIO()
    with time_machine.travel(evening(10) + dt.timedelta(hours=1), tick=False):
        call_command(
            "run_pipeline", "eod", "--from", str(DAYS[3]), "--to", str(DAYS[9]), stdout=out
        )
    assert out.getvalue().count("succeeded in") == 7
    assert PortfolioSnapshot.objects.count() == RiskSnapshot.objects.count() == 11
    assert live_book() == marked


def test_marking_the_book_backwards_is_409(fund, api_client_for):
    for day in range(4):
        live(day)
    ops = api_client_for("ops")
    answer = ops.post("/api/book/mark-to-market/", {"date": str(DAYS[2])}, format="json")
    assert answer.status_code == 409
    assert "marked as of 2024-02-21" in answer.json()["detail"]
    assert "run_pipeline eod --date 2024-02-20" in answer.json()["detail"]
    assert (
        ops.post("/api/book/mark-to-market/", {"date": str(DAYS[3])}, format="json").status_code
        == 200
    )  # the same date again is fine


def test_the_fund_endpoint(fund, api_client_for):
    viewer = api_client_for("viewer")
    # No capital yet: nothing held, the quota at its initial 1 (no terms: Q0's default).
    # The book, never marked, is valued at the latest close due (Mar 14: it is 15:00 on
    # Friday Mar 15 in São Paulo).
    assert viewer.get("/api/fund/").json() == {
        "base_currency": "BRL",
        "inception": None,
        "calendar": "BVMF",
        "time_zone": "America/Sao_Paulo",
        "last_mark": None,
        "last_snapshot": None,
        "valuation_date": "2024-03-14",
        "nav": "0.00",
        "quota": "1.00000000",
        "units": "0.00000000",
        "cash": "0.00",
        "performance_provision": "0.00",
        "terms": [],
    }
    for day in range(2):
        live(day)
    # 10,000,000.00 subscribed at the quota 1: 10,000,000 units. Day 1 buys 10 INDJ24 at
    # its close (no P&L yet), margined: all of the capital is cash. No CDI is loaded, no
    # fee charged: the quota stays at 1.
    assert viewer.get("/api/fund/").json() == {
        "base_currency": "BRL",
        "inception": "2024-02-16",
        "calendar": "BVMF",
        "time_zone": "America/Sao_Paulo",
        "last_mark": "2024-02-19",
        "last_snapshot": "2024-02-19",
        "valuation_date": "2024-02-19",
        "nav": "10000000.00",
        "quota": "1.00000000",
        "units": "10000000.00000000",
        "cash": "10000000.00",
        "performance_provision": "0.00",
        "terms": [],
    }
    assert api_client_for(None).get("/api/fund/").status_code == 401


def test_a_pipeline_before_the_inception_or_in_the_future_is_refused(fund, api_client_for):
    live(0)
    ops = api_client_for("ops")
    early = ops.post("/api/pipelines/eod/run/", {"date": "2024-02-15"}, format="json")
    assert early.status_code == 400
    assert "before the fund's inception 2024-02-16" in early.json()["date"][0]
    late = ops.post("/api/pipelines/eod/run/", {"date": "2024-03-18"}, format="json")
    assert late.status_code == 400 and "future" in late.json()["date"][0]
    with pytest.raises(Exception, match="before the fund's inception 2024-02-16"):
        call_command("run_pipeline", "eod", "--date", "2024-02-15", stdout=StringIO())


def test_the_day_starts_at_the_previous_close_however_long_ago_the_last_mark(fund):
    """Bought on day 1, marked on day 1, then not until day 4: day 4's P&L is day 4's move
    (from day 3's close), not three days' worth."""
    live(0)
    live(1)
    with time_machine.travel(evening(4), tick=False):
        services.mark_to_market(as_of=DAYS[4], actor="ops")
    [position] = Position.objects.filter(closed_at__isnull=True)
    # INDJ24 closes: day 1 101,000 (the trade's price), day 3 102,500, day 4 100,500.
    assert [PATHS["INDJ24"](k) for k in (1, 3, 4)] == [101000, 102500, 100500]
    # The day starts at day 3's close: 10 × (102,500 − 101,000) = 15,000.00 of P&L so far;
    # day 4's P&L is 10 × (100,500 − 102,500) = −20,000.00.
    assert position.sod_pnl_base == Decimal("15000.00")
    assert position.daily_pnl_base == Decimal("-20000.00")


def test_a_business_day_lived_through_the_book_ends_as_the_timeline(fund):
    """Day 5 replayed with the clock: the pre-open marks to day 4's close; at 11:00 three
    trades and a close leave the valuation date and the stale set as they were, each
    adding its own day P&L at day 4's close, t × (P − p) × m × X; the day's closes arrive
    after 18:00 and the eod makes the book's day P&L the timeline's."""
    from portfolio.services import TradeRequest, position_close

    for day in range(5):
        live(day)
    Price.objects.filter(date__gte=DAYS[5]).delete()  # day 5's closes come in the evening
    FxRate.objects.filter(date__gte=DAYS[5]).delete()
    with time_machine.travel(dt.datetime.combine(DAYS[5], dt.time(9, 30), dt.UTC), tick=False):
        run = pipelines.pipeline_run(pipeline="preopen", date=DAYS[5], actor="scheduler")
        assert run.status == "succeeded", run.error
        morning = shown_book()
    assert (morning["valuation_date"], morning["stale_prices"]) == ("2024-02-22", [])

    def day_pnl() -> Decimal:
        return Decimal(shown_book()["totals"]["daily_pnl"])

    def book(symbol: str, strategy: str, quantity: str, price: str) -> None:
        request = TradeRequest(symbol, strategy, Decimal(quantity), Decimal(price), DAYS[5])
        services.trades_book(requests=[request], actor="pm", source="api")

    # Day 4's closes: INDJ24 100,500 (1 per point), ESH4 4,960 (50 per point, USD at 5.02),
    # DI1F27 10.45% (DV01 25 per contract); the book holds 10 INDJ24 and 2 ESH4 (MACRO).
    added = []
    with time_machine.travel(dt.datetime.combine(DAYS[5], dt.time(14, 0), dt.UTC), tick=False):
        start = day_pnl()
        book("INDJ24", "RV", "3", "100200")  # 3 × (100,500 − 100,200) × 1 = 900
        added.append(day_pnl() - start)
        book("INDJ24", "MACRO", "4", "100700")  # 4 × (100,500 − 100,700) × 1 = −800
        added.append(day_pnl() - start - sum(added))
        book("DI1F27", "MACRO", "-20", "10.47")  # −20 × 25 × (10.47 − 10.45) × 100 = −1,000
        added.append(day_pnl() - start - sum(added))
        esh4 = Position.objects.get(instrument__symbol="ESH4", closed_at__isnull=True)
        position_close(position=esh4, price=Decimal("4950"), actor="pm")
        # −2 × (4,960 − 4,950) × 50 × 5.02 = −5,020
        added.append(day_pnl() - start - sum(added))
        afternoon = shown_book()
    assert added == [
        Decimal("900.00"),
        Decimal("-800.00"),
        Decimal("-1000.00"),
        Decimal("-5020.00"),
    ]
    assert (afternoon["valuation_date"], afternoon["stale_prices"]) == ("2024-02-22", [])
    # The closed ESH4 is listed with its day: day 4's move, and the close at day 4's close.
    [es_morning] = [row for row in morning["positions"] if row["instrument"] == "ESH4"]
    closed = [row for row in afternoon["positions"] if row["status"] == "closed"]
    assert [(row["instrument"], Decimal(row["daily_pnl_base"])) for row in closed] == [
        ("ESH4", Decimal(es_morning["daily_pnl_base"]) - Decimal("5020.00"))
    ]
    rows_sum = sum(Decimal(row["daily_pnl_base"]) for row in afternoon["positions"])
    assert rows_sum == Decimal(afternoon["totals"]["daily_pnl"])

    with time_machine.travel(evening(5) - dt.timedelta(hours=1), tick=False):
        services.prices_upsert(
            rows=[
                {"instrument": symbol, "date": DAYS[5], "price": path(5)}
                for symbol, path in PATHS.items()
            ],
            actor="ops",
        )
        services.fx_rates_upsert(
            rows=[{"currency": "USD", "date": DAYS[5], "rate": usd(5)}], actor="ops"
        )
        assert shown_book()["valuation_date"] == "2024-02-22"  # closes after it: no re-mark
        run = pipelines.pipeline_run(pipeline="eod", date=DAYS[5], actor="scheduler")
        assert run.status == "succeeded", run.error
    assert_live_book_is_the_timeline(DAYS[5])
