"""The end-of-day pipeline on 10,000 positions (1,000 instruments × 10 strategies), with
four weeks of snapshots before it, the fund's terms (2% management, 20% over the CDI) and
the CDI of every day, on PostgreSQL + Redis: each step's time for today's
run; then the same pipeline for a past date (computed from the timeline, the live book
left as it is: asserted), and a missed week of five business days caught up in order.
Run through benchmarks/run.sh."""

import datetime as dt
import time
from decimal import Decimal

from bench_risk import AS_OF, load_market
from django.conf import settings
from django.db import connection

from core.calendar import business_days_ending
from ops import pipelines
from portfolio import services
from portfolio.models import (
    BenchmarkRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Strategy,
)
from portfolio.services import snapshots_build
from risk.models import RiskSnapshot

STRATEGIES, HISTORY = 10, 20


def quiet(step: str, message: str) -> None:
    """The runs' step summaries are printed from their records below."""


def book_every_instrument(
    instruments: list[Instrument], strategies: int, day: dt.date, *, capital: Decimal
) -> None:
    """Each of `strategies` new strategies (X000, X001, …) holds every instrument, long or
    short; the fund's capital flows in the same day."""
    Strategy.objects.bulk_create(
        Strategy(code=f"X{n:03d}", name=f"X{n}", risk_budget=Decimal("1e6"))
        for n in range(strategies)
    )
    services.trades_book(
        requests=[
            services.TradeRequest(
                instrument=instrument.symbol,
                strategy=f"X{s:03d}",
                quantity=Decimal((n % 40 + 1) * (1 if (n + s) % 3 else -1)),
                price=Decimal("100"),
                trade_date=day,
                confirm=True,  # booked at 100, whatever the market
            )
            for s in range(strategies)
            for n, instrument in enumerate(instruments)
        ],
        actor="bench",
        source="api",
    )
    services.capital_flow_create(date=day, amount=capital, actor="bench")


def fund_terms_and_cdi(days: list[dt.date]) -> None:
    """The demo's terms from the first day, and a CDI of 0.05% a day on every day."""
    services.fund_terms_change(
        effective_from=days[0],
        actor="bench",
        management_fee=Decimal("0.02"),
        performance_fee=Decimal("0.20"),
    )
    BenchmarkRate.objects.bulk_create(
        BenchmarkRate(date=day, rate=Decimal("0.0005")) for day in days
    )


def main() -> None:
    backend = settings.CACHES["default"]["BACKEND"]
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; cache: {backend}")
    print("loading 1,000 instruments × 261 days and 10,000 positions …", flush=True)
    instruments = load_market()
    days = business_days_ending(AS_OF, HISTORY + 1)
    fund_terms_and_cdi(days)
    book_every_instrument(instruments, STRATEGIES, days[0], capital=Decimal("5e9"))
    positions = Position.objects.filter(closed_at__isnull=True).count()
    started = time.perf_counter()
    snapshots_build(start=days[0], end=days[-2], actor="bench")
    print(f"  {HISTORY} days of snapshots before it: {time.perf_counter() - started:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    run = pipelines.pipeline_run(
        pipeline="eod", date=AS_OF, actor="bench", trigger="command", progress=quiet
    )
    assert run.status == "succeeded", run.error
    print(f"eod pipeline {AS_OF}, {positions:,} positions, window {settings.PMS_RISK_WINDOW}:")
    for step in run.steps:
        print(f"  {step['name']:<15} {step['seconds']:7.2f} s   {step['summary']}")
    print(f"  {'total':<15} {run.seconds:7.2f} s (target ≤ 3 s)")
    fund = PortfolioSnapshot.objects.get(date=AS_OF)
    assert fund.carry > 0 and fund.management_fee > 0, "the accounts were walked"
    print(
        f"  its accounts: carry {fund.carry:,.2f}, management fee {fund.management_fee:,.2f}, "
        f"quota {fund.quota}"
    )

    # A past date: the live book (marked to AS_OF) must come out byte-identical.
    book = list(Position.objects.order_by("pk").values())
    past = days[-6]
    run = pipelines.pipeline_run(
        pipeline="eod", date=past, actor="bench", trigger="command", progress=quiet
    )
    assert run.status == "succeeded", run.error
    assert list(Position.objects.order_by("pk").values()) == book, "the live book moved"
    assert RiskSnapshot.objects.get(date=past).window_used == settings.PMS_RISK_WINDOW
    print(f"eod pipeline for the past date {past} (from the timeline; the live book unchanged):")
    for step in run.steps:
        print(f"  {step['name']:<15} {step['seconds']:7.2f} s   {step['summary']}")
    print(f"  {'total':<15} {run.seconds:7.2f} s (target ≤ 10 s)")

    # A missed week: five business days without their snapshots, run again in order.
    week = days[-6:-1]
    for model in (PositionSnapshot, PortfolioSnapshot, RiskSnapshot):
        model.objects.filter(date__in=week).delete()
    started = time.perf_counter()
    for day in week:
        run = pipelines.pipeline_run(
            pipeline="eod", date=day, actor="bench", trigger="command", progress=quiet
        )
        assert run.status == "succeeded", run.error
        print(f"  {day}  {run.seconds:7.2f} s")
    assert PortfolioSnapshot.objects.filter(date__in=week).count() == len(week)
    assert list(Position.objects.order_by("pk").values()) == book, "the live book moved"
    caught_up = time.perf_counter() - started
    print(
        f"  catch-up of {len(week)} days {week[0]} … {week[-1]}: {caught_up:7.2f} s (target ≤ 45 s)"
    )


if __name__ == "__main__":
    main()
