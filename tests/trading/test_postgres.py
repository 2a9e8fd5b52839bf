"""What only PostgreSQL shows: row locks under concurrent decisions, the append-only trigger."""

import threading
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from portfolio.models import AuditRecord, Position, Trade
from tests.conftest import TODAY
from trading import services
from trading.models import TradeProposal

from .conftest import signal

pytestmark = pytest.mark.postgres


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_book_exactly_one_trade(fund, api_client_for):
    """Six PMs press "approve" on the same proposal at once: one 200, five 409."""
    signal("ESH4", "MACRO", "0.5")
    [proposal] = services.proposal_generate(date=TODAY, actor="pm").created
    clients = 6
    pms = [api_client_for("pm") for _ in range(clients)]  # one client per thread
    barrier = threading.Barrier(clients)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def approve(pm: Any) -> None:
        try:
            barrier.wait()
            answer = pm.post(f"/api/proposals/{proposal.pk}/approve/", {}, format="json")
            statuses.append(answer.status_code)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(pm,)) for pm in pms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(statuses) == [200] + [409] * (clients - 1)
    assert Trade.objects.filter(source="proposal").count() == 1
    assert Position.objects.get(instrument__symbol="ESH4").quantity == D("40")
    assert AuditRecord.objects.filter(action="proposal.approve").count() == 1
    assert TradeProposal.objects.get().status == "approved"


@pytest.mark.django_db
def test_the_database_refuses_to_change_the_audit_trail_and_the_ledger(fund):
    record = AuditRecord.objects.first()
    trade = Trade.objects.get()
    for table, pk in (("portfolio_auditrecord", record.pk), ("portfolio_trade", trade.pk)):
        for sql in (
            f"UPDATE {table} SET id = id WHERE id = %s",
            f"DELETE FROM {table} WHERE id = %s",
        ):
            with (
                pytest.raises(IntegrityError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [pk])
    assert (
        AuditRecord.objects.filter(pk=record.pk).exists()
        and Trade.objects.filter(pk=trade.pk).exists()
    )
