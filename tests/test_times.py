"""Times: stored in UTC, answered by the API in UTC (`Z`), shown in São Paulo time (BRT) by
the pages and the admin. The clock is pinned at 18:18 UTC, 15:18 in São Paulo: a time
shown in the wrong zone is three hours off."""

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from ops import pipelines
from tests.conftest import TODAY
from tests.factories import PASSWORD
from tests.fixtures.trading_fund import signal

MOMENT = dt.datetime(2024, 3, 15, 18, 18, 7, tzinfo=dt.UTC)  # 15:18:07 BRT
UTC_STAMP = re.compile(r"^2024-03-15T18:18:07(\.\d+)?Z$")


@pytest.fixture
def pinned() -> Any:
    with time_machine.travel(MOMENT, tick=False):
        yield


def assert_utc(value: Any, where: str) -> None:
    assert isinstance(value, str) and UTC_STAMP.match(value), f"{where}: {value!r}"


def test_every_datetime_the_api_answers_is_utc(trading_fund, pinned, api_client_for):
    signal("ESH4", "MACRO", "0.5")
    pm, ops = api_client_for("pm"), api_client_for("ops")
    [proposal] = pm.post("/api/proposals/generate/", {}, format="json").json()["proposals"]
    assert_utc(proposal["created_at"], "proposal created_at")
    approval = pm.post(f"/api/proposals/{proposal['id']}/approve/", {}, format="json").json()
    assert_utc(approval["proposal"]["decided_at"], "approval decided_at")
    assert_utc(approval["trade"]["booked_at"], "approval trade booked_at")
    assert_utc(pm.get(f"/api/proposals/{proposal['id']}/").json()["decided_at"], "proposal")

    [trade] = [t for t in pm.get("/api/trades/").json()["results"] if t["source"] == "proposal"]
    assert_utc(trade["booked_at"], "trade booked_at")
    audit = pm.get("/api/audit/", {"action": "proposal.approve"}).json()["results"]
    assert_utc(audit[0]["at"], "audit at")
    flow = ops.post("/api/capital-flows/", {"date": "2024-03-15", "amount": "1.00"}).json()
    assert_utc(flow["created_at"], "capital flow created_at")

    pipelines.pipeline_run(pipeline="eod", date=TODAY, actor="test")
    [run] = pm.get("/api/pipelines/runs/").json()["results"]
    for name in ("requested_at", "started_at", "finished_at"):
        assert_utc(run[name], f"run {name}")
    for step in run["steps"]:
        assert_utc(step["started_at"], f"step {step['name']} started_at")
        assert_utc(step["finished_at"], f"step {step['name']} finished_at")
    assert_utc(pm.get("/api/risk/snapshots/").json()["results"][0]["computed_at"], "risk")

    pack = pm.post("/api/morning-pack/generate/", {"date": "2024-03-15"}, format="json")
    assert pack.status_code == 201, pack.content
    assert_utc(pack.json()["generated_at"], "pack generated_at")
    assert_utc(pm.get("/api/morning-pack/2024-03-15/").json()["generated_at"], "pack")


def test_the_pack_page_and_the_admin_show_sao_paulo_time(trading_fund, pinned, api_client_for):
    pm = api_client_for("pm")
    assert pm.post("/api/morning-pack/generate/", {}, format="json").status_code == 201
    page = pm.get("/api/morning-pack/2024-03-15/html/").content.decode()
    assert "generated 2024-03-15 15:18 BRT" in page
    assert "18:18" not in page

    signal("ESH4", "MACRO", "0.5")
    [proposal] = pm.post("/api/proposals/generate/", {}, format="json").json()["proposals"]
    pm.post(f"/api/proposals/{proposal['id']}/approve/", {}, format="json")
    admin = Client()
    admin.force_login(User.objects.create_superuser("boss", "boss@example.com", PASSWORD))
    listing = admin.get("/admin/trading/tradeproposal/").content.decode()
    assert "2024-03-15 15:18:07 BRT" in listing and "18:18" not in listing
    audit = admin.get("/admin/portfolio/auditrecord/").content.decode()
    assert "2024-03-15 15:18:07 BRT" in audit and "18:18:07" not in audit
