"""Claims of one pipeline and business date at the same moment, on PostgreSQL's row locks:
one run claims the date and runs it, every other claim is refused naming it (RunBusy in
the code, 409 in the API, a message and a non-zero exit from the command)."""

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django_q.models import Schedule

from ops import pipelines
from ops.models import PipelineRun
from portfolio.models import CapitalFlow
from tests.concurrency import at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DATE = dt.date(2024, 3, 15)  # a business day, after the fund's inception below
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def _fixed_clock() -> Iterator[None]:
    """The real clock here (the suite's travels in this process only): the command run in
    a subprocess must judge the run's age on the same clock as the run's start."""
    yield


class Eod:
    """An eod of one step that records each run and holds it running until `release`."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.release = threading.Event()

    def step(self, date: dt.date, actor: str) -> str:
        self.ran.append(threading.current_thread().name)
        assert self.release.wait(timeout=60), "never released"
        return "done"


@pytest.fixture
def eod(monkeypatch: pytest.MonkeyPatch) -> Eod:
    CapitalFlow.objects.create(date=dt.date(2024, 3, 1), amount=Decimal("1000000.00"))
    held = Eod()
    monkeypatch.setitem(pipelines.PIPELINES, "eod", [pipelines.Step("mark_to_market", held.step)])
    return held


def claims_at_once(
    count: int, claim: Callable[[], Any], *, then: Callable[[list[BaseException]], None]
) -> tuple[list[Any], list[BaseException]]:
    """`claim` in `count` threads released together: what they returned and raised. `then`
    is called with the refusals as each one arrives."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    refusals: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            barrier.wait()
            result = claim()
            with lock:
                results.append(result)
        except BaseException as error:  # collected and asserted by the test
            with lock:
                refusals.append(error)
                then(refusals)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, name=f"claim-{n}") for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads)
    return results, refusals


@pytest.mark.parametrize("existing", [False, True], ids=["first-run", "run-again"])
@pytest.mark.parametrize("count", [2, 4, 8])
def test_simultaneous_claims_of_one_date_run_it_once(eod, count, existing):
    """The date's run is new (its row created at the same moment by every claim) or ran
    before. The run holds its date until every other claim has been answered."""
    if existing:
        eod.release.set()
        pipelines.pipeline_run(pipeline="eod", date=DATE, actor="earlier")
        eod.ran.clear()
        eod.release.clear()

    def all_refused(refusals: list[BaseException]) -> None:
        if len(refusals) == count - 1:
            eod.release.set()

    runs, refusals = claims_at_once(
        count,
        lambda: pipelines.pipeline_run(pipeline="eod", date=DATE, actor="test"),
        then=all_refused,
    )
    busy = [error for error in refusals if isinstance(error, pipelines.RunBusy)]
    assert len(busy) == len(refusals) == count - 1, refusals
    [run] = runs
    assert (run.status, run.requested_by, len(eod.ran)) == ("succeeded", "test", 1)
    assert {error.run_id for error in busy} == {run.pk}
    assert {error.status for error in busy} <= {"queued", "running"}
    assert all(f"(run {run.pk}) is already" in str(error) for error in busy)
    assert list(PipelineRun.objects.values_list("pk", "status")) == [(run.pk, "succeeded")]


def test_simultaneous_api_requests_enqueue_one_run(eod, api_client_for):
    count = 4
    clients = [api_client_for("ops") for _ in range(count)]
    answers = at_once(
        [
            lambda client=client: client.post(
                "/api/pipelines/eod/run/", {"date": str(DATE)}, format="json"
            )
            for client in clients
        ]
    )
    assert sorted(answer.status_code for answer in answers) == [202] + [409] * (count - 1)
    [queued] = [answer.json() for answer in answers if answer.status_code == 202]
    for busy in (answer.json() for answer in answers if answer.status_code == 409):
        assert (busy["run_id"], busy["status"]) == (queued["run_id"], "queued")
        assert busy["detail"].startswith(f"The eod run of {DATE} (run {queued['run_id']})")
    assert list(PipelineRun.objects.values_list("pk", "status")) == [(queued["run_id"], "queued")]


def test_the_command_refuses_a_date_that_is_running_with_a_message_and_exit_1(eod):
    def first() -> None:
        try:
            pipelines.pipeline_run(pipeline="eod", date=DATE, actor="first")
        finally:
            connection.close()

    runner = threading.Thread(target=first)
    runner.start()
    try:
        while not eod.ran and runner.is_alive():  # until the run holds its date
            runner.join(timeout=0.05)
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        }
        command = [sys.executable, "manage.py", "run_pipeline", "eod", "--date", str(DATE)]
        second = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        eod.release.set()
        runner.join(timeout=60)
    run = PipelineRun.objects.get()
    assert second.returncode == 1, second.stderr
    assert f"The eod run of {DATE} (run {run.pk}) is already running" in second.stderr
    assert "Use --force if its worker died." in second.stderr
    assert (run.status, run.requested_by, len(eod.ran)) == ("succeeded", "first", 1)


def test_setup_schedules_at_once_leave_one_schedule_of_each(db):
    """Servers starting together each run setup_schedules (scripts/serve.sh)."""
    count = 4
    done, refusals = claims_at_once(
        count, lambda: call_command("setup_schedules", stdout=StringIO()), then=lambda _: None
    )
    assert (len(done), refusals) == (count, [])
    names = list(Schedule.objects.order_by("name").values_list("name", flat=True))
    assert names == ["pms-eod", "pms-preopen"]
