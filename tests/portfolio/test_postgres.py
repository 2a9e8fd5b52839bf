"""What only PostgreSQL shows for the book: closes of one position at once, under its
instrument's row lock."""

import threading
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import connection

from portfolio import services
from portfolio.models import AuditRecord, Position, Trade
from tests.conftest import TODAY

pytestmark = pytest.mark.postgres


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results, in finishing order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(call())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def short_position(quantity: str) -> Position:
    request = services.TradeRequest("INDJ24", "MACRO", D(quantity), D("127000"), TODAY)
    [trade] = services.trades_book(requests=[request], actor="pm", source="api")
    return Position.objects.get(pk=trade.position_id)


@pytest.mark.parametrize("clients", [2, 4, 8])
@pytest.mark.django_db(transaction=True)
def test_simultaneous_closes_of_one_position_close_it_once(clients, ibov, macro, api_client_for):
    """A double click, a client's retry, eight PMs: one close, the others 409, and never
    a position of the opposite sign."""
    position = short_position("-3137005")
    pms = [api_client_for("pm") for _ in range(clients)]  # one client per thread
    answers = at_once(
        [
            lambda pm=pm: pm.post(
                f"/api/positions/{position.pk}/close/", {"price": "126900"}, format="json"
            )
            for pm in pms
        ]
    )
    assert sorted(a.status_code for a in answers) == [200] + [409] * (clients - 1)
    refused = [a.json()["detail"] for a in answers if a.status_code == 409]
    assert set(refused) == {f"Position {position.pk} was closed on {TODAY}."}
    assert not Position.objects.filter(closed_at__isnull=True).exists()
    assert Trade.objects.filter(quantity=D("3137005")).count() == 1
    assert Trade.objects.count() == 2  # the opening sale and one purchase that closed it
    assert AuditRecord.objects.filter(action="trade.book").count() == 2
    position.refresh_from_db()
    # 3,137,005 × (127,000 − 126,900) × 1 = 313,700,500.00 realized by the one close
    assert (position.quantity, position.realized_pnl_base) == (D("0"), D("313700500.00"))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_partial_closes_never_close_more_than_is_held(ibov, macro, api_client_for):
    """Four closes of 1 at once on a position of 2: two are booked; the other two find it
    closed."""
    position = short_position("-2")
    pms = [api_client_for("pm") for _ in range(4)]
    answers = at_once(
        [
            lambda pm=pm: pm.post(
                f"/api/positions/{position.pk}/close/",
                {"price": "126900", "quantity": "1"},
                format="json",
            )
            for pm in pms
        ]
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 409, 409]
    assert Trade.objects.filter(quantity=D("1")).count() == 2
    assert not Position.objects.filter(closed_at__isnull=True).exists()
