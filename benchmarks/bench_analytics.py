"""Risk analytics from the database: the decomposition of 1,000 positions over a 250-day
window (the book, its market history, the engine) by position, strategy, asset class and
currency, on 1,000 distinct instruments and on 100 instruments across 10 strategies; the
VaR backtest over 500 stored risk snapshots; the performance statistics by strategy over
two years. Run through benchmarks/run.sh."""

from decimal import Decimal
from functools import partial

import numpy as np
from bench_risk import AS_OF, POSITIONS, WINDOW, load_book, load_market
from common import timed
from django.db import connection

from attribution import selectors as attribution
from core.calendar import business_days_ending
from portfolio.models import (
    BenchmarkRate,
    CapitalFlow,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
)
from risk import selectors
from risk.models import RiskSnapshot
from risk.selectors.decomposition import BY


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print("loading 1,000 instruments × 261 business days of prices …", flush=True)
    instruments = load_market()
    for strategies in (1, 10):
        load_book(instruments, strategies)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        held = POSITIONS // strategies
        live = timed(partial(selectors.live_risk, window=WINDOW), repeat=7)
        print(
            f"live risk (for comparison), {held:,} instruments: {live * 1000:7.1f} ms (median of 7)"
        )
        for by in BY:
            answer = selectors.decomposition(by=by, window=WINDOW)
            total = sum((row.component_var for row in answer.rows), Decimal(0))
            assert total == answer.var, (by, total, answer.var)
            assert answer.window_used == WINDOW
            seconds = timed(partial(selectors.decomposition, by=by, window=WINDOW), repeat=7)
            print(
                f"decomposition by {by:<11}, {POSITIONS:,} positions on {held:,} instruments × "
                f"{WINDOW} days, {len(answer.rows):>5} rows adding up to VaR 99% "
                f"{answer.var}: {seconds * 1000:7.1f} ms (median of 7)"
            )

    bench_backtest()
    bench_performance()


def bench_backtest(snapshots: int = 500) -> None:
    days = business_days_ending(AS_OF, snapshots + 1)
    RiskSnapshot.objects.all().delete()
    PortfolioSnapshot.objects.filter(date__gte=days[0]).delete()
    rng = np.random.default_rng(7)
    pnl = rng.normal(0, 1_000_000, len(days)).round(2)
    RiskSnapshot.objects.bulk_create(
        RiskSnapshot(
            date=day,
            nav=Decimal("1e9"),
            window=WINDOW,
            var_95=Decimal("1645000.00"),
            var_99=Decimal("2326000.00"),
            exposures={},
            dv01_by_currency={},
            limits=[],
        )
        for day in days[:-1]
    )
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            date=day,
            nav=Decimal("1e9"),
            pnl=Decimal(f"{p:.2f}"),
            flow=0,
            daily_return=0,
            gross_exposure=0,
            net_exposure=0,
            positions=0,
        )
        for day, p in zip(days, pnl, strict=True)
    )
    answer = selectors.backtest()
    assert answer.observations == snapshots, answer.observations
    seconds = timed(selectors.backtest, repeat=7)
    print(
        f"backtest over {snapshots} risk snapshots (99%): {answer.exceptions} exceptions, "
        f"{answer.traffic_light}: {seconds * 1000:7.1f} ms (median of 7)"
    )


def bench_performance(n_days: int = 500) -> None:
    """Statistics of the fund and of each of 10 strategies over two years (500 business
    days) of snapshots of the 1,000 positions: 500,000 position snapshots, written by COPY."""
    days = business_days_ending(AS_OF, n_days)
    PortfolioSnapshot.objects.all().delete()
    PositionSnapshot.objects.all().delete()
    CapitalFlow.objects.all().delete()
    CapitalFlow.objects.create(date=days[0], amount=Decimal("1e9"))
    positions = list(Position.objects.values_list("id", "instrument_id", "strategy_id"))
    rng = np.random.default_rng(11)
    cents = rng.normal(0, 10_000_00, (len(positions), n_days)).round().astype(np.int64)
    fund = cents.sum(axis=0)
    BenchmarkRate.objects.all().delete()
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=day, rate=Decimal("0.00045")) for day in days
    )
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            date=day,
            nav=Decimal(int(1e11) + int(total)) / 100,
            pnl=Decimal(int(pnl)) / 100,
            flow=Decimal("1e9") if t == 0 else 0,
            daily_return=0,
            gross_exposure=0,
            net_exposure=0,
            positions=len(positions),
        )
        for t, (day, pnl, total) in enumerate(zip(days, fund, np.cumsum(fund), strict=True))
    )
    columns = (
        "date, instrument_id, strategy_id, position_id, quantity, avg_cost, price, fx_rate, "
        "notional_base, market_value_base, unrealized_pnl_base, realized_pnl_base, "
        "daily_pnl_base, dv01_base, cost_base, fx_pnl_base, daily_fx_pnl_base"
    )
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(
            f"COPY {PositionSnapshot._meta.db_table} ({columns}) FROM STDIN"
        ) as copy:
            for k, (position, instrument, strategy) in enumerate(positions):
                for t, day in enumerate(days):
                    pnl = Decimal(int(cents[k, t])) / 100
                    row = (day, instrument, strategy, position, 1, 100, 100, 1, 0, 0, 0, 0)
                    copy.write_row((*row, pnl, 0, 0, 0, 0))
        cursor.execute("ANALYZE")
    rows = PositionSnapshot.objects.count()
    answer = attribution.performance()
    assert answer.days == n_days and len(answer.by_strategy) == 10, answer.days
    assert answer.benchmark_unavailable is None
    seconds = timed(attribution.performance, repeat=7)
    print(
        f"performance statistics, the fund and {len(answer.by_strategy)} strategies over "
        f"{n_days} days ({rows:,} position snapshots): {seconds * 1000:7.1f} ms (median of 7)"
    )


if __name__ == "__main__":
    main()
