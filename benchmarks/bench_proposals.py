"""Proposal generation, what-if included: 200 signals over a 1,000-position book (100
instruments held by 10 strategies, 250-day risk window, 11 limits). Run through
benchmarks/run.sh."""

import statistics
import time
from decimal import Decimal

import numpy as np
from bench_risk import AS_OF, POSITIONS, WINDOW, load_book, load_market
from django.db import connection

from portfolio.models import Position, Strategy
from portfolio.services import capital_flow_create
from risk.models import RiskLimit
from trading import services
from trading.models import Signal, TradeProposal

INSTRUMENTS, SIGNALS = 100, 200

MORE_LIMITS = [
    ("VaR 95", "var_95", "", "", "8e6"),
    ("ES 99", "es_99", "", "", "2e7"),
    ("Net", "net_leverage", "", "", "2"),
    ("Largest", "concentration", "", "", "0.5"),
    ("Rates gross", "asset_class_gross", "asset_class", "rates", "1e9"),
    ("S00 DV01", "dv01", "strategy", "S00", "1e6"),
    ("Daily loss", "daily_loss", "", "", "5e6"),
    ("Drawdown", "drawdown", "", "", "0.1"),
]


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"loading {INSTRUMENTS} instruments, {POSITIONS:,} positions …", flush=True)
    instruments = load_market(INSTRUMENTS)
    load_book(instruments, strategies=10)
    capital_flow_create(date=AS_OF, amount=Decimal("1e9"), actor="bench")  # the inception
    assert Position.objects.filter(closed_at__isnull=True).count() == POSITIONS
    Strategy.objects.update(risk_budget=Decimal("1000000"), min_trade_fraction=Decimal("0.05"))
    RiskLimit.objects.bulk_create(
        RiskLimit(name=n, metric=m, scope_type=t, scope_value=v, limit=Decimal(lim))
        for n, m, t, v, lim in MORE_LIMITS
    )
    rng = np.random.default_rng(3)
    Signal.objects.bulk_create(
        Signal(
            instrument=instrument,
            strategy=strategy,
            date=AS_OF,
            score=Decimal(f"{rng.uniform(-1, 1):.4f}"),
        )
        for strategy in Strategy.objects.filter(code__in=["S00", "S01"])
        for instrument in instruments
    )
    assert Signal.objects.count() == SIGNALS
    times = []
    for _ in range(5):
        with connection.cursor() as cursor:  # a fresh day each time (not timed)
            cursor.execute("TRUNCATE trading_tradeproposal")
        start = time.perf_counter()
        result = services.proposal_generate(date=AS_OF, actor="bench")
        times.append(time.perf_counter() - start)
    assert TradeProposal.objects.count() == len(result.created)
    print(
        f"proposal_generate: {SIGNALS} signals over {POSITIONS:,} positions, what-if with "
        f"{RiskLimit.objects.count()} limits over a {WINDOW}-day window: "
        f"{statistics.median(times) * 1000:7.1f} ms (median of 5; min {min(times) * 1000:.1f}, "
        f"max {max(times) * 1000:.1f}); {len(result.created)} proposals, "
        f"{len(result.skipped)} signals with no trade"
    )


if __name__ == "__main__":
    main()
