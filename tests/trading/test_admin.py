"""Admin screens of the trade workflow: the proposal page, approve and reject actions."""

from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.test import Client

from portfolio import services as book_services
from portfolio.models import AuditRecord, Trade
from tests.conftest import TODAY
from tests.factories import PASSWORD
from tests.fixtures.trading_fund import DAYS, signal
from trading import admin as trading_admin
from trading import services
from trading.models import TradeProposal
from trading.presentation import size


@pytest.fixture
def admin_client_pm(trading_fund) -> Client:
    user = User.objects.create_superuser("pm-admin", "pm@example.com", PASSWORD)
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
    html = unescape(page.content.decode())
    # The rationale in the fund's words (tests/trading/test_proposals.py works the sizing
    # out): buy 40 ESH4 at 5,000 × 50 × 5.00 = 1,250,000 BRL a contract: 50,000,000.00.
    for label, value in (
        ("Signal", f"score 0.5 of {TODAY}"),
        ("Price", f"5,000, close of {TODAY}"),
        ("FX rate", "5 BRL per USD"),
        ("Value of one contract", "1,250,000.00 BRL (its notional)"),
        ("Strategy's risk budget", "1,000,000.00 BRL of daily P&L volatility"),
        # 0.5 × 1,000,000 / (0.0100344670 × 1,250,000) = 39.8626 → 39.86
        ("Target position", "39.86 contracts = score × risk budget ÷ (σ × value of one"),
        ("Current position", "0 contracts"),
        ("Trade", "buy 40 contracts (notional 50,000,000.00 BRL), in lots of 1"),
        ("Smallest trade proposed", "10% of the target: 3.99 contracts"),
    ):
        assert f"<td>{label}</td><td>{value}" in html
    # σ 0.0100344670 a day: 1.00%; no raw key, no unrounded float.
    assert "<td>1.00% a day, over the last 60 daily moves</td>" in html
    assert "min_trade_fraction" not in html and "unit_value" not in html
    assert "0.0100344" not in html
    # VaR 95% before → after (tests/trading/test_proposals.py works them out): 25,000.00 →
    # 25,000 + 50,000,000 / 101 = 520,049.50.
    assert "VaR 95% 25,000.00 → 520,049.50" in html
    # The what-if in words: the window is the fixture's PMS_RISK_WINDOW, 60 days.
    assert "with this trade alone; VaR over 60 days of history." in html
    listing = admin_client_pm.get(CHANGELIST).content.decode()
    # VaR 95%; DI1F27 −3,073 more: DV01 −79,325 per bp × 10 bp = 793,250
    assert "25,000.00 → 520,049.50" in listing and "25,000.00 → 793,250.00" in listing


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


def decide(client: Client, proposal_id: int | str, **posted: str) -> str:
    """Post a decision from the proposal's page; the messages of the page it returns to."""
    answer = client.post(f"{CHANGELIST}{proposal_id}/decide/", posted, follow=True)
    assert answer.status_code == 200
    return unescape(answer.content.decode())


def test_an_expired_proposal_is_refused_by_every_decision(admin_client_pm):
    signal("INDJ24", "MACRO", "0.3", day=DAYS[-2])
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    [leftover] = services.proposal_generate(date=DAYS[-2], actor="pm").created
    services.proposal_generate(date=TODAY, actor="pm")  # yesterday's leftover expires
    refused = f"{DAYS[-2]} INDJ24 / MACRO buy 300 (expired): already expired; only a pending"
    for posted in (
        {"decision": "approve"},
        {"decision": "modify", "size": "150"},
        {"decision": "reject", "reason": "late"},
    ):
        assert refused in decide(admin_client_pm, leftover.pk, **posted), posted
    leftover.refresh_from_db()
    assert (leftover.status, leftover.decided_by, leftover.trade_id) == ("expired", "", None)
    assert not Trade.objects.filter(source="proposal").exists()


