"""Snapshots and attribution from the database: a year of daily snapshots of 1,000
positions (100 instruments × 10 strategies), the backfill of one day, and YTD attribution
over ~250 business days. Run through benchmarks/run.sh."""

import datetime as dt
import time
from decimal import Decimal
from functools import partial

from bench_risk import POSITIONS, load_book, load_market
from common import timed
from django.db import connection

from attribution import selectors
from core.calendar import business_days
from portfolio import services as book_services
from portfolio.models import PortfolioSnapshot, PositionSnapshot

YEAR_END = dt.date(2024, 12, 27)  # a Friday; the ~250 business days of 2024 before it
INSTRUMENTS = 100


def ytd(by: str) -> selectors.AttributionReport:
    return selectors.attribution_report(selectors.period_resolve("ytd"), by)


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"loading {INSTRUMENTS} instruments, {POSITIONS:,} positions …", flush=True)
    instruments = load_market(INSTRUMENTS, as_of=YEAR_END)
    first = business_days(dt.date(2024, 1, 1), dt.date(2024, 1, 10))[0]
    load_book(instruments, strategies=10, as_of=first)
    book_services.capital_flow_create(date=first, amount=Decimal("1e9"), actor="bench")

    started = time.perf_counter()
    built = book_services.snapshots_build(start=first, end=YEAR_END, actor="bench")
    seconds = time.perf_counter() - started
    rows = PositionSnapshot.objects.count()
    print(
        f"backfill {first} … {YEAR_END}: {len(built)} days, {rows:,} position snapshots in "
        f"{seconds:.1f} s ({seconds / len(built) * 1000:.0f} ms/day)"
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does after a bulk load
    one_day = timed(
        partial(book_services.snapshots_build, start=YEAR_END, end=YEAR_END, actor="bench"),
        repeat=5,
    )
    print(
        f"backfill of one day ({YEAR_END}), {POSITIONS:,} positions: {one_day * 1000:7.1f} ms "
        "(median of 5)"
    )
    days = PortfolioSnapshot.objects.filter(date__gte=dt.date(2024, 1, 1)).count()
    for by in ("strategy", "instrument", "currency"):
        report = ytd(by)
        assert report.period.start == first, report.period.start
        seconds = timed(partial(ytd, by), repeat=7)
        print(
            f"YTD attribution by {by:<10} over {days} days × {POSITIONS:,} positions "
            f"({len(report.rows)} rows): {seconds * 1000:7.1f} ms (median of 7)"
        )


if __name__ == "__main__":
    main()
