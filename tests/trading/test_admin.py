"""Admin screens of the trade workflow: the proposal page, approve and reject actions."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from portfolio.models import AuditRecord, Trade
from tests.conftest import TODAY
from trading import services
from trading.models import TradeProposal

from .conftest import signal


@pytest.fixture
def admin_client_pm(fund) -> Client:
    user = User.objects.create_superuser("pm-admin", "pm@example.com", "pw")
    client = Client()
    client.force_login(user)
    signal("ESH4", "MACRO", "0.5")
    signal("DI1F27", "MACRO", "-0.8")
    services.proposal_generate(date=TODAY, actor="pm")
    return client


CHANGELIST = "/admin/trading/tradeproposal/"


def ids(symbol: str) -> str:
    return str(TradeProposal.objects.get(instrument__symbol=symbol).pk)


def test_proposal_page_shows_rationale_and_what_if(admin_client_pm):
    page = admin_client_pm.get(f"{CHANGELIST}{ids('ESH4')}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "unit_value" in html and "1,250,000" in html  # the rationale table
    assert "25,000" in html and "520,050" in html  # VaR 95% before → after, whole BRL
    listing = admin_client_pm.get(CHANGELIST).content.decode()
    # VaR 95% in whole BRL; DI1F27 −3,073 more: DV01 −79,325 per bp × 10 bp = 793,250
    assert "25,000 → 520,050" in listing and "25,000 → 793,250" in listing


def test_approve_action_books_each_pending_proposal(admin_client_pm):
    answer = admin_client_pm.post(
        CHANGELIST,
        {"action": "approve_at_last_price", "_selected_action": [ids("ESH4"), ids("DI1F27")]},
        follow=True,
    )
    assert "Approved 2 proposal(s)." in answer.content.decode()
    assert set(TradeProposal.objects.values_list("status", flat=True)) == {"approved"}
    assert Trade.objects.filter(source="proposal", booked_by="pm-admin").count() == 2


def test_reject_action_asks_for_the_reason(admin_client_pm):
    selected = {"action": "reject", "_selected_action": [ids("ESH4")]}
    form = admin_client_pm.post(CHANGELIST, selected)
    assert form.status_code == 200 and "Say why" in form.content.decode()
    assert TradeProposal.objects.get(pk=ids("ESH4")).status == "pending"
    blank = admin_client_pm.post(CHANGELIST, {**selected, "apply": "1", "reason": ""})
    assert blank.status_code == 200 and "This field is required" in blank.content.decode()
    done = admin_client_pm.post(
        CHANGELIST, {**selected, "apply": "1", "reason": "too big"}, follow=True
    )
    assert "Rejected 1 proposal(s)." in done.content.decode()
    rejected = TradeProposal.objects.get(pk=ids("ESH4"))
    assert (rejected.status, rejected.decision_note, rejected.decided_by) == (
        "rejected",
        "too big",
        "pm-admin",
    )
    assert AuditRecord.objects.get(action="proposal.reject").actor == "pm-admin"


def test_audit_trail_admin_is_read_only_and_searchable(admin_client_pm):
    record = AuditRecord.objects.get(action="proposals.generate")
    page = admin_client_pm.get("/admin/portfolio/auditrecord/", {"q": "proposals.generate"})
    assert page.status_code == 200 and "proposals.generate" in page.content.decode()
    assert (
        admin_client_pm.get(f"/admin/portfolio/auditrecord/{record.pk}/delete/").status_code == 403
    )
    assert admin_client_pm.get("/admin/portfolio/auditrecord/add/").status_code == 403
    change = admin_client_pm.post(
        f"/admin/portfolio/auditrecord/{record.pk}/change/", {"note": "edited"}
    )
    assert change.status_code == 403
    record.refresh_from_db()
    assert record.note == ""
