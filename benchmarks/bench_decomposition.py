"""Risk decomposition of 1,000 positions over a 250-day window, from the database (the
book, its market history, the engine): by position, strategy, asset class and currency,
on 1,000 distinct instruments and on 100 instruments across 10 strategies. Run through
benchmarks/run.sh."""

from decimal import Decimal
from functools import partial

from bench_risk import POSITIONS, WINDOW, load_book, load_market
from common import timed
from django.db import connection

from risk import selectors
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
            total = sum(Decimal(row["component_var"]) for row in answer["rows"])
            assert total == Decimal(answer["var"]), (by, total, answer["var"])
            assert answer["window_used"] == WINDOW
            seconds = timed(partial(selectors.decomposition, by=by, window=WINDOW), repeat=7)
            print(
                f"decomposition by {by:<11}, {POSITIONS:,} positions on {held:,} instruments × "
                f"{WINDOW} days, {len(answer['rows']):>5} rows adding up to VaR 99% "
                f"{answer['var']}: {seconds * 1000:7.1f} ms (median of 7)"
            )


if __name__ == "__main__":
    main()
