"""The pipelines on the risk tests' book (tests/fixtures/risk_book.py): end to end, twice, with a
failing step, on holidays, their schedules, the API, and a real cluster on PostgreSQL."""

import datetime as dt
import json
import os
import pydoc
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from briefing.models import MorningPack
from ops import pipelines
from ops.models import Heartbeat, PipelineRun
from portfolio.models import CapitalFlow, PortfolioSnapshot, PositionSnapshot
from risk.models import RiskAlert, RiskSnapshot
from tests.conftest import TODAY

MONDAY = dt.date(2024, 3, 18)
CARNIVAL = dt.date(2024, 2, 13)  # a B3 holiday


@pytest.fixture
def fund(book: Any, settings: Any) -> Any:
    settings.PMS_RISK_WINDOW = 20  # the book has 21 days of quotes
    settings.PMS_PIPELINE_RETRIES = 2
    settings.PMS_PIPELINE_RETRY_SECONDS = 0
    return book


def run(pipeline: str, date: dt.date, **kwargs: Any) -> PipelineRun:
    return pipelines.pipeline_run(pipeline=pipeline, date=date, actor="test", **kwargs)


def body(client: Any, url: str) -> dict[str, Any]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.content[:300]
    return json.loads(answer.content)


@pytest.mark.django_db(transaction=True)  # each step commits, then warms what it changed
def test_eod_end_to_end_warms_the_cache(fund, api_client_for):
    eod = run("eod", TODAY)
    assert eod.status == "succeeded" and eod.seconds is not None
    assert [(s["name"], s["status"], s["attempts"]) for s in eod.steps] == [
        ("mark_to_market", "succeeded", 1),
        ("snapshots", "succeeded", 1),
        ("risk", "succeeded", 1),
        ("attribution", "succeeded", 1),
    ]
    assert PortfolioSnapshot.objects.filter(date=TODAY).exists()
    assert PositionSnapshot.objects.filter(date=TODAY).count() == 5
    assert RiskSnapshot.objects.filter(date=TODAY, window=20).exists()
    viewer = api_client_for("viewer")
    for url in (
        "/api/book/",
        "/api/risk/live/?window=20",
        "/api/attribution/?period=mtd&by=strategy",
        "/api/attribution/?period=ytd&by=currency",
    ):
        assert body(viewer, url)["cached"] is True, url  # warm: the first reader hits


@pytest.mark.django_db(transaction=True)  # the book is refreshed by the mark's commit
def test_the_mark_step_computes_the_book_once(fund, monkeypatch):
    """The mark's commit refreshes the cached book (write-through); the step does not
    compute it a second time."""
    import dataclasses

    from pms_site import cache

    computed: list[int] = []
    registered = cache.REGISTRY["book"]

    def counted() -> dict[str, Any]:
        computed.append(1)
        return registered.compute()

    monkeypatch.setitem(cache.REGISTRY, "book", dataclasses.replace(registered, compute=counted))
    pipelines.eod_mark(TODAY, "test")
    assert len(computed) == 1


def test_preopen_end_to_end(fund, api_client_for):
    run("eod", TODAY)
    with time_machine.travel(dt.datetime(2024, 3, 18, 9, 30, tzinfo=dt.UTC), tick=True):
        preopen = run("preopen", MONDAY)
        assert preopen.status == "succeeded", preopen.error
        assert [s["name"] for s in preopen.steps] == ["mark_to_market", "proposals", "morning_pack"]
        pack = MorningPack.objects.get(date=MONDAY)
        assert pack.data_date == TODAY
        assert pack.sections["headline"]["nav"] == str(
            PortfolioSnapshot.objects.get(date=TODAY).nav
        )
        assert body(api_client_for("viewer"), "/api/morning-pack/latest/")["cached"] is True


