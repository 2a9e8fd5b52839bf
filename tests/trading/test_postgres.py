"""What only PostgreSQL shows: row locks under concurrent decisions, the append-only trigger."""

from decimal import Decimal as D
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from portfolio.models import AuditRecord, Position, Trade
from portfolio.services import snapshots_build
from tests.concurrency import statuses_at_once
from tests.conftest import TODAY
from tests.fixtures.trading_fund import DAYS, signal
from trading import services
from trading.models import TradeProposal

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("clients", [2, 4, 8])
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_book_exactly_one_trade(trading_fund, api_client_for, clients):
    """PMs press "approve" on the same proposal at once: one 200, the others 409."""
    signal("ESH4", "MACRO", "0.5")
    [proposal] = services.proposal_generate(date=TODAY, actor="pm").created
    pms = [api_client_for("pm") for _ in range(clients)]  # one client per thread
    statuses = statuses_at_once(
        pms, lambda _, pm: pm.post(f"/api/proposals/{proposal.pk}/approve/", {}, format="json")
    )
    assert sorted(statuses) == [200] + [409] * (clients - 1)
    assert Trade.objects.filter(source="proposal").count() == 1
    assert Position.objects.get(instrument__symbol="ESH4").quantity == D("40")
    assert AuditRecord.objects.filter(action="proposal.approve").count() == 1
    assert TradeProposal.objects.get().status == "approved"


DECISIONS = [
    ("approve/", {}),
    ("modify-approve/", {"quantity": "20"}),
    ("reject/", {"reason": "no"}),
]


@pytest.mark.parametrize("clients", [2, 4, 8])
@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_of_every_kind_make_one(trading_fund, api_client_for, clients):
    """Approve, modify and reject at once: one of them is made, whole; the others 409."""
    signal("ESH4", "MACRO", "0.5")
    [proposal] = services.proposal_generate(date=TODAY, actor="pm").created
    url = f"/api/proposals/{proposal.pk}/"

    def decide(i: int, pm: Any) -> Any:
        path, body = DECISIONS[i % len(DECISIONS)]
        return pm.post(f"{url}{path}", body, format="json")

    statuses = statuses_at_once([api_client_for("pm") for _ in range(clients)], decide)
    assert sorted(statuses) == [200] + [409] * (clients - 1)
    decided = TradeProposal.objects.get()
    [decision] = AuditRecord.objects.filter(object_type="TradeProposal", object_id=decided.pk)
    booked = {"approved": D("40"), "modified": D("20"), "rejected": None}[decided.status]
    assert (
        decision.action
        == {
            "approved": "proposal.approve",
            "modified": "proposal.modify_approve",
            "rejected": "proposal.reject",
        }[decided.status]
    )
    trades = list(Trade.objects.filter(source="proposal").values_list("quantity", flat=True))
    assert trades == ([] if booked is None else [booked])
    assert decided.executed_quantity == booked


@pytest.mark.django_db(transaction=True)
def test_expiry_and_approvals_at_once_make_one_change(trading_fund, api_client_for):
    """Yesterday's leftover is approved by three PMs while today's generation expires it:
    either it is approved once (nothing expires) or it expires (every approval 409)."""
    signal("ESH4", "MACRO", "0.5", day=DAYS[-2])
    snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    [leftover] = services.proposal_generate(date=DAYS[-2], actor="pm").created
    answers: dict[int, Any] = {}

    def act(i: int, pm: Any) -> Any:
        url = f"/api/proposals/{leftover.pk}/approve/" if i else "/api/proposals/generate/"
        answers[i] = pm.post(url, {}, format="json")
        return answers[i]

    statuses_at_once([api_client_for("pm") for _ in range(4)], act)
    generation = answers.pop(0)
    approvals = sorted(answer.status_code for answer in answers.values())
    leftover.refresh_from_db()
    assert generation.status_code == 200
    if leftover.status == "approved":  # approved first: nothing left to expire
        assert (generation.data["expired"], approvals) == (0, [200, 409, 409])
        assert Trade.objects.filter(source="proposal").count() == 1
    else:
        assert (leftover.status, generation.data["expired"]) == ("expired", 1)
        assert approvals == [409, 409, 409]
        assert not Trade.objects.filter(source="proposal").exists()
    trail = AuditRecord.objects.filter(object_type="TradeProposal", object_id=leftover.pk)
    assert trail.count() == 1  # one decision or one expiry


@pytest.mark.django_db
def test_the_database_refuses_to_change_the_audit_trail_and_the_ledger(trading_fund):
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
