"""The trade workflow API: generation, decisions, permissions, bad input, the audit trail."""

from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio import services as book_services
from portfolio.models import AuditRecord, Position, Trade
from tests.conftest import TODAY
from tests.fixtures.trading_fund import DAYS, signal
from trading import services
from trading.models import Signal, TradeProposal

PROPOSALS = "/api/proposals/"


@pytest.fixture
def pending(trading_fund, api_client_for):
    """ESH4 buy 40, DI1F27 sell 3,073 and INDJ24 buy 300 (see test_proposals), pending."""
    signal("ESH4", "MACRO", "0.5")
    signal("DI1F27", "MACRO", "-0.8")
    signal("INDJ24", "MACRO", "0.3")
    answer = api_client_for("pm").post(f"{PROPOSALS}generate/", {}, format="json")
    assert answer.status_code == 200, answer.data
    return {row["instrument"]: row["id"] for row in answer.data["proposals"]}


def state(proposal_id):
    return TradeProposal.objects.values().get(pk=proposal_id)


def test_generate_answers_the_contract(trading_fund, api_client_for):
    signal("ESH4", "MACRO", "0.5")
    ops = api_client_for("ops")
    answer = ops.post(f"{PROPOSALS}generate/", {"date": str(TODAY)}, format="json")
    assert answer.status_code == 200
    body = answer.data
    assert (body["date"], body["created"], body["expired"], body["skipped"]) == (
        str(TODAY),
        1,
        0,
        [],
    )
    [row] = body["proposals"]
    assert {
        k: row[k] for k in ("instrument", "strategy", "quantity", "direction", "status", "score")
    } == {
        "instrument": "ESH4",
        "strategy": "MACRO",
        "quantity": "40.000000",
        "direction": "buy",
        "status": "pending",
        "score": "0.500000",
    }
    assert row["what_if"]["var_95_before"] == "25000.00"
    assert row["what_if"]["var_95_after"] == "520049.50"
    assert row["decided_by"] == "" and row["decided_at"] is None and row["trade"] is None
    again = ops.post(f"{PROPOSALS}generate/", {}, format="json")
    assert (again.data["created"], len(again.data["proposals"])) == (0, 1)


def test_approve_at_the_last_price(pending, api_client_for):
    answer = api_client_for("pm").post(
        f"{PROPOSALS}{pending['ESH4']}/approve/", {"note": "as sized"}, format="json"
    )
    assert answer.status_code == 200, answer.data
    proposal, trade, position = (
        answer.data["proposal"],
        answer.data["trade"],
        answer.data["position"],
    )
    assert (proposal["status"], proposal["decided_by"], proposal["decision_note"]) == (
        "approved",
        "user-pm",
        "as sized",
    )
    assert (proposal["executed_quantity"], proposal["executed_price"]) == (
        "40.000000",
        "5000.00000000",
    )
    assert proposal["decided_at"].endswith("Z")
    assert (trade["quantity"], trade["price"], trade["source"]) == (
        "40.000000",
        "5000.00000000",
        "proposal",
    )
    # 40 × 5000 × 50 × 5.00
    assert (position["quantity"], position["notional_base"]) == ("40.000000", "50000000.00")
    detail = api_client_for("viewer").get(f"{PROPOSALS}{pending['ESH4']}/")
    [decision] = detail.data["decisions"]
    assert (decision["action"], decision["actor"], decision["note"]) == (
        "proposal.approve",
        "user-pm",
        "as sized",
    )
    assert decision["before"]["status"] == "pending" and decision["after"]["status"] == "approved"


def test_approve_at_a_given_price_books_it(pending, api_client_for):
    answer = api_client_for("pm").post(
        f"{PROPOSALS}{pending['INDJ24']}/approve/", {"price": "100250"}, format="json"
    )
    assert answer.status_code == 200
    position = Position.objects.get(instrument__symbol="INDJ24")
    # 300 bought at 100,250, valued at the close the book is marked to (today's, 100,000):
    # notional 30,000,000.00
    assert (position.quantity, position.avg_cost, position.notional_base) == (
        D("300"),
        D("100250"),
        D("30000000.00"),
    )


