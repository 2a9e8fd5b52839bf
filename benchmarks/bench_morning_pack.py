"""The morning pack of a 1,000-position book (100 instruments × 10 strategies) with two
years of history: prices, daily snapshots, a year of risk snapshots, the CDI, 200 pending
proposals. Run through benchmarks/run.sh."""

import datetime as dt
import time
from decimal import Decimal
from functools import partial

import numpy as np
from bench_risk import POSITIONS, WINDOW, load_book, load_market
from common import timed
from django.db import connection

from briefing import services
from core.calendar import business_days_ending
from portfolio import services as book_services
from portfolio.models import BenchmarkRate, Strategy
from risk import services as risk_services
from risk.engine import BASEL_DAYS
from risk.models import RiskSnapshot
from trading import services as trading_services
from trading.models import Signal

END = dt.date(2024, 12, 27)
HISTORY = 500  # business days, about two years
INSTRUMENTS = 100


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    days = business_days_ending(END, HISTORY)
    print(f"loading {INSTRUMENTS} instruments × {HISTORY} days, {POSITIONS:,} positions …")
    instruments = load_market(INSTRUMENTS, as_of=END, n_days=HISTORY)
    load_book(instruments, strategies=10, as_of=days[0])
    book_services.capital_flow_create(date=days[0], amount=Decimal("1e9"), actor="bench")
    book_services.mark_to_market(as_of=END, actor="bench")
    started = time.perf_counter()
    book_services.snapshots_build(start=days[0], end=END, actor="bench")
    print(f"  {HISTORY} days of snapshots built in {time.perf_counter() - started:.0f} s")
    taken = risk_services.risk_snapshot_take(actor="bench", window=WINDOW)
    # The year of risk snapshots the backtest line reads (their VaR as the close's), and
    # the CDI of every day: a pack with nothing unavailable.
    RiskSnapshot.objects.bulk_create(
        RiskSnapshot(
            date=day,
            nav=taken.nav,
            window=WINDOW,
            var_95=taken.var_95,
            var_99=taken.var_99,
            exposures={},
            dv01_by_currency={},
            limits=[],
        )
        for day in days[-BASEL_DAYS - 1 : -1]
    )
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=day, rate=Decimal("0.00045")) for day in days
    )
    Strategy.objects.update(risk_budget=Decimal("1000000"), min_trade_fraction=Decimal("0.05"))
    rng = np.random.default_rng(4)
    Signal.objects.bulk_create(
        Signal(instrument=i, strategy=s, date=END, score=Decimal(f"{rng.uniform(-1, 1):.3f}"))
        for s in Strategy.objects.filter(code__in=["S00", "S01"])
        for i in instruments
    )
    trading_services.proposal_generate(date=END, actor="bench")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    pack_date = dt.date(2024, 12, 30)
    seconds = timed(partial(services.morning_pack_generate, date=pack_date, actor="bench"), 5)
    pack = services.morning_pack_generate(date=pack_date, actor="bench")
    sections = pack.sections
    assert sections["data_quality"]["issues"] == [], sections["data_quality"]["issues"]
    print(
        f"morning pack {pack.date} (close of {pack.data_date}), {POSITIONS:,} positions, "
        f"{HISTORY} days of history, {len(sections['proposals'])} proposals, VaR drivers and "
        f"a {sections['risk']['backtest']['observations']}-day backtest: "
        f"{seconds * 1000:7.1f} ms (median of 5)"
    )


if __name__ == "__main__":
    main()
