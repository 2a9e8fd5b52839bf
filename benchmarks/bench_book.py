"""Mark-to-market at 1,000 / 10,000 / 100,000 open positions, at 10,000 beside its floor (the
write of the same marks alone), and the book of 1,000 positions: its selector alone, GET
/api/book/ with the cache bypassed (every answer `"cached": false`) and from the cache
(every answer `"cached": true`). Run through benchmarks/run.sh.

With `--di1 N` (`BENCH_DI1=N benchmarks/run.sh book`): instead, mark-to-market of 10,000
positions over 1,000 instruments with linear instruments only beside the same book with N of
its instruments DI1 futures (`common.di1_futures`, a year of closes each; each held by 10
strategies: 2,000 DI1 positions for N = 200), in alternating rounds, and the ratio (issue
37's target: ≤ 1.5×)."""

import datetime as dt
import json
import statistics
import time
from decimal import Decimal

from common import (
    CACHED,
    PASSWORD,
    UNCACHED,
    di1_futures,
    di1_open_positions,
    di1_option,
    time_get,
    timed,
    with_di1,
)
from django.contrib.auth.models import User
from django.db import connection, transaction
from rest_framework.test import APIClient

from core.bulk import bulk_update_rows
from core.calendar import business_days_ending
from pms_site import cache as read_cache
from portfolio import selectors, services
from portfolio.api.serializers import BookSerializer
from portfolio.models import MARK_FIELDS, FxRate, Instrument, Position, Price, Strategy

AS_OF = dt.date(2024, 3, 15)
PREVIOUS = dt.date(2024, 3, 14)
INSTRUMENTS, STRATEGIES = 1000, 100


def setup_reference_data() -> tuple[list[Instrument], list[Strategy]]:
    currencies = ["BRL", "USD", "EUR"]
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"I{n:05d}",
            name=f"Instrument {n}",
            asset_class="rates" if n % 4 == 0 else "equity",
            currency=currencies[n % 3],
            quote_type="yield" if n % 4 == 0 else "price",
            multiplier=Decimal("100000") if n % 4 == 0 else Decimal("50"),
            dv01=Decimal("25") if n % 4 == 0 else Decimal("0"),
        )
        for n in range(INSTRUMENTS)
    )
    strategies = Strategy.objects.bulk_create(
        Strategy(code=f"S{n:03d}", name=f"S{n}") for n in range(STRATEGIES)
    )
    FxRate.objects.bulk_create(
        FxRate(currency=c, date=d, rate=r)
        for c, r in (("USD", Decimal("4.95")), ("EUR", Decimal("5.40")))
        for d in (PREVIOUS, AS_OF)
    )
    Price.objects.bulk_create(
        Price(
            instrument=i,
            date=d,
            price=Decimal("11.25") + Decimal(n % 50) / 100
            if i.quote_type == "yield"
            else Decimal("100") + n % 700 + k,
        )
        for n, i in enumerate(instruments)
        for k, d in enumerate((PREVIOUS, AS_OF))
    )
    return instruments, strategies