def test_modify_and_approve(pending, api_client_for):
    pm = api_client_for("pm")
    url = f"{PROPOSALS}{pending['INDJ24']}/modify-approve/"
    # INDJ24 trades in lots of 5
    bad = pm.post(url, {"quantity": "152", "price": "100000"}, format="json")
    assert bad.status_code == 400 and "lot size" in bad.data["quantity"][0]
    assert (
        state(pending["INDJ24"])["status"] == "pending"
        and not Trade.objects.filter(source="proposal").exists()
    )
    answer = pm.post(url, {"quantity": "150", "price": "100000", "note": "half"}, format="json")
    assert answer.status_code == 200
    assert answer.data["proposal"]["status"] == "modified"
    assert answer.data["proposal"]["quantity"] == "300.000000"  # what was proposed
    assert answer.data["proposal"]["executed_quantity"] == "150.000000"
    assert answer.data["trade"]["quantity"] == "150.000000"
    assert AuditRecord.objects.get(action="proposal.modify_approve").after["executed_quantity"] == (
        "150.000000"
    )


def test_reject_needs_a_reason(pending, api_client_for):
    pm = api_client_for("pm")
    url = f"{PROPOSALS}{pending['DI1F27']}/reject/"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        answer = pm.post(url, body, format="json")
        assert answer.status_code == 400 and "reason" in answer.data, body
    assert state(pending["DI1F27"])["status"] == "pending"
    answer = pm.post(url, {"reason": "rates view changed"}, format="json")
    assert answer.status_code == 200
    assert answer.data["proposal"]["status"] == "rejected"
    assert answer.data["proposal"]["decision_note"] == "rates view changed"
    assert not Trade.objects.filter(source="proposal").exists()
    assert AuditRecord.objects.get(action="proposal.reject").note == "rates view changed"


def test_a_decided_proposal_answers_409_and_changes_nothing(pending, api_client_for):
    pm = api_client_for("pm")
    assert pm.post(f"{PROPOSALS}{pending['ESH4']}/approve/", {}, format="json").status_code == 200
    decided = state(pending["ESH4"])
    for path, body in (
        ("approve/", {}),
        ("modify-approve/", {"quantity": "1"}),
        ("reject/", {"reason": "too late"}),
    ):
        answer = pm.post(f"{PROPOSALS}{pending['ESH4']}/{path}", body, format="json")
        assert answer.status_code == 409, path
        assert "is approved by user-pm" in answer.data["detail"]
    assert state(pending["ESH4"]) == decided
    assert Trade.objects.filter(source="proposal").count() == 1
    assert AuditRecord.objects.filter(action__startswith="proposal.").count() == 1


@pytest.fixture
def expired(trading_fund) -> TradeProposal:
    """Yesterday's ESH4 buy 40, left pending: expired when today's proposals came."""
    signal("ESH4", "MACRO", "0.5", day=DAYS[-2])
    book_services.snapshots_build(start=DAYS[0], end=DAYS[-3], actor="test")
    [leftover] = services.proposal_generate(date=DAYS[-2], actor="pm").created
    assert services.proposal_generate(date=TODAY, actor="pm").expired == 1
    leftover.refresh_from_db()
    assert leftover.status == "expired"
    return leftover


def test_an_expired_proposal_answers_409_for_every_decision(expired, api_client_for):
    pm = api_client_for("pm")
    before = state(expired.pk)
    refused = "expired: only a pending proposal can be decided."
    for path, body in (
        ("approve/", {}),
        ("modify-approve/", {"quantity": "20"}),
        ("reject/", {"reason": "too late"}),
    ):
        answer = pm.post(f"{PROPOSALS}{expired.pk}/{path}", body, format="json")
        assert answer.status_code == 409, path
        assert answer.data == {"detail": f"Proposal {expired.pk} is {refused}"}, path
    assert state(expired.pk) == before
    assert not Trade.objects.filter(source="proposal").exists()
    assert (
        not AuditRecord.objects.filter(action__startswith="proposal.")
        .exclude(action="proposal.expire")
        .exists()
    )


def test_modify_with_the_other_sign_is_400_and_writes_nothing(pending, api_client_for):
    pm = api_client_for("pm")
    for symbol, quantity in (("ESH4", "-5"), ("DI1F27", "5")):
        before = state(pending[symbol])
        answer = pm.post(
            f"{PROPOSALS}{pending[symbol]}/modify-approve/", {"quantity": quantity}, format="json"
        )
        assert answer.status_code == 400 and list(answer.data) == ["quantity"], symbol
        assert "give a" in answer.data["quantity"][0]
        assert state(pending[symbol]) == before
    assert not Trade.objects.filter(source="proposal").exists()
    assert not Position.objects.filter(instrument__symbol="ESH4").exists()
    assert not AuditRecord.objects.filter(action__startswith="proposal.").exists()