def test_running_a_date_twice_duplicates_nothing(fund):
    tables = (PipelineRun, PortfolioSnapshot, PositionSnapshot, RiskSnapshot, RiskAlert)

    def counts() -> list[int]:
        return [model.objects.count() for model in tables]

    run("eod", TODAY)
    first = counts()
    again = run("eod", TODAY)
    assert again.status == "succeeded" and counts() == first
    assert PipelineRun.objects.get().steps == again.steps


def test_a_failing_step_is_retried_then_fails_the_run(fund, monkeypatch, api_client_for):
    calls: list[int] = []

    def broken(date: dt.date, actor: str) -> str:
        calls.append(1)
        raise RuntimeError("price feed unreachable")

    eod = list(pipelines.PIPELINES["eod"])
    monkeypatch.setitem(
        pipelines.PIPELINES, "eod", [eod[0], pipelines.Step("snapshots", broken), *eod[2:]]
    )
    failed = run("eod", TODAY)
    assert len(calls) == 3  # once, then retried twice
    assert failed.status == "failed" and "price feed unreachable" in failed.error
    assert [(s["name"], s["status"]) for s in failed.steps] == [
        ("mark_to_market", "succeeded"),
        ("snapshots", "failed"),
        ("risk", "not run"),
        ("attribution", "not run"),
    ]
    assert not RiskSnapshot.objects.exists()
    alert = RiskAlert.objects.get(source="pipeline:eod", date=TODAY)
    assert alert.status == "open" and "snapshots" in alert.message
    risk = api_client_for("risk")
    listed = risk.get("/api/risk/alerts/", {"status": "open"}).json()["results"]
    assert [(a["source"], a["limit_name"]) for a in listed] == [("pipeline:eod", None)]
    acknowledged = risk.post(f"/api/risk/alerts/{alert.pk}/acknowledge/", {"note": "feed back"})
    assert acknowledged.status_code == 200

    monkeypatch.setitem(pipelines.PIPELINES, "eod", eod)  # the cause fixed
    assert run("eod", TODAY).status == "succeeded"
    alert.refresh_from_db()
    assert alert.status == "resolved"  # acknowledged, then resolved by the successful run


def test_the_command_reports_a_failure_and_a_busy_run(fund, monkeypatch):
    out = StringIO()
    call_command("run_pipeline", "eod", "--date", "2024-03-15", stdout=out)
    assert "snapshots: NAV" in out.getvalue() and "eod 2024-03-15: succeeded" in out.getvalue()
    PipelineRun.objects.update(status="running", worker="another-host:4242")
    with pytest.raises(CommandError, match=r"already running.*Use --force if its worker died"):
        call_command("run_pipeline", "eod", "--date", "2024-03-15", stdout=StringIO())
    call_command("run_pipeline", "eod", "--date", "2024-03-15", "--force", stdout=StringIO())
    assert "took over a running run (with --force)" in PipelineRun.objects.get().note
    monkeypatch.setitem(
        pipelines.PIPELINES,
        "eod",
        [pipelines.Step("mark_to_market", lambda date, actor: 1 / 0)],
    )
    with pytest.raises(CommandError, match="ZeroDivisionError"):
        call_command("run_pipeline", "eod", "--date", "2024-03-15", stdout=StringIO())


def test_a_holiday_is_skipped(fund):
    # A fund launched before Carnival (a run before the inception is refused).
    CapitalFlow.objects.create(date=dt.date(2024, 2, 1), amount=Decimal("1000000.00"))
    skipped = run("eod", CARNIVAL)
    assert skipped.status == "skipped" and {s["status"] for s in skipped.steps} == {"skipped"}
    assert not PortfolioSnapshot.objects.exists()
    with time_machine.travel(dt.datetime(2024, 3, 16, 21, 0, tzinfo=dt.UTC)):  # a Saturday
        pipelines.scheduled("eod")
    assert PipelineRun.objects.get(business_date=dt.date(2024, 3, 16)).status == "skipped"