def load_positions(n: int, instruments: list[Instrument], strategies: list[Strategy]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE portfolio_position CASCADE")
    Position.objects.bulk_create(
        (
            Position(
                instrument=instruments[k % INSTRUMENTS],
                strategy=strategies[k // INSTRUMENTS],
                quantity=Decimal(10 + k % 90) * (1 if k % 3 else -1),
                avg_cost=Decimal("11.3")
                if instruments[k % INSTRUMENTS].quote_type == "yield"
                else Decimal("101.5"),
                pnl_date=PREVIOUS,
                opened_at=PREVIOUS,
            )
            for k in range(n)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does after a bulk load


WRITE = {"postgresql": "COPY + UPDATE … FROM", "sqlite": "UPDATE … FROM (VALUES …)"}


def write_floor() -> float:
    """One write of the open positions' marks as they stand, alone, in seconds: the
    statement mark-to-market ends with, without reading, locking or computing anything."""
    rows = list(Position.objects.filter(closed_at__isnull=True).values_list("pk", *MARK_FIELDS))
    start = time.perf_counter()
    with transaction.atomic():
        assert bulk_update_rows(Position, MARK_FIELDS, rows) == len(rows)
    return time.perf_counter() - start


def timed_mark() -> tuple[float, float]:
    """One mark, in seconds: the call (it returns once its transaction commits), and until
    the cached book it refreshes after the commit (`pms_site.cache.refresh_book`, on the
    process's worker thread) is stored; it returns once that refresh is done, so that no
    refresh competes with what runs next."""
    start = time.perf_counter()
    services.mark_to_market(as_of=AS_OF, actor="bench")
    call = time.perf_counter() - start
    read_cache.background.wait()
    return call, time.perf_counter() - start


def beside_floor(pairs: int = 7) -> tuple[float, float, float]:
    """Medians of `pairs` marks and of their floors, and of the ratio in each pair: each
    mark is followed by the write of the marks it left, so that a pair runs in the same
    minute of this shared machine, whose speed drifts by half from minute to minute."""
    marks, floors = [], []
    for _ in range(pairs):
        marks.append(timed_mark()[0])
        floors.append(write_floor())
    ratios = [mark / floor for mark, floor in zip(marks, floors, strict=True)]
    return statistics.median(marks), statistics.median(floors), statistics.median(ratios)


def mark_timings(repeat: int = 3) -> tuple[float, float]:
    """Medians of `repeat` marks (`timed_mark`): the call, and until its book is cached."""
    calls, stored = zip(*(timed_mark() for _ in range(repeat)), strict=True)
    answer = json.loads(read_cache.read("book").content)
    assert answer["cached"] is True, "the mark did not leave the book in the cache"
    assert len(answer["positions"]) == Position.objects.count()
    return statistics.median(calls), statistics.median(stored)


def di1_mark_round(instruments: list[Instrument], strategies: list[Strategy]) -> float:
    """The mark of 10,000 positions over `instruments` (median of 3, `mark_timings`), in
    seconds, having checked that it marks every DI1 position among them."""
    load_positions(10_000, instruments, strategies)
    di1 = 10_000 // INSTRUMENTS * sum(i.pricing == "di1" for i in instruments)
    assert di1_open_positions() == di1, (di1_open_positions(), "DI1 positions, expected", di1)
    unkept = Price.objects.filter(instrument__pricing="di1", accrual__isnull=True).count()
    assert not unkept, (unkept, "DI1 closes without the accrual the services keep")
    marked, _ = mark_timings()
    on_di1 = Position.objects.filter(
        closed_at__isnull=True, instrument__pricing="di1", price_date=AS_OF
    ).count()
    assert on_di1 == di1, (on_di1, "DI1 positions marked, expected", di1)
    return marked


def di1_comparison(count: int, rounds: int = 3) -> None:
    """Mark-to-market of 10,000 positions with linear instruments only (today's set-up)
    and with `count` of the 1,000 instruments DI1 futures, in `rounds` alternating rounds:
    the medians, and the median of each round's ratio."""
    linear, strategies = setup_reference_data()
    # A year of closes (and the CDI) each, as a held contract has: the accruals of its
    # settlement PU are computed over them at every mark.
    mixed = with_di1(linear, di1_futures(count, business_days_ending(AS_OF, 261)))
    figures: dict[str, list[float]] = {"linear": [], "di1": []}
    for _ in range(rounds):
        figures["linear"].append(di1_mark_round(linear, strategies))
        figures["di1"].append(di1_mark_round(mixed, strategies))
    ratio = statistics.median(d / b for b, d in zip(figures["linear"], figures["di1"], strict=True))
    print(
        f"mark_to_market 10,000 positions: linear only "
        f"{statistics.median(figures['linear']) * 1000:8.1f} ms, with "
        f"{10_000 // INSTRUMENTS * count:,} DI1 positions ({count} DI1 futures) "
        f"{statistics.median(figures['di1']) * 1000:8.1f} ms: {ratio:4.2f}× (target ≤ 1.5×; "
        f"medians of {rounds} rounds, each the median of 3 marks)"
    )


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    instruments, strategies = setup_reference_data()
    for n, target in ((1_000, None), (10_000, 0.3), (100_000, 3.0)):
        load_positions(n, instruments, strategies)
        marked, refreshed = mark_timings()
        aim = f" (target ≤ {target:g} s)" if target else ""
        print(
            f"mark_to_market {n:>7,} positions: {marked * 1000:8.1f} ms (median of 3){aim}; "
            f"until the book it refreshes is in the cache: {refreshed * 1000:8.1f} ms"
        )
        if n == 10_000:
            marked, floor, ratio = beside_floor()
            print(
                f"mark_to_market 10,000 positions {marked * 1000:8.1f} ms beside its floor, "
                f"the write of the same marks alone ({WRITE[connection.vendor]}) "
                f"{floor * 1000:8.1f} ms: {ratio:4.2f}× (target ≤ 2×; medians of 7 pairs, "
                f"each a mark then its floor)"
            )

    load_positions(1_000, instruments, strategies)
    services.mark_to_market(as_of=AS_OF, actor="bench")
    user = User.objects.create_superuser("bench", password=PASSWORD)
    client = APIClient()
    client.force_authenticate(user)
    computed = timed(lambda: BookSerializer(selectors.live_book()).data, repeat=7)
    print(
        f"portfolio.selectors.live_book() and its serializer, 1,000 positions (the "
        f"computation alone): "
        f"{computed * 1000:6.1f} ms (median of 7)"
    )
    uncached = time_get(client, "/api/book/", 30, cached=False)
    cached = time_get(client, "/api/book/", 30, cached=True)
    for label, timings in ((UNCACHED, uncached), (CACHED, cached)):
        assert len(timings.answer["positions"]) == 1000
        print(
            f"GET /api/book/ 1,000 positions ({label}): p50 {timings.p50_ms:6.1f} ms, "
            f"max {timings.max_ms:6.1f} ms over 30 requests"
        )
    print(f"GET /api/book/ p50 uncached / cached: {uncached.p50_ms / cached.p50_ms:5.1f}×")


if __name__ == "__main__":
    if count := di1_option():
        print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        di1_comparison(count)
    else:
        main()