def test_modify_answers_the_booked_sizes_what_if(pending, api_client_for):
    answer = api_client_for("pm").post(
        f"{PROPOSALS}{pending['ESH4']}/modify-approve/",
        {"quantity": "20", "price": "5000"},
        format="json",
    )
    assert answer.status_code == 200, answer.data
    # Buy 20, not 40: VaR 95% after 272,524.75, not 520,049.50 (see test_proposals).
    what_if = answer.data["proposal"]["what_if"]
    assert (what_if["var_95_before"], what_if["var_95_after"]) == ("25000.00", "272524.75")
    detail = api_client_for("viewer").get(f"{PROPOSALS}{pending['ESH4']}/").data
    assert detail["what_if"] == what_if
    [decision] = detail["decisions"]
    assert decision["after"]["what_if"] == what_if
    assert decision["before"]["what_if"]["var_95_after"] == "520049.50"


def test_who_may_do_what(pending, api_client_for):
    url = f"{PROPOSALS}{pending['ESH4']}/"
    for group in ("viewer", "risk", "ops"):
        client = api_client_for(group)
        assert client.get(url).status_code == 200
        assert client.post(f"{url}approve/", {}, format="json").status_code == 403
        assert client.post(f"{url}reject/", {"reason": "x"}, format="json").status_code == 403
    assert api_client_for(None).get(url).status_code == 401
    assert api_client_for("viewer").post(f"{PROPOSALS}generate/", {}).status_code == 403
    assert api_client_for("risk").post(f"{PROPOSALS}generate/", {}).status_code == 403
    assert state(pending["ESH4"])["status"] == "pending"


def test_decision_fields_cannot_be_written(pending, api_client_for):
    pm = api_client_for("pm")
    url = f"{PROPOSALS}{pending['ESH4']}/"
    assert pm.patch(url, {"status": "approved"}, format="json").status_code == 405
    assert pm.put(url, {"status": "approved"}, format="json").status_code == 405
    assert pm.delete(url).status_code == 405
    # Unknown fields on a decision are refused, not ignored: "prise" is not "price".
    answer = pm.post(f"{url}approve/", {"prise": "1", "decided_by": "someone else"}, format="json")
    assert answer.status_code == 400 and set(answer.data) == {"prise", "decided_by"}
    assert state(pending["ESH4"])["status"] == "pending"


def test_bad_decision_input_is_400(pending, api_client_for):
    pm = api_client_for("pm")
    url = f"{PROPOSALS}{pending['ESH4']}/"
    assert pm.post(f"{url}approve/", {"price": "-1"}, format="json").status_code == 400
    assert pm.post(f"{url}modify-approve/", {}, format="json").data["quantity"]
    zero = pm.post(f"{url}modify-approve/", {"quantity": "0"}, format="json")
    assert zero.status_code == 400 and "zero" in zero.data["quantity"][0]
    assert pm.post(f"{PROPOSALS}999999/approve/", {}, format="json").status_code == 404
    assert state(pending["ESH4"])["status"] == "pending"


def test_proposal_list_filters_and_query_count(pending, api_client_for):
    viewer = api_client_for("viewer")
    api_client_for("pm").post(f"{PROPOSALS}{pending['ESH4']}/reject/", {"reason": "no"})
    pending_rows = viewer.get(PROPOSALS, {"status": "pending"}).data
    assert {r["instrument"] for r in pending_rows["results"]} == {"DI1F27", "INDJ24"}
    assert viewer.get(PROPOSALS, {"date": "2024-03-14"}).data["count"] == 0
    assert viewer.get(PROPOSALS, {"status": "bogus"}).status_code == 400
    with CaptureQueriesContext(connection) as three:
        assert viewer.get(PROPOSALS).data["count"] == 3
    TradeProposal.objects.bulk_create(
        TradeProposal(**{**row, "id": None, "date": TODAY.replace(day=d)})
        for row in TradeProposal.objects.filter(status="pending").values()
        for d in range(1, 11)
    )
    with CaptureQueriesContext(connection) as many:
        assert viewer.get(PROPOSALS).data["count"] == 23
    assert len(many) == len(three)


