"""The scheduler pass of a live cluster (`pipelines.runs_recover`): a run whose cluster
stopped heartbeating, on any host, is recorded as interrupted and its date queued again,
once; a run of a live cluster is left alone. The clock is the suite's (TODAY, 18:00 UTC)."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from ops import health, pipelines
from ops.models import Heartbeat, PipelineRun
from risk.models import RiskAlert
from tests.concurrency import at_once
from tests.conftest import TODAY

NOW = dt.datetime(2024, 3, 15, 18, 0, tzinfo=dt.UTC)  # the suite's clock
LIVE, DEAD = "a" * 32, "d" * 32  # two clusters' ids
BY = "cluster " + "b" * 32


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    """The suite's clock, standing still: ages are exact."""
    with time_machine.travel(NOW, tick=False):
        yield


def beat(cluster: str, seconds_ago: float, host: str = "other-host") -> None:
    Heartbeat.objects.create(
        name=cluster, host=host, pid=4242, seen_at=NOW - dt.timedelta(seconds=seconds_ago)
    )


def running(cluster: str, *, worker: str = "other-host:4243", **fields: Any) -> PipelineRun:
    """An eod run of TODAY in its risk step, started a minute ago by `cluster`'s worker."""
    steps = [
        {"name": "mark_to_market", "status": "succeeded", "attempts": 1},
        {"name": "snapshots", "status": "succeeded", "attempts": 1},
        {"name": "risk", "status": "running", "attempts": 2},
        {"name": "attribution", "status": "pending", "attempts": 0},
    ]
    values = {
        "pipeline": "eod",
        "business_date": TODAY,
        "status": PipelineRun.Status.RUNNING,
        "steps": steps,
        "trigger": "schedule",
        "requested_by": "scheduler",
        "requested_at": NOW - dt.timedelta(seconds=61),
        "started_at": NOW - dt.timedelta(seconds=60),
        "worker": worker,
        "cluster": cluster,
        "note": "earlier note.",
    }
    return PipelineRun.objects.create(**(values | fields))


def queued_tasks() -> list[tuple[str, tuple[Any, ...]]]:
    """The tasks handed to the broker: (function, arguments)."""
    return [(q.task["func"], q.task["args"]) for q in OrmQ.objects.all()]


