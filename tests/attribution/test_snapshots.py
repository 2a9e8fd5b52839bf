"""Snapshots and attribution against figures worked out by hand
(tests/fixtures/attribution_fund.py)."""

import math
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from attribution import engine, selectors
from portfolio import services
from portfolio import services as book_services
from portfolio.models import PortfolioSnapshot, PositionSnapshot
from tests.fixtures.attribution_fund import D0, D1, D2, D3
from tests.shown import shown_attribution, shown_book

# Daily P&L by position, (U_t + R_t) − (U_{t−1} + R_{t−1}):
#   ESH4 / MACRO   D1: 2 × 50 × 50 × 5.10 = 25,500.00
#                  D2: U 1 × 100 × 50 × 5.00 = 25,000 + R 25,000 = 50,000 → 24,500.00
#                  D3: U 1 × 80 × 50 × 5.05 = 20,200 + R 25,000 = 45,200 → −4,800.00
#   INDJ24 / RV    D1: 10 × 1,000 = 10,000.00; D2: 10 × 500 = 5,000 → −5,000.00;
#                  D3: 10 × 2,000 = 20,000 → 15,000.00
MACRO = {D1: D("25500.00"), D2: D("24500.00"), D3: D("-4800.00")}
RV = {D1: D("10000.00"), D2: D("-5000.00"), D3: D("15000.00")}
# Fund: P&L 35,500 / 19,500 / 10,200; NAV 10,000,000 → 10,035,500 → (+1,000,000 flow)
# 11,055,000 → 11,065,200. Capital at the start of each day: 10,000,000; 10,035,500 +
# 1,000,000 = 11,035,500; 11,055,000.
CAPITAL = {D1: 10_000_000, D2: 11_035_500, D3: 11_055_000}


def build(start=D0, end=D3):
    return services.snapshots_build(start=start, end=end, actor="test")


def test_snapshots_by_hand(attribution_fund):
    build()
    rows = {
        (s.date, s.instrument.symbol): s
        for s in PositionSnapshot.objects.select_related("instrument")
    }
    for day in (D1, D2, D3):
        assert rows[day, "ESH4"].daily_pnl_base == MACRO[day]
        assert rows[day, "INDJ24"].daily_pnl_base == RV[day]
    esh4 = rows[D3, "ESH4"]
    assert (esh4.quantity, esh4.avg_cost, esh4.price, esh4.fx_rate) == (
        D("1"),
        D("5000"),
        D("5080"),
        D("5.05"),
    )
    assert esh4.notional_base == D("1282700.00")  # 1 × 5080 × 50 × 5.05
    assert (esh4.unrealized_pnl_base, esh4.realized_pnl_base) == (D("20200.00"), D("25000.00"))
    assert rows[D0, "ESH4"].daily_pnl_base == 0  # bought at the close

    fund_days = {s.date: s for s in PortfolioSnapshot.objects.all()}
    assert [fund_days[d].nav for d in (D0, D1, D2, D3)] == [
        D("10000000.00"),
        D("10035500.00"),
        D("11055000.00"),
        D("11065200.00"),
    ]
    assert [fund_days[d].pnl for d in (D1, D2, D3)] == [
        D("35500.00"),
        D("19500.00"),
        D("10200.00"),
    ]
    assert (fund_days[D2].flow, fund_days[D1].flow) == (D("1000000.00"), 0)
    # 35,500 / 10,000,000; 19,500 / 11,035,500; 10,200 / 11,055,000
    assert fund_days[D1].daily_return == D("0.00355")
    assert fund_days[D2].daily_return == D("0.0017670246024195")
    assert fund_days[D3].daily_return == D("0.0009226594301221")
    # D3: open ESH4 1,282,700.00 and INDJ24 1,020,000.00
    assert (fund_days[D3].gross_exposure, fund_days[D3].positions) == (D("2302700.00"), 2)

    # The live book, marked to D3, agrees with the snapshot.
    book_services.mark_to_market(as_of=D3, actor="test")
    assert D(shown_book()["nav"]) == fund_days[D3].nav


def test_attribution_by_hand(attribution_fund):
    build()
    period = selectors.period_resolve("custom", start=D1, end=D3)
    report = shown_attribution(period, "strategy")
    r = {day: float(pnl) / CAPITAL[day] for day, pnl in {D1: 35500, D2: 19500, D3: 10200}.items()}
    total = (1 + r[D1]) * (1 + r[D2]) * (1 + r[D3]) - 1

    def carino(x: float) -> float:
        return math.log1p(x) / x

    def linked(pnl: dict) -> float:
        return sum(carino(r[d]) / carino(total) * float(pnl[d]) / CAPITAL[d] for d in (D1, D2, D3))

    assert (report["start"], report["end"], report["linking"]) == (
        "2024-03-13",
        "2024-03-15",
        "carino",
    )
    # 35,500 + 19,500 + 10,200 = 65,200; MACRO 25,500 + 24,500 − 4,800 = 45,200; RV 20,000
    assert report["total_pnl"] == "65200.00"
    assert [(row["key"], row["pnl"]) for row in report["rows"]] == [
        ("MACRO", "45200.00"),
        ("RV", "20000.00"),
    ]
    assert float(report["total_return"]) == pytest.approx(total, abs=1e-15)
    # 1.00355 × 1.0017670 × 1.0009227 − 1
    assert total == pytest.approx(0.0062509, abs=1e-7)
    contributions = {row["key"]: float(row["contribution"]) for row in report["rows"]}
    assert contributions["MACRO"] == pytest.approx(linked(MACRO), abs=1e-15)
    assert contributions["RV"] == pytest.approx(linked(RV), abs=1e-15)
    by_currency = shown_attribution(period, "currency")
    assert [(row["key"], row["pnl"]) for row in by_currency["rows"]] == [
        ("BRL", "20000.00"),
        ("USD", "45200.00"),
    ]
    daily = shown_attribution(selectors.period_resolve("daily"), "instrument")
    assert (daily["start"], daily["total_pnl"]) == ("2024-03-15", "10200.00")
    assert float(daily["total_return"]) == pytest.approx(10200 / 11_055_000, abs=1e-15)