def test_the_messages_after_a_decision_show_the_new_status(admin_client_pm):
    approved = decide(admin_client_pm, ids("ESH4"), decision="approve")
    assert (
        "Approved: bought 40 ESH4 at 5,000 for MACRO; the position is now 40. "
        f"Proposal {TODAY} ESH4 / MACRO is now approved." in approved
    )
    rejected = decide(admin_client_pm, ids("DI1F27"), decision="reject", reason="rates view")
    assert f"Rejected {TODAY} DI1F27 / MACRO sell 3,073 (rejected)." in rejected


def test_a_bad_input_is_refused_with_its_field_error(admin_client_pm):
    """The decision form keeps each error on its field (the API's parser's, by name), and
    the page it returns to shows them after the proposal; nothing is decided."""
    pk = ids("ESH4")
    proposal = TradeProposal.objects.select_related("instrument", "strategy").get(pk=pk)
    form = trading_admin.DecisionForm(
        {"decision": "modify", "size": "abc", "price": "0"}, proposal=proposal
    )
    assert not form.is_valid()
    assert form.errors == {
        "price": ["Must be positive."],
        "quantity": ["A valid number is required."],
    }
    said = decide(admin_client_pm, pk, decision="approve", price="abc")
    assert f"{TODAY} ESH4 / MACRO buy 40 (pending): price: A valid number is required." in said
    assert "Choose approve, modify or reject." in decide(admin_client_pm, pk, decision="hold")
    stray = decide(admin_client_pm, pk, decision="reject", reason="no", price="1", size="2")
    assert "Price, size: not part of reject." in stray
    proposal.refresh_from_db()
    assert proposal.status == "pending"
    assert not Trade.objects.filter(source="proposal").exists()


def test_a_proposal_decided_meanwhile_names_who_and_when(admin_client_pm, monkeypatch):
    """The page was read while the proposal was pending; another PM decides before the
    post arrives: the service finds it decided on the locked row, and the admin says who
    and when in São Paulo time."""
    stale = TradeProposal.objects.select_related("instrument", "strategy").get(pk=ids("ESH4"))
    services.proposal_reject(proposal_id=stale.pk, reason="first", actor="other-pm")
    monkeypatch.setattr(trading_admin, "get_object_or_404", lambda *args, **kwargs: stale)
    said = decide(admin_client_pm, stale.pk, decision="approve")
    # 18:00 UTC in the suite's clock is 15:00 in São Paulo.
    assert (
        f"{TODAY} ESH4 / MACRO buy 40 (rejected): already rejected by other-pm at "
        f"{TODAY} 15:00 BRT; only a pending proposal is decided." in said
    )
    assert not Trade.objects.filter(source="proposal").exists()
    assert AuditRecord.objects.filter(action__startswith="proposal.r").count() == 1


def test_the_bulk_action_names_who_decided_meanwhile(admin_client_pm, monkeypatch):
    pk = ids("ESH4")
    approve = services.proposal_approve

    def rejected_first(**kwargs):  # another PM decides after the action listed it pending
        services.proposal_reject(proposal_id=kwargs["proposal_id"], reason="no", actor="other-pm")
        return approve(**kwargs)

    monkeypatch.setattr(services, "proposal_approve", rejected_first)
    answer = admin_client_pm.post(
        CHANGELIST, {"action": "approve_at_last_price", "_selected_action": [pk]}, follow=True
    )
    said = unescape(answer.content.decode())
    assert f"(rejected): already rejected by other-pm at {TODAY} 15:00 BRT" in said
    assert "Approved 0 proposal(s)." in said
    assert TradeProposal.objects.get(pk=pk).status == "rejected"
    assert not Trade.objects.filter(source="proposal").exists()


def test_a_size_of_one_is_one_contract(admin_client_pm):
    proposal = TradeProposal.objects.get(instrument__symbol="ESH4")
    proposal.quantity = Decimal("1")
    assert size(proposal).startswith("buy 1 contract (notional ")
    proposal.quantity = Decimal("-2")
    assert size(proposal).startswith("sell 2 contracts (notional ")
