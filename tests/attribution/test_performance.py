"""Performance statistics against the CDI (DESIGN.md "Attribution", API.md
`/api/performance/`), on a fund built through the timeline from hand-made closes.

Days D1 = Mon Mar 4 … D7 = Tue Mar 12, 2024. Capital 1,000,000.00 on D1, a subscription of
500,000.00 on D4. On D1, at the close, MACRO buys 10 INDJ24 (BRL, ×1) and RV sells 5 BRLX
(BRL, ×1); no fees.

              D1       D2       D3       D4       D5       D6       D7
  INDJ24   100,000  101,000   99,000  100,500   98,000  101,000  101,000
  MACRO P&L      0   10,000  −20,000   15,000  −25,000   30,000        0
  BRLX      50,000   50,400   50,000   50,000   49,000   49,600   49,200
  RV P&L         0   −2,000    2,000        0    5,000   −3,000    2,000
  fund P&L       0    8,000  −18,000   15,000  −20,000   27,000    2,000
  capital   1.000M   1.000M   1.008M   1.490M   1.505M   1.485M   1.512M   (NAV_{t−1} + flow_t)
  NAV       1.000M   1.008M   0.990M   1.505M   1.485M   1.512M   1.514M
  CDI       0.0004   0.0004   0.0004   0.0004   (none)  0.00041  0.00041

The NAV index: 1, 1.008 (D2), 0.99 (D3), 0.99 × 1.49015/1.49 = 0.999966 (D4),
× 1.485/1.505 = 0.986678 (D5, the trough), 1.004618, 1.005947: the drawdown peaks on D2 and
bottoms on D5 at 1 − 0.986678 / 1.008 = 2.1153%. Hit ratio: 4 days up of 6 that moved.

The fund's terms say its cash earns nothing and it charges no fee, so its P&L is the
positions' alone: these tests are of the statistics (the accounts are
tests/portfolio/test_fund_accounts.py's).
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from attribution import engine
from portfolio import services
from portfolio.models import BenchmarkRate, FundTerms, Price
from tests.factories import InstrumentFactory, StrategyFactory

DAYS = [dt.date(2024, 3, day) for day in (4, 5, 6, 7, 8, 11, 12)]
CLOSES = {
    "INDJ24": (100_000, 101_000, 99_000, 100_500, 98_000, 101_000, 101_000),
    "BRLX": (50_000, 50_400, 50_000, 50_000, 49_000, 49_600, 49_200),
}
MACRO_PNL = np.array([0, 10_000, -20_000, 15_000, -25_000, 30_000, 0], dtype=float)
RV_PNL = np.array([0, -2_000, 2_000, 0, 5_000, -3_000, 2_000], dtype=float)
CAPITAL = np.array([1_000_000, 1_000_000, 1_008_000, 1_490_000, 1_505_000, 1_485_000, 1_512_000.0])
CDI = {0: "0.0004", 1: "0.0004", 2: "0.0004", 3: "0.0004", 5: "0.00041", 6: "0.00041"}
CDI_DAILY = np.array([0.0004] * 5 + [0.00041] * 2)  # D5 takes D4's rate
ROOT = np.sqrt(252)


@pytest.fixture
def fund(db, ibov, macro):
    StrategyFactory.create(code="RV")
    brlx = InstrumentFactory.create(symbol="BRLX", currency="BRL", multiplier=Decimal(1))
    instruments = {"INDJ24": ibov, "BRLX": brlx}
    Price.objects.bulk_create(
        Price(instrument=instruments[symbol], date=day, price=Decimal(close))
        for symbol, closes in CLOSES.items()
        for day, close in zip(DAYS, closes, strict=True)
    )
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=DAYS[t], rate=Decimal(rate)) for t, rate in CDI.items()
    )
    FundTerms.objects.create(effective_from=DAYS[0], cash_yield=Decimal(0))
    services.capital_flow_create(date=DAYS[0], amount=Decimal("1000000.00"), actor="test")
    services.capital_flow_create(date=DAYS[3], amount=Decimal("500000.00"), actor="test")
    trade = services.TradeRequest
    services.trades_book(
        requests=[
            trade("INDJ24", "MACRO", Decimal("10"), Decimal("100000"), DAYS[0]),
            trade("BRLX", "RV", Decimal("-5"), Decimal("50000"), DAYS[0]),
        ],
        actor="test",
        source="api",
    )
    services.snapshots_build(start=DAYS[0], end=DAYS[-1], actor="test")


def expected(returns, benchmark=CDI_DAILY):
    """The statistics by their formulas, in numpy, independently of attribution.engine."""
    total = np.prod(1 + returns) - 1
    excess = returns - benchmark
    downside = np.sqrt(np.mean(np.minimum(excess, 0) ** 2))
    annualized = (1 + total) ** (252 / len(returns)) - 1
    index = np.cumprod(1 + returns)
    running_peak = np.maximum.accumulate(np.concatenate([[1.0], index]))[1:]
    drawdown = (1 - index / running_peak).max()
    return {
        "return": total,
        "annualized_return": annualized,
        "volatility": returns.std(ddof=1) * ROOT,
        "sharpe": excess.mean() / excess.std(ddof=1) * ROOT,
        "sortino": excess.mean() / downside * ROOT,
        "max_drawdown": drawdown,
        "calmar": annualized / drawdown,
        "benchmark_return": np.prod(1 + benchmark) - 1,
        "excess_return": total - (np.prod(1 + benchmark) - 1),
    }


def assert_figures(row, want):
    for name, value in want.items():
        shown = row[name]["value"] if name == "max_drawdown" else row[name]
        places = 14 if name in ("return", "benchmark_return", "excess_return") else 5
        assert float(shown) == pytest.approx(value, abs=10**-places), name


def test_the_fund_and_each_strategy_against_numpy(fund, api_client_for):
    answer = api_client_for("viewer").get("/api/performance/")  # default: inception to date
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["period"], body["start"], body["end"], body["days"]) == (
        "itd",
        "2024-03-04",
        "2024-03-12",
        7,
    )
    assert body["pnl"] == "14000.00"  # 8,000 − 18,000 + 15,000 − 20,000 + 27,000 + 2,000
    fund_returns = (MACRO_PNL + RV_PNL) / CAPITAL
    assert_figures(body, expected(fund_returns))
    # By hand: the drawdown, the hit ratio, the best and worst days, the CDI.
    assert float(body["max_drawdown"]["value"]) == pytest.approx(1 - 0.9866779 / 1.008, abs=1e-6)
    assert body["max_drawdown"]["peak"] == "2024-03-05"
    assert body["max_drawdown"]["trough"] == "2024-03-08"
    assert body["hit_ratio"] == "0.666667"
    assert body["best_day"]["date"] == "2024-03-11"  # 27,000 / 1,485,000 = 1.8182%
    assert float(body["best_day"]["return"]) == pytest.approx(27_000 / 1_485_000, abs=1e-15)
    assert body["worst_day"] == {"date": "2024-03-06", "return": "-0.017857142857143"}
    assert body["benchmark"] == "CDI" and body["benchmark_days_carried"] == 1
    assert float(body["benchmark_return"]) == pytest.approx(1.0004**5 * 1.00041**2 - 1, abs=1e-15)

    rows = {row["strategy"]: row for row in body["by_strategy"]}
    assert set(rows) == {"MACRO", "RV"}
    assert (rows["MACRO"]["pnl"], rows["RV"]["pnl"]) == ("10000.00", "4000.00")
    for code, pnl in (("MACRO", MACRO_PNL), ("RV", RV_PNL)):
        assert_figures(rows[code], expected(pnl / CAPITAL))
    assert rows["RV"]["hit_ratio"] == "0.600000"  # up D3, D5, D7 of 5 days that moved


def test_a_custom_period_and_one_strategy(fund, api_client_for):
    body = (
        api_client_for("viewer")
        .get("/api/performance/?period=custom&start=2024-03-06&end=2024-03-10&strategy=RV")
        .json()
    )
    assert (body["start"], body["end"], body["days"]) == ("2024-03-06", "2024-03-08", 3)
    assert_figures(body, expected(((MACRO_PNL + RV_PNL) / CAPITAL)[2:5], CDI_DAILY[2:5]))
    # The period opens at D2's close, the peak: D3 falls from it, and D5 goes lower.
    assert body["max_drawdown"]["peak"] == "2024-03-05"
    assert body["max_drawdown"]["trough"] == "2024-03-08"
    [row] = body["by_strategy"]
    assert row["strategy"] == "RV" and row["pnl"] == "7000.00"


def test_without_the_cdi_the_benchmark_figures_are_null_and_say_why(fund, api_client_for):
    BenchmarkRate.objects.filter(date__lte=DAYS[1]).delete()
    body = api_client_for("viewer").get("/api/performance/").json()
    assert body["benchmark_return"] is body["sharpe"] is body["sortino"] is None
    assert "No CDI rate on or before 2024-03-04" in body["benchmark_unavailable"]
    assert "import_benchmark_rates" in body["benchmark_unavailable"]
    assert body["return"] is not None and body["volatility"] is not None


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("period=weekly", "period", "not a valid choice"),
        ("period=custom&start=2024-03-01&end=2024-03-08", "start", "before the fund's inception"),
        ("period=custom&start=2024-03-08", "end", "Required for period=custom"),
        ("strategy=NOPE", "strategy", "Unknown strategy"),
        ("as_of=2024-02-01", "as_of", "before the fund's inception"),
    ],
)
def test_bad_input_is_400_with_the_reason(fund, api_client_for, query, field, reason):
    answer = api_client_for("viewer").get(f"/api/performance/?{query}")
    assert answer.status_code == 400
    assert reason in " ".join(answer.json()[field]), answer.json()


def test_no_snapshots_is_400_naming_the_command(db, api_client_for):
    services.capital_flow_create(date=DAYS[0], amount=Decimal("1000000.00"), actor="test")
    answer = api_client_for("viewer").get("/api/performance/")
    assert answer.status_code == 400
    assert "backfill_snapshots" in str(answer.json())


def test_no_ratio_from_one_day_or_from_an_idle_strategy():
    cdi = np.full(229, 0.000415)
    # An idle strategy over a flat CDI: its excess −0.000415 every day has a float std of
    # 5.4e-20, rounding, so no Sharpe (not −10^17); its Sortino is mean / RMS = −1 × √252.
    assert np.std(-cdi, ddof=1) > 0
    idle = engine.statistics(np.zeros(229), cdi)
    assert idle.sharpe is None and idle.volatility == 0.0
    assert idle.sortino == pytest.approx(-np.sqrt(252))
    one_day = engine.statistics(np.array([0.001]), cdi[:1])
    assert (one_day.volatility, one_day.sharpe, one_day.sortino) == (None, None, None)
