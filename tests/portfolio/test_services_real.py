"""Behaviour that only the real services show: row locks on PostgreSQL, a real Redis."""

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
from django.core.cache import cache, caches
from django.db import connection

from portfolio import services
from portfolio.models import Position, Trade


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_trades_make_one_position(ibov, macro):
    """Eight clients open the same (instrument, strategy) at once: one position, eight trades."""
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def book_one() -> None:
        try:
            barrier.wait()
            services.trades_book(
                requests=[
                    services.TradeRequest("INDJ24", "MACRO", D("1"), D("100"), dt.date(2024, 3, 14))
                ],
                actor="thread",
                source=Trade.Source.API,
            )
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=book_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    position = Position.objects.get()
    assert position.quantity == D("8") and Trade.objects.count() == 8


@pytest.mark.postgres
@pytest.mark.django_db
def test_set_based_mark_writes_every_column_on_postgres(ibov, macro):
    from tests.factories import PriceFactory

    services.trades_book(
        requests=[
            services.TradeRequest("INDJ24", "MACRO", D("3"), D("100.5"), dt.date(2024, 3, 14))
        ],
        actor="t",
        source=Trade.Source.API,
    )
    PriceFactory(instrument=ibov, date=dt.date(2024, 3, 15), price=D("101.25"))
    assert services.mark_to_market(as_of=dt.date(2024, 3, 15), actor="t").positions_updated == 1
    position = Position.objects.get()
    assert (position.last_price, position.price_date, position.fx_rate) == (
        D("101.25"),
        dt.date(2024, 3, 15),
        D("1"),
    )
    assert position.unrealized_pnl_base == D("2.25")  # 3 × 0.75
    assert position.notional_base == D("303.75")


@pytest.mark.redis
def test_redis_cache_round_trip():
    assert type(caches["default"]).__module__.startswith("django_redis")
    cache.set("pms:test:round-trip", {"nav": "1.00"}, timeout=30)
    assert cache.get("pms:test:round-trip") == {"nav": "1.00"}
    assert 0 < cache.ttl("pms:test:round-trip") <= 30
    cache.delete("pms:test:round-trip")