@pytest.fixture
def recover(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> Callable[..., list[PipelineRun]]:
    """The pass, its broker hand-off run as its transaction commits."""

    def one(**options: Any) -> list[PipelineRun]:
        with django_capture_on_commit_callbacks(execute=True):
            return pipelines.runs_recover(by=BY, **options)

    return one


def test_a_run_of_a_cluster_silent_on_another_host_is_interrupted_and_queued_again(db, recover):
    beat(DEAD, seconds_ago=181)  # the limit is 180 s
    run = running(DEAD)
    assert recover() == [run]
    run.refresh_from_db()
    assert (run.status, run.trigger, run.requested_by) == ("queued", "recovery", BY)
    assert (run.requested_at, run.steps, run.started_at, run.recoveries) == (NOW, [], None, 1)
    assert run.note == (
        "2024-03-15T18:00:00Z: a running run interrupted in step risk (attempt 2): its "
        f"cluster {DEAD} stopped heartbeating: last seen 2024-03-15T17:56:59Z, 181 s ago "
        f"(limit 180 s); queued again by {BY}. earlier note."
    )
    assert queued_tasks() == [("ops.pipelines.run_task", (run.pk,))]


def test_a_run_of_a_cluster_without_a_heartbeat_is_interrupted(db, recover):
    run = running(DEAD)
    assert recover() == [run]
    run.refresh_from_db()
    assert run.status == "queued"
    assert f"its cluster {DEAD} has no heartbeat; queued again" in run.note


def test_a_run_of_a_live_cluster_on_another_host_is_left_alone(db, recover):
    beat(LIVE, seconds_ago=179)
    run = running(LIVE)
    assert recover() == []
    run.refresh_from_db()
    assert (run.status, run.steps[2]["status"], run.note) == ("running", "running", "earlier note.")
    assert queued_tasks() == []


def test_a_command_run_on_another_host_waits_for_the_task_timeout(db, recover, settings):
    """No cluster (a command ran it): its process on another host cannot be seen, so only
    the task timeout tells that it died."""
    run = running("", started_at=NOW - dt.timedelta(seconds=1800))
    assert recover() == []
    run.started_at = NOW - dt.timedelta(seconds=1801)
    run.save()
    assert recover() == [run]
    run.refresh_from_db()
    assert "past the cluster's 1800 s task timeout" in run.note


def test_a_dead_worker_of_this_host_is_seen_whatever_its_cluster(db, recover):
    """A worker killed alone: its cluster still beats, and reincarnates the worker."""
    import socket

    beat(LIVE, seconds_ago=1)
    gone = f"{socket.gethostname()}:{2**22 + 1}"  # above Linux's pid_max: never a process
    run = running(LIVE, worker=gone)
    assert recover() == [run]
    run.refresh_from_db()
    assert f"its worker {gone} is gone; queued again" in run.note


def test_a_second_pass_finds_the_run_queued_again_and_leaves_it(db, recover):
    beat(DEAD, seconds_ago=600)
    running(DEAD)
    assert len(recover()) == 1
    assert recover() == []
    assert len(queued_tasks()) == 1
    assert PipelineRun.objects.get().recoveries == 1


def test_a_stopping_cluster_hands_its_runs_on_though_it_still_beats(db, recover):
    beat(LIVE, seconds_ago=1)
    run = running(LIVE)
    assert recover(stopped=LIVE) == [run]
    run.refresh_from_db()
    assert run.status == "queued"
    assert f"its cluster {LIVE} was stopped while it ran; queued again" in run.note


def test_a_date_interrupted_again_and_again_fails_with_its_alert(db, recover, settings):
    """A run that kills its cluster (out of memory) would take every cluster down in turn."""
    settings.PMS_PIPELINE_RECOVERIES = 2
    run = running(DEAD, recoveries=2)
    assert recover() == [run]
    run.refresh_from_db()
    assert (run.status, run.finished_at) == ("failed", NOW)
    assert run.error == (
        f"interrupted: its cluster {DEAD} has no heartbeat; not queued again after 2 recoveries"
    )
    assert "; failed: queued again 2 times already. earlier note." in run.note
    alert = RiskAlert.objects.get(source="pipeline:eod")
    assert alert.message.startswith(f"The eod pipeline failed at interrupted: its cluster {DEAD}")
    assert queued_tasks() == []


def test_a_request_by_a_person_counts_recoveries_afresh(db, recover):
    from portfolio.models import CapitalFlow

    CapitalFlow.objects.create(date=dt.date(2024, 3, 1), amount=1_000_000)
    beat(DEAD, seconds_ago=600)
    running(DEAD, recoveries=1)
    [run] = recover()
    assert run.recoveries == 2
    PipelineRun.objects.filter(pk=run.pk).update(status="failed")
    again = pipelines.run_request(pipeline="eod", date=TODAY, trigger="api", actor="pm")
    assert (again.pk, again.recoveries, again.trigger) == (run.pk, 0, "api")


def test_a_request_takes_over_a_run_of_a_silent_cluster_at_once(db):
    """The takeover of a request sees a cluster's silence too, whatever the host."""
    from portfolio.models import CapitalFlow

    CapitalFlow.objects.create(date=dt.date(2024, 3, 1), amount=1_000_000)
    beat(DEAD, seconds_ago=181)
    running(DEAD)
    run = pipelines.run_request(pipeline="eod", date=TODAY, trigger="api", actor="pm")
    assert run.status == "queued"
    assert f"took over a running run (its cluster {DEAD} stopped heartbeating" in run.note


# --- The heartbeats /health/ reads -----------------------------------------------------------


def test_health_reads_the_latest_heartbeat_of_any_cluster(db):
    beat(DEAD, seconds_ago=3000)
    beat(LIVE, seconds_ago=12)
    assert health.heartbeat_age() == dt.timedelta(seconds=12)


def test_a_heartbeat_records_its_host_and_pid_and_drops_those_a_day_old(db, monkeypatch):
    import os
    import socket

    beat(DEAD, seconds_ago=86_401)
    beat("e" * 32, seconds_ago=86_399)
    monkeypatch.setenv(pipelines.CLUSTER_ID_VARIABLE, LIVE)
    health.heartbeat()
    rows = Heartbeat.objects.order_by("name").values_list("name", "host", "pid", "seen_at")
    assert list(rows) == [
        (LIVE, socket.gethostname(), os.getpid(), timezone.now()),
        ("e" * 32, "other-host", 4242, NOW - dt.timedelta(seconds=86_399)),
    ]


# --- Two passes at once (PostgreSQL's row locks) ------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_passes_at_once_queue_the_date_again_once():
    beat(DEAD, seconds_ago=600)
    run = running(DEAD)
    passes = at_once([lambda: pipelines.runs_recover(by=BY) for _ in range(4)])
    assert sorted(len(recovered) for recovered in passes) == [0, 0, 0, 1]
    run.refresh_from_db()
    assert (run.status, run.recoveries, run.note.count("queued again by")) == ("queued", 1, 1)
    assert queued_tasks() == [("ops.pipelines.run_task", (run.pk,))]
    connection.close()