def test_setup_schedules_is_idempotent(db):
    call_command("setup_schedules", stdout=StringIO())
    first = list(
        Schedule.objects.order_by("name").values("name", "func", "args", "cron", "next_run")
    )
    call_command("setup_schedules", stdout=StringIO())
    again = list(
        Schedule.objects.order_by("name").values("name", "func", "args", "cron", "next_run")
    )
    assert again == first
    assert [(s["name"], s["cron"], s["args"]) for s in first] == [
        ("pms-eod", "0 21 * * 1-5", "'eod'"),
        ("pms-preopen", "30 9 * * 1-5", "'preopen'"),
    ]
    # Friday Mar 15, 18:00 UTC: the next eod slot is 21:00 today, the next preopen Monday.
    assert first[0]["next_run"] == dt.datetime(2024, 3, 15, 21, 0, tzinfo=dt.UTC)
    assert first[1]["next_run"] == dt.datetime(2024, 3, 18, 9, 30, tzinfo=dt.UTC)


def test_setup_schedules_points_the_schedules_of_before_the_move_at_ops(db):
    """Schedules written when the pipelines lived in pms_site are updated in place; the
    heartbeat's, retired (each cluster beats by itself), is deleted."""
    old = {
        "pms-eod": "pms_site.pipelines.scheduled",
        "pms-preopen": "pms_site.pipelines.scheduled",
        "pms-heartbeat": "pms_site.health.heartbeat",
    }
    pks = {
        name: Schedule.objects.create(
            name=name, func=func, schedule_type=Schedule.CRON, cron="* * * * *"
        ).pk
        for name, func in old.items()
    }
    output = StringIO()
    call_command("setup_schedules", stdout=output)
    assert "deleted pms-heartbeat: retired" in output.getvalue()
    now = dict(Schedule.objects.values_list("name", "func"))
    assert now == {
        "pms-eod": "ops.pipelines.scheduled",
        "pms-preopen": "ops.pipelines.scheduled",
    }
    del pks["pms-heartbeat"]
    assert dict(Schedule.objects.values_list("name", "pk")) == pks
    assert all(callable(pydoc.locate(func)) for func in now.values())  # as the cluster finds it


def test_setup_schedules_leaves_one_schedule_of_each_name(db):
    """Doubles left by two commands at once before they were serialized are removed."""
    call_command("setup_schedules", stdout=StringIO())
    double = Schedule.objects.get(name="pms-eod")
    double.pk = None
    double.save()
    call_command("setup_schedules", stdout=StringIO())
    names = list(Schedule.objects.order_by("name").values_list("name", flat=True))
    assert names == ["pms-eod", "pms-preopen"]
    assert Schedule.objects.get(name="pms-eod").pk != double.pk


def test_api(fund, api_client_for):
    ops = api_client_for("ops")
    answer = ops.post("/api/pipelines/eod/run/", {"date": "2024-03-15"}, format="json")
    assert answer.status_code == 202
    queued = PipelineRun.objects.get(pk=answer.json()["run_id"])
    assert (queued.status, queued.trigger, queued.requested_by) == ("queued", "api", "user-ops")
    busy = ops.post("/api/pipelines/eod/run/", {"date": "2024-03-15"}, format="json")
    assert busy.status_code == 409 and "already queued" in busy.json()["detail"]
    assert (busy.json()["run_id"], busy.json()["status"]) == (queued.pk, "queued")
    assert api_client_for("viewer").post("/api/pipelines/eod/run/", {}).status_code == 403
    assert ops.post("/api/pipelines/lunch/run/", {}).status_code == 404
    assert ops.post("/api/pipelines/eod/run/", {"date": "soon"}, format="json").status_code == 400
    pipelines.execute(queued.pk)
    runs = api_client_for("viewer").get("/api/pipelines/runs/", {"pipeline": "eod"}).json()
    [listed] = runs["results"]
    assert (listed["status"], listed["attempts"], len(listed["steps"])) == ("succeeded", 4, 4)