def test_signals_upsert_all_or_nothing(trading_fund, api_client_for):
    ops = api_client_for("ops")
    rows = [
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-15", "score": "0.5"},
        {"instrument": "DI1F27", "strategy": "MACRO", "date": "2024-03-15", "score": -1},
    ]
    answer = ops.post("/api/signals/", rows, format="json")
    assert (answer.status_code, answer.data) == (200, {"created": 2, "updated": 0})
    rows[0]["score"] = "0.25"
    assert ops.post("/api/signals/", rows, format="json").data == {"created": 0, "updated": 2}
    assert Signal.objects.get(instrument__symbol="ESH4").score == D("0.25")
    unparsable = [
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-14", "score": "0.1"},
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-14", "score": "1.5"},
    ]
    answer = ops.post("/api/signals/", unparsable, format="json")
    assert answer.status_code == 400 and set(answer.data) == {"1"}
    assert "less than or equal to 1" in answer.data["1"]["score"][0]
    # Rows that parse are checked against the book, each bad one named.
    bad = [
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-14", "score": "0.1"},
        {"instrument": "NOPE", "strategy": "MACRO", "date": "2024-03-14", "score": "0.1"},
        {"instrument": "ESH4", "strategy": "NOPE", "date": "2024-03-14", "score": "0.1"},
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-18", "score": "0.1"},
        {"instrument": "ESH4", "strategy": "MACRO", "date": "2024-03-14", "score": "0.2"},
    ]
    answer = ops.post("/api/signals/", bad, format="json")
    assert answer.status_code == 400  # a date out of the fund's range fails the row first
    assert answer.data == {"3": {"date": ["2024-03-18 is in the future."]}}
    del bad[3]
    answer = ops.post("/api/signals/", bad, format="json")
    assert answer.status_code == 400
    assert answer.data == {
        "1": {"instrument": ["Unknown instrument 'NOPE'."]},
        "2": {"strategy": ["Unknown strategy 'NOPE'."]},
        "3": {"instrument": ["Same instrument, strategy and date as row 0."]},
    }
    assert Signal.objects.count() == 2
    assert api_client_for("pm").post("/api/signals/", rows, format="json").status_code == 403
    listed = api_client_for("viewer").get("/api/signals/", {"instrument": "ESH4"}).data
    assert [(r["strategy"], r["score"]) for r in listed["results"]] == [("MACRO", "0.250000")]


def test_audit_trail_is_read_only_and_filtered(pending, api_client_for):
    api_client_for("pm").post(f"{PROPOSALS}{pending['ESH4']}/reject/", {"reason": "no"})
    viewer = api_client_for("viewer")
    rows = viewer.get("/api/audit/", {"action": "proposal.reject"}).data["results"]
    assert [(r["actor"], r["object_type"], r["note"]) for r in rows] == [
        ("user-pm", "TradeProposal", "no")
    ]
    assert (
        viewer.get("/api/audit/", {"actor": "user-pm", "start": "2024-03-15"}).data["count"] == 2
    )  # proposals.generate and the rejection
    assert viewer.get("/api/audit/", {"end": "2024-03-14"}).data["count"] == 0
    record = rows[0]["id"]
    superuser = api_client_for("superuser")
    assert superuser.patch(f"/api/audit/{record}/", {"note": "x"}).status_code == 405
    assert superuser.delete(f"/api/audit/{record}/").status_code == 405
    assert superuser.post("/api/audit/", {"action": "x"}).status_code == 405
    assert AuditRecord.objects.get(pk=record).note == "no"


def csv_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "signals.csv"
    path.write_text(text)
    return str(path)


def test_import_signals_whole_file_or_nothing(trading_fund, tmp_path):
    bad = csv_file(
        tmp_path,
        "instrument,strategy,date,score\nESH4,MACRO,2024-03-15,0.5\nESH4,MACRO,2024-03-14,2\n",
    )
    with pytest.raises(CommandError, match="line 3: score"):
        call_command("import_signals", bad)
    assert not Signal.objects.exists()
    out = StringIO()
    good = csv_file(
        tmp_path,
        "instrument,strategy,date,score\nESH4,MACRO,2024-03-15,0.5\nDI1F27,RV,2024-03-15,-0.3\n",
    )
    call_command("import_signals", good, stdout=out)
    assert "2 created, 0 updated" in out.getvalue()
    assert Signal.objects.get(strategy__code="RV").score == D("-0.3")
