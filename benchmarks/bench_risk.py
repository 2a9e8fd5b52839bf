"""Live risk end to end from the database, 1,000 positions and a 250-day window (on 1,000
distinct instruments, and on 100 instruments held by 10 strategies); GET /api/risk/live/ on
the latter with the cache bypassed (every answer `"cached": false`) and from the cache
(every answer `"cached": true`); and the engine alone (10,000 positions × 500 days). Run
through benchmarks/run.sh.

With `--di1 N` (`BENCH_DI1=N benchmarks/run.sh risk`): instead, live risk on the 1,000
positions over 1,000 instruments with linear instruments only beside the same book with N
of its instruments DI1 futures (`common.di1_futures`), in alternating rounds, and the
ratio (issue 37's target: ≤ 2×)."""

import datetime as dt
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import numpy as np
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
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.calendar import business_days_ending
from pms_site import cache as read_cache
from portfolio import services
from portfolio.models import FxRate, Instrument, Position, Price, Strategy
from risk import engine, selectors
from risk.models import RiskLimit
from risk.selectors import BookArrays, MarketHistory

AS_OF = dt.date(2024, 3, 15)
POSITIONS, WINDOW = 1_000, 250


def load_market(
    n_instruments: int = POSITIONS, as_of: dt.date = AS_OF, n_days: int = WINDOW + 11
) -> list[Instrument]:
    """Instruments (a quarter yield-quoted; BRL, USD, EUR), quoted on every business day
    of the window and a few more, the USD and EUR rates, 10 strategies, 3 limits."""
    rng = np.random.default_rng(1)
    days = business_days_ending(as_of, n_days)
    currencies = ["BRL", "USD", "EUR"]
    instruments = Instrument.objects.bulk_create(
        Instrument(
            symbol=f"I{n:05d}",
            name=f"Instrument {n}",
            asset_class=["rates", "equity", "fx", "commodity"][n % 4],
            currency=currencies[n % 3],
            quote_type="yield" if n % 4 == 0 else "price",
            multiplier=Decimal("100000") if n % 4 == 0 else Decimal("50"),
            dv01=Decimal("25") if n % 4 == 0 else Decimal("0"),
        )
        for n in range(n_instruments)
    )
    paths = np.cumsum(rng.normal(0, 0.01, (len(days), n_instruments)), axis=0)
    Price.objects.bulk_create(
        (
            Price(
                instrument=instrument,
                date=day,
                price=Decimal(f"{10.5 + paths[k, n] * 10:.4f}")
                if instrument.quote_type == "yield"
                else Decimal(f"{100 * np.exp(paths[k, n]):.4f}"),
            )
            for n, instrument in enumerate(instruments)
            for k, day in enumerate(days)
        ),
        batch_size=10_000,
    )
    FxRate.objects.bulk_create(
        FxRate(currency=c, date=day, rate=Decimal(f"{base * (1 + 0.001 * (k % 7)):.6f}"))
        for c, base in (("USD", 5.0), ("EUR", 5.4))
        for k, day in enumerate(days)
    )
    Strategy.objects.bulk_create(Strategy(code=f"S{n:02d}", name=f"S{n}") for n in range(10))
    RiskLimit.objects.bulk_create(
        [
            RiskLimit(name="VaR 99", metric="var_99", limit=Decimal("1e7")),
            RiskLimit(name="Gross", metric="gross_leverage", limit=Decimal("5")),
            RiskLimit(
                name="S01 VaR",
                metric="var_95",
                scope_type="strategy",
                scope_value="S01",
                limit=Decimal("1e6"),
            ),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does after a bulk load
    return instruments


def load_book(
    instruments: list[Instrument],
    strategies: int,
    as_of: dt.date = AS_OF,
    positions: int = POSITIONS,
) -> None:
    """`positions` positions (1,000): `strategies` strategies each holding the same
    positions/`strategies` instruments. Replaces the previous book."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE attribution_positionsnapshot, trading_tradeproposal, portfolio_trade, "
            "portfolio_position, "
            "portfolio_auditrecord"
        )
    held = positions // strategies
    # A DI1 is booked at its close (a rate of 100% is no DI1 trade).
    closes = dict(
        Price.objects.filter(
            date=as_of, instrument__in=[i for i in instruments[:held] if i.pricing == "di1"]
        ).values_list("instrument__symbol", "price")
    )
    services.trades_book(
        requests=[
            services.TradeRequest(
                instrument=instruments[n % held].symbol,
                strategy=f"S{n // held:02d}",
                quantity=Decimal((n % 50 + 1) * (1 if n % 3 else -1)),
                price=closes.get(instruments[n % held].symbol, Decimal("100")),
                trade_date=as_of,
                confirm=True,  # booked at 100, whatever the market
            )
            for n in range(positions)
        ],
        actor="bench",
        source="api",
    )
    services.mark_to_market(as_of=as_of, actor="bench")


def bench_engine(n_positions: int = 10_000, days: int = 500) -> float:
    rng = np.random.default_rng(2)
    is_yield = np.arange(n_positions) % 4 == 0
    levels = np.where(
        is_yield,
        10.5 + np.cumsum(rng.normal(0, 0.05, (days + 1, n_positions)), axis=0),
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, (days + 1, n_positions)), axis=0)),
    )
    notional = rng.normal(0, 1e6, n_positions)
    dv01 = np.where(is_yield, rng.normal(0, 1e3, n_positions), 0.0)
    column = np.arange(n_positions)
    labels = np.array(["BRL", "USD", "EUR"])[column % 3]
    cents = (notional * 100).astype(np.int64)

    def run() -> None:
        moves = engine.instrument_moves(levels, is_yield)
        exposure = engine.position_exposure(notional, dv01, is_yield)
        pnl = engine.scenario_pnl(moves, engine.column_exposure(column, exposure, n_positions))
        for method in engine.METHODS:
            engine.var_es(pnl, method, (0.95, 0.99))
        engine.exposures(
            cents,
            (dv01 * 100).astype(np.int64),
            asset_class=labels,
            currency=labels,
            strategy=labels,
        )

    return timed(run, repeat=7)


def quote_queries(fn: Callable[[], object]) -> int:
    """How many queries of the prices and FX rates one call of `fn` makes."""
    with CaptureQueriesContext(connection) as queries:
        fn()
    return sum("portfolio_price" in q["sql"] or "portfolio_fxrate" in q["sql"] for q in queries)


def rebuilt(fn: Callable[[], object], repeat: int = 7) -> float:
    """Median time of `fn` with the market matrices made stale before each call (a price
    written), so that each call reads the quotes again."""
    times = []
    for _ in range(repeat):
        read_cache.invalidate({"market"})
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def engine_on_the_matrix() -> Callable[[], object]:
    """The floor of a live risk read: the live book's VaR and ES from its market matrix as
    the cache holds it (one read of its bytes), nothing else read or reported."""
    book = BookArrays.load()
    dates = business_days_ending(book.state.as_of, WINDOW + 1)
    history = MarketHistory(book, dates[0], dates[-1])

    def run() -> object:
        levels, complete = history.levels(dates)
        levels[:, ~complete] = 1.0
        moves = engine.instrument_moves(levels, book.column_is_yield)
        by_column = engine.column_exposure(book.column, book.exposure, len(book.instrument_ids))
        return engine.var_es(engine.scenario_pnl(moves, by_column), "historical", (0.95, 0.99))

    return run


def di1_round(instruments: list[Instrument], client: APIClient) -> tuple[float, float, float]:
    """On a book of 1,000 positions over `instruments`, one strategy: live risk (historical)
    with its market matrix cached (median of 7), with the matrix rebuilt (median of 5), and
    GET /api/risk/live/ with the cache bypassed (p50 of 7), in seconds."""
    load_book(instruments, 1)
    di1 = sum(i.pricing == "di1" for i in instruments)
    assert Position.objects.filter(closed_at__isnull=True).count() == POSITIONS
    assert di1_open_positions() == di1, (di1_open_positions(), "DI1 positions, expected", di1)
    read = partial(selectors.live_risk, window=WINDOW, method="historical")
    report = read()
    assert report.missing_history == [], report.missing_history
    assert report.var[0.99] is not None, report.var_unavailable
    book = BookArrays.load()  # what the live risk values: the DI1 futures among its columns
    assert len(book.column) == POSITIONS, len(book.column)
    valued = Instrument.objects.filter(pk__in=book.instrument_ids, pricing="di1").count()
    assert valued == di1, (valued, "DI1 futures valued, expected", di1)
    assert quote_queries(read) == 0, "the market matrix is not remembered"
    cold = timed(read, repeat=7)
    fresh = rebuilt(read, repeat=5)
    get = time_get(client, f"/api/risk/live/?window={WINDOW}", 7, cached=False)
    assert get.answer["window"] == WINDOW, get.answer["window"]
    return cold, fresh, get.p50_ms / 1000


def di1_comparison(count: int, rounds: int = 3) -> None:
    """Live risk with linear instruments only (today's set-up) and with `count` of the
    1,000 instruments DI1 futures, in `rounds` alternating rounds (this shared machine's
    speed drifts from minute to minute): the medians, and the median of each round's ratio."""
    print(f"loading 1,000 instruments and {count} DI1 futures × 261 business days …", flush=True)
    linear = load_market()
    mixed = with_di1(linear, di1_futures(count, business_days_ending(AS_OF, WINDOW + 11)))
    user = User.objects.create_superuser("bench", password=PASSWORD)
    client = APIClient()
    client.force_authenticate(user)
    figures: dict[str, list[tuple[float, float, float]]] = {"linear": [], "di1": []}
    for _ in range(rounds):
        figures["linear"].append(di1_round(linear, client))
        figures["di1"].append(di1_round(mixed, client))
    labels = ("matrix cached", "matrix rebuilt", "GET uncached p50")
    for k, label in enumerate(labels):
        base = statistics.median(f[k] for f in figures["linear"])
        with_futures = statistics.median(f[k] for f in figures["di1"])
        ratio = statistics.median(
            d[k] / b[k] for b, d in zip(figures["linear"], figures["di1"], strict=True)
        )
        print(
            f"live risk, {POSITIONS:,} positions on 1,000 instruments × {WINDOW}-day window, "
            f"historical, {label}: linear only {base * 1000:7.1f} ms, with {count} DI1 "
            f"{with_futures * 1000:7.1f} ms: {ratio:4.2f}× (target ≤ 2×; medians of "
            f"{rounds} rounds)"
        )


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print("loading 1,000 instruments × 261 business days of prices …", flush=True)
    instruments = load_market()
    for strategies in (1, 10):
        load_book(instruments, strategies)
        assert Position.objects.filter(closed_at__isnull=True).count() == POSITIONS
        report = selectors.live_risk(window=WINDOW)
        assert report.missing_history == [], report.missing_history
        held = POSITIONS // strategies
        for method in engine.METHODS:
            read = partial(selectors.live_risk, window=WINDOW, method=method)
            read()
            assert quote_queries(read) == 0, "the market matrix is not remembered"
            seconds = timed(read, repeat=7)
            print(
                f"live risk, {POSITIONS:,} positions on {held:,} instruments × {WINDOW}-day "
                f"window, {method:<10}: {seconds * 1000:7.1f} ms cold, matrix cached "
                f"(median of 7)"
            )
        read = partial(selectors.live_risk, window=WINDOW, method="historical")
        read_cache.invalidate({"market"})
        assert quote_queries(read) >= 2, "the market matrix was not rebuilt"
        print(
            f"live risk, {POSITIONS:,} positions on {held:,} instruments × {WINDOW}-day "
            f"window, historical: {rebuilt(read) * 1000:7.1f} ms with the matrix rebuilt "
            f"(median of 7)"
        )
        if strategies == 1:
            floor = engine_on_the_matrix()
            floor()
            with CaptureQueriesContext(connection) as queries:
                floor()
            assert len(queries) == 0, "the floor read the database"
            floor_s = timed(floor, repeat=15)
            cold_s = timed(read, repeat=15)
            print(
                f"live risk cold (matrix cached) {cold_s * 1000:7.1f} ms beside its floor, the "
                f"engine on the cached matrix (VaR/ES only) {floor_s * 1000:7.1f} ms: "
                f"{cold_s / floor_s:4.1f}× (medians of 15)"
            )
    # The last book loaded (`held` instruments); the endpoint's default method, historical.
    user = User.objects.create_superuser("bench", password=PASSWORD)
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/risk/live/?window={WINDOW}"
    # The computation the uncached GET runs, timed next to it (the figures above are older).
    computed = timed(partial(selectors.live_risk, window=WINDOW, method="historical"), 15)
    print(
        f"live risk alone (the uncached GET's computation), {held:,} instruments, historical: "
        f"{computed * 1000:7.1f} ms (median of 15)"
    )
    uncached = time_get(client, url, 15, cached=False)
    cached = time_get(client, url, 15, cached=True)
    for label, timings in ((UNCACHED, uncached), (CACHED, cached)):
        assert timings.answer["window"] == WINDOW, timings.answer["window"]
        print(
            f"GET {url} ({label}), {held:,} instruments: p50 {timings.p50_ms:7.1f} ms, "
            f"max {timings.max_ms:7.1f} ms over 15 requests"
        )
    print(
        f"GET {url} p50 uncached / cached: {uncached.p50_ms / cached.p50_ms:5.1f}×; "
        f"uncached p50 / live risk alone: {uncached.p50_ms / (computed * 1000):4.2f}×"
    )
    print(
        f"engine alone, 10,000 positions × 500 days (moves, S, VaR/ES by 3 methods, "
        f"exposures): {bench_engine() * 1000:6.1f} ms (median of 7)"
    )


if __name__ == "__main__":
    if count := di1_option():
        print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        di1_comparison(count)
    else:
        main()