# --- Claims that meet a run in progress -----------------------------------------------------


def _step_that(action: Any) -> list[pipelines.Step]:
    """An eod of one step that does `action` while its run is running."""

    def step(date: dt.date, actor: str) -> str:
        action()
        return "done"

    return [pipelines.Step("mark_to_market", step)]


def test_a_second_claim_while_one_runs_is_refused_with_its_message(fund, monkeypatch):
    refusals: list[str] = []

    def claim_again() -> None:
        with pytest.raises(CommandError) as refused:
            call_command("run_pipeline", "eod", "--date", "2024-03-15", stdout=StringIO())
        refusals.append(str(refused.value))
        with pytest.raises(pipelines.RunBusy) as busy:
            run("eod", TODAY)
        refusals.append(str(busy.value))
        assert (busy.value.run_id, busy.value.status) == (first.pk, "running")

    first = pipelines.run_request(pipeline="eod", date=TODAY, trigger="command", actor="first")
    monkeypatch.setitem(pipelines.PIPELINES, "eod", _step_that(claim_again))
    done = pipelines.execute(first.pk)
    assert (done.status, done.requested_by, done.steps[0]["attempts"]) == ("succeeded", "first", 1)
    assert refusals == [
        f"The eod run of 2024-03-15 (run {first.pk}) is already running (requested by first "
        f"at {first.requested_at:%Y-%m-%d %H:%M:%S} UTC). Use --force if its worker died.",
        f"The eod run of 2024-03-15 (run {first.pk}) is already running (requested by first "
        f"at {first.requested_at:%Y-%m-%d %H:%M:%S} UTC).",
    ]
    assert PipelineRun.objects.get().status == "succeeded"


def test_force_does_not_take_over_a_run_whose_worker_is_alive_here(fund, monkeypatch):
    def force_it() -> None:
        with pytest.raises(CommandError, match=r"Its worker \S+ is alive on this host"):
            call_command(
                "run_pipeline", "eod", "--date", "2024-03-15", "--force", stdout=StringIO()
            )

    monkeypatch.setitem(pipelines.PIPELINES, "eod", _step_that(force_it))
    assert run("eod", TODAY).status == "succeeded"


def test_a_task_delivered_twice_runs_once(fund, monkeypatch):
    calls: list[int] = []
    monkeypatch.setitem(pipelines.PIPELINES, "eod", _step_that(lambda: calls.append(1)))
    queued = pipelines.run_request(pipeline="eod", date=TODAY, trigger="api", actor="ops")
    assert pipelines.run_task(queued.pk) == "eod 2024-03-15: succeeded"
    again = pipelines.run_task(queued.pk)
    assert again == f"The eod run of 2024-03-15 (run {queued.pk}) is succeeded: not run again here."
    assert len(calls) == 1


def test_a_run_taken_over_meanwhile_stops_at_its_next_write(fund, monkeypatch):
    """Another host takes the run over (reset to queued) while this process runs its first
    step: this process writes nothing more to it and says so."""

    def taken_over() -> None:
        PipelineRun.objects.update(status="queued", started_at=None, requested_by="other")

    steps = [*_step_that(taken_over), pipelines.Step("snapshots", lambda date, actor: "no")]
    monkeypatch.setitem(pipelines.PIPELINES, "eod", steps)
    with pytest.raises(CommandError, match=r"was taken over while \S+ ran it: it stopped there"):
        call_command("run_pipeline", "eod", "--date", "2024-03-15", stdout=StringIO())
    taken = PipelineRun.objects.get()
    assert (taken.status, taken.requested_by, taken.started_at) == ("queued", "other", None)
    assert taken.steps[0]["status"] == "running"  # the last write of the first process


def _taken_over_by_another_host() -> None:
    PipelineRun.objects.update(
        status="running", worker="another-host:4242", started_at=timezone.now()
    )


