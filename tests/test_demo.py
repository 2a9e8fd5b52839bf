"""The demo fund is a plausible fund at any size and seed: its daily P&L a small fraction
of its NAV (no −100% day), its limits sized for the book it builds, every date it books a
business day."""

import datetime as dt
from collections import Counter
from io import StringIO

import numpy as np
import pytest
import time_machine
from django.core.management import call_command

from core.calendar import is_business_day
from demo import fund
from portfolio.models import CapitalFlow, FxRate, PortfolioSnapshot, Price, Trade
from risk.models import RiskSnapshot
from tests.factories import PASSWORD

# A bad day of a macro fund at the demo's risk is a percent or two; −5% is already a
# crisis, and far from the −100% that a book sized 25 times its capital gave.
WORST_DAY = -0.05
SEEDS = (1, 7, 42)
WEDNESDAY = dt.datetime(2026, 12, 2, 13, 0, tzinfo=dt.UTC)  # 10:00 in São Paulo
DATES = fund.demo_dates(WEDNESDAY.date())  # the demo's business days on that day


def planned_daily_pnl(paths: dict[str, np.ndarray], plan: list[fund.DemoTrade]) -> np.ndarray:
    """The daily P&L (BRL) of holding the planned book through the simulated closes and FX:
    a trade's quantity is held from its day's close (the trade price), fees aside."""
    days = len(paths["USDBRL"])
    fx = fund.fx_paths(paths)
    held: dict[str, np.ndarray] = {}
    for trade in plan:
        held.setdefault(trade.symbol, np.zeros(days))[trade.day_index :] += float(trade.quantity)
    pnl = np.zeros(days - 1)
    for spec in fund.INSTRUMENTS:
        if spec.symbol not in held:
            continue
        quantity, quote = held[spec.symbol][:-1], paths[spec.symbol]
        x_rate = np.ones(days) if spec.currency == "BRL" else fx[spec.currency]
        if spec.quote_type == "yield":  # a long position gains when the yield falls
            pnl -= quantity * float(spec.dv01) * np.diff(quote) * 100 * x_rate[1:]
        else:
            pnl += quantity * np.diff(quote * float(spec.multiplier) * x_rate)
    return pnl


@pytest.mark.parametrize("positions", [1, 40, 1000, 10000])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_planned_book_loses_a_small_part_of_the_capital_on_its_worst_day(positions, seed):
    """Without the database: the book the demo plans, through its simulated markets, on
    the capital it gets (1,000 positions at full size lost 10–12% on their worst day)."""
    paths = fund.simulate_markets(len(DATES), seed)
    pnl = planned_daily_pnl(paths, fund.book_plan(paths, positions, seed, DATES))
    capital = float(fund.LAUNCH_CAPITAL * fund.capital_scale(positions))
    assert pnl.min() / capital > WORST_DAY / 2
    assert pnl.std() > 0  # the book holds something


def test_a_larger_book_spreads_the_same_risk_over_smaller_positions():
    assert [fund.position_scale(n) for n in (1, 40, 80, 1000)] == [1, 1, 0.5, 0.04]
    assert [fund.capital_scale(n) for n in (1, 5000, 5001, 20000)] == [1, 1, 2, 4]
    paths = fund.simulate_markets(len(DATES), 7)
    by_size = [
        planned_daily_pnl(paths, fund.book_plan(paths, n, 7, DATES)).std() for n in (40, 1000)
    ]
    assert 0.2 < by_size[1] / by_size[0] < 2


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_the_demo_loads_a_plausible_fund(db, seed):
    with time_machine.travel(WEDNESDAY, tick=True):
        call_command("load_demo", positions=12, seed=seed, password=PASSWORD, stdout=StringIO())
    returns = [float(r) for r in PortfolioSnapshot.objects.values_list("daily_return", flat=True)]
    assert len(returns) > 450 and min(returns) > WORST_DAY and max(returns) < -WORST_DAY
    booked = [
        *Price.objects.values_list("date", flat=True).distinct(),
        *FxRate.objects.values_list("date", flat=True).distinct(),
        *Trade.objects.values_list("trade_date", flat=True).distinct(),
        *CapitalFlow.objects.values_list("date", flat=True),
    ]
    assert all(is_business_day(day) for day in booked)
    # The limits are sized for the book: at the last close none is breached and at most
    # one (the 99% VaR's, the tightest) warns; over the year breaches are rare.
    latest = RiskSnapshot.objects.latest("date")
    assert latest.date == WEDNESDAY.date()
    statuses = Counter(row["status"] for row in latest.limits)
    assert len(latest.limits) == len(fund.RISK_LIMITS)
    assert statuses["breach"] == 0 and statuses["ok"] >= len(latest.limits) - 1, statuses
    year = Counter(row["status"] for s in RiskSnapshot.objects.all() for row in s.limits)
    assert year["breach"] < 0.05 * sum(year.values()), year


def test_the_demo_curve_is_dated_di1_and_a_matured_contract_is_rolled():
    """Without the database: the DI1 contracts mature on the first national business day of
    January; DI1F26 matures inside the history (2026-01-02), is traded only before it, and
    each of its positions is rolled into DI1F27 three business days before, the same
    quantity closed and opened the same day."""
    di1 = {spec.symbol: spec for spec in fund.INSTRUMENTS if spec.root == "DI1"}
    assert {s: spec.maturity for s, spec in di1.items()} == {
        "DI1F26": dt.date(2026, 1, 2),
        "DI1F27": dt.date(2027, 1, 4),  # Jan 1 a holiday, the 2nd and 3rd a weekend
        "DI1F28": dt.date(2028, 1, 3),
        "DI1F29": dt.date(2029, 1, 2),
        "DI1F31": dt.date(2031, 1, 2),
        "DI1F33": dt.date(2033, 1, 3),
    }
    assert all(spec.pricing == "di1" and spec.places == 3 for spec in di1.values())
    assert [spec.symbol for spec in fund.INSTRUMENTS if not spec.trades_on(DATES[-1])] == ["DI1F26"]
    paths = fund.simulate_markets(len(DATES), 7)
    for symbol, spec in di1.items():  # the curve moves every day and keeps near its level
        assert np.abs(paths[symbol] - spec.start).max() < 2.5 and np.diff(paths[symbol]).all()
    plan = fund.book_plan(paths, 40, 7, DATES)
    old = [t for t in plan if t.symbol == "DI1F26"]
    roll = DATES.index(dt.date(2026, 1, 2)) - fund.ROLL_DAYS_BEFORE
    assert len(old) == 2 and old[0].day_index < roll == old[1].day_index
    assert old[0].quantity == -old[1].quantity
    into = [t for t in plan if t.symbol == "DI1F27" and t.day_index == roll]
    assert [(t.strategy, t.quantity) for t in into] == [(old[0].strategy, old[0].quantity)]