def test_rebuilding_a_date_changes_nothing(attribution_fund):
    build()

    def stored():
        return (
            list(
                PositionSnapshot.objects.order_by("date", "instrument_id").values_list(
                    "date",
                    "instrument_id",
                    "strategy_id",
                    "quantity",
                    "unrealized_pnl_base",
                    "realized_pnl_base",
                    "daily_pnl_base",
                    "notional_base",
                )
            ),
            list(
                PortfolioSnapshot.objects.order_by("date").values_list(
                    "date", "nav", "pnl", "flow", "daily_return", "gross_exposure"
                )
            ),
        )

    before = stored()
    build(D2, D2)
    build(D1, D3)
    assert stored() == before
    assert PortfolioSnapshot.objects.count() == 4 and PositionSnapshot.objects.count() == 8


def test_a_back_dated_trade_is_absorbed_by_rebuilding_from_its_date(attribution_fund):
    build()
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "RV", D("-10"), D("101000"), D1)],
        actor="test",
        source="api",
    )
    build(D1, D3)
    # RV sold all 10 on D1 at 101,000: realized 10,000 that day, nothing after.
    rv = PositionSnapshot.objects.filter(instrument__symbol="INDJ24").order_by("date")
    assert [(s.date, s.daily_pnl_base) for s in rv] == [(D0, 0), (D1, D("10000.00"))]
    # RV's 20,000 at D3 becomes the 10,000 it realized: 11,065,200 − 10,000
    assert PortfolioSnapshot.objects.get(date=D3).nav == D("11055200.00")


def test_period_errors_name_the_parameter(attribution_fund):
    with pytest.raises(ValidationError) as error:
        selectors.period_resolve("mtd")
    assert "backfill_snapshots" in error.value.message_dict["detail"][0]
    build(D2, D3)  # the fund starts at D0 (its first flow): its accounts are a chain from it
    assert list(PortfolioSnapshot.objects.values_list("date", flat=True)) == [D0, D1, D2, D3]
    assert selectors.period_resolve("custom", start=D2, end=D3).start == D2
    PortfolioSnapshot.objects.filter(date=D1).delete()  # now D1 is a gap in the history
    with pytest.raises(ValidationError) as error:
        selectors.period_resolve("custom", start=D0, end=D3)
    assert "--start 2024-03-13 --end 2024-03-13" in error.value.message_dict["detail"][0]
    for kwargs, field in (
        ({"period": "weekly"}, "period"),
        ({"period": "custom", "start": D1}, "end"),
        ({"period": "custom", "start": D3, "end": D1}, "start"),
        ({"period": "mtd", "start": D1}, "period"),
    ):
        with pytest.raises(ValidationError) as error:
            selectors.period_resolve(**kwargs)
        assert field in error.value.message_dict, kwargs
    with pytest.raises(ValidationError):
        services.snapshots_build(start=D3, end=D1, actor="test")


def test_engine_links_to_the_total_and_handles_zero_returns():
    result = engine.attribute(
        [[100, -50, 0], [0, 50, 0]], fund_pnl=[100, 0, 0], capital=[1000.0, 1100.0, 1100.0]
    )
    # r = 0.1, 0, 0, so R = 0.1; k_1 = k = ln(1.1)/0.1 and k_2 = 1 (r = 0), so day 2's
    # contributions ±50/1100 are scaled by 1/k = 0.1/ln(1.1) and cancel out in the total.
    scaled = 50 / 1100 * 0.1 / math.log(1.1)
    assert result.total_return == pytest.approx(0.1, abs=1e-15)
    assert list(result.pnl) == [50, 50] and result.total_pnl == 100
    assert list(result.contribution) == pytest.approx([0.1 - scaled, scaled], abs=1e-15)
    assert result.contribution.sum() == pytest.approx(0.1, abs=1e-15)
    with pytest.raises(ValueError, match="100%"):
        engine.attribute([[-1000]], fund_pnl=[-1000], capital=[1000.0])


def test_backfill_command_shows_progress_and_refuses_bad_ranges(attribution_fund):
    out = StringIO()
    call_command("backfill_snapshots", "--start", "2024-03-12", "--end", "2024-03-15", stdout=out)
    text = out.getvalue()
    assert "2024-03-12 … 1/4 days" in text and "4/4 days" in text
    assert "NAV 11,065,200.00 on 2024-03-15" in text
    with pytest.raises(CommandError, match="after end"):
        call_command("backfill_snapshots", "--start", "2024-03-15", "--end", "2024-03-12")
    with pytest.raises(CommandError, match="future"):
        call_command("backfill_snapshots", "--end", "2024-03-18")
    assert PortfolioSnapshot.objects.count() == 4