def _alert_of_the_date() -> tuple[str, str]:
    alert = RiskAlert.objects.get(source="pipeline:eod", date=TODAY)
    return str(alert.status), alert.message


@pytest.mark.parametrize("outcome", ["failed", "succeeded"])
def test_a_superseded_run_leaves_the_dates_alert_alone(fund, monkeypatch, settings, outcome):
    """Another host takes the run over at its last moment: this process neither opens the
    date's alert (its failure) nor resolves it (its success); that is the other run's."""
    from risk.services import pipeline_alert_open, pipeline_alert_resolve

    settings.PMS_PIPELINE_RETRIES = 0  # the failure goes straight to the run's end
    pipeline_alert_open(source="pipeline:eod", date=TODAY, message="earlier", actor="test")
    if outcome == "failed":  # the other run's success resolved it
        pipeline_alert_resolve(source="pipeline:eod", date=TODAY, actor="test")
    before = _alert_of_the_date()

    def failing(date: dt.date, actor: str) -> str:
        _taken_over_by_another_host()
        raise RuntimeError("price feed unreachable")

    step_run = pipelines._run_step

    def then_taken_over(*args: Any) -> bool:
        succeeded = step_run(*args)
        _taken_over_by_another_host()  # after the step's own write, before the run's end
        return succeeded

    if outcome == "failed":
        monkeypatch.setitem(pipelines.PIPELINES, "eod", [pipelines.Step("snapshots", failing)])
    else:
        monkeypatch.setitem(pipelines.PIPELINES, "eod", _step_that(lambda: None))
        monkeypatch.setattr(pipelines, "_run_step", then_taken_over)
    with pytest.raises(pipelines.Superseded):
        run("eod", TODAY)
    assert _alert_of_the_date() == before
    assert PipelineRun.objects.get().worker == "another-host:4242"


def test_an_error_outside_the_steps_is_recorded_never_left_running(fund, monkeypatch):
    def no_alerts(run: PipelineRun) -> None:
        raise ConnectionError("alerts unavailable")

    monkeypatch.setitem(
        pipelines.PIPELINES, "eod", [pipelines.Step("mark_to_market", lambda d, a: 1 / 0)]
    )
    monkeypatch.setattr(pipelines, "_alert", no_alerts)
    with pytest.raises(ConnectionError):
        run("eod", TODAY)
    failed = PipelineRun.objects.get()
    assert failed.status == "failed" and failed.finished_at is not None
    assert failed.error.startswith("interrupted: ConnectionError: alerts unavailable")
    monkeypatch.undo()
    assert run("eod", TODAY).status == "succeeded"  # its date runs again at once


# --- A real cluster -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cluster_runs_a_pipeline_enqueued_through_the_api(fund, api_client_for):
    settings_db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{settings_db['USER']}@{settings_db['HOST']}:"
        f"{settings_db['PORT']}/{settings_db['NAME']}",
        "PMS_RISK_WINDOW": "20",
        "PMS_PIPELINE_RETRY_SECONDS": "0",
        "PMS_Q_WORKERS": "1",
        "DEBUG": "1",
    }
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        answer = api_client_for("ops").post(
            "/api/pipelines/eod/run/", {"date": "2024-03-15"}, format="json"
        )
        assert answer.status_code == 202
        run_id = answer.json()["run_id"]
        deadline = time.monotonic() + 120
        status = "queued"
        while time.monotonic() < deadline and status in ("queued", "running"):
            time.sleep(0.5)
            status = PipelineRun.objects.get(pk=run_id).status
        done = PipelineRun.objects.get(pk=run_id)
        assert done.status == "succeeded", (done.status, done.error, done.steps)
        assert PortfolioSnapshot.objects.filter(date=TODAY).exists()
        # The cluster's own heartbeat, written before its processes started: its qcluster's.
        beat = Heartbeat.objects.get()
        assert (beat.host, beat.pid) == (socket.gethostname(), cluster.pid)
        assert done.cluster == beat.name
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
            cluster.wait()
