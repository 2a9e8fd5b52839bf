"""The django-q2 cluster as an operator sees it: `manage.py qcluster` in a subprocess,
killed outright (`kill -9`). Its processes die with it (on a database of its own, a SQLite
file migrated here, so that this runs on either pass of the suite); the run it was running
is taken over and run again by another cluster (on the test's PostgreSQL database)."""

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_q.humanhash import humanize

from ops import pipelines
from ops.models import Heartbeat, PipelineRun
from portfolio.models import CapitalFlow

ROOT = Path(__file__).resolve().parents[2]
DATE = dt.date(2024, 3, 15)  # a business day, after the fund's inception below


@pytest.fixture
def _fixed_clock() -> Iterator[None]:
    """The real clock: the cluster in a subprocess beats on it."""
    yield


def cluster_env(var: Path, **extra: str) -> dict[str, str]:
    """A cluster's environment on the SQLite file and the file cache under `var`; DEBUG=1
    spares it the production settings (SECRET_KEY, ALLOWED_HOSTS)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return (
        env | {"DEBUG": "1", "PMS_VAR_DIR": str(var), "PMS_CACHE_DIR": str(var / "cache")} | extra
    )


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def children_of(pid: int) -> list[int]:
    """The processes under `pid`, from /proc."""
    from ops.management.commands.qcluster import descendants

    return [child for child in descendants(pid) if alive(child)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl: Linux")
def test_kill_9_of_the_qcluster_leaves_no_process_of_its_cluster(tmp_path):
    env = cluster_env(tmp_path, PMS_Q_WORKERS="2")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    family: list[int] = []
    try:
        # The sentinel, then under it two workers, the monitor and the pusher.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(children_of(cluster.pid)) < 5:
            time.sleep(0.2)
        family = children_of(cluster.pid)
        assert len(family) == 5, family
        cluster.send_signal(signal.SIGKILL)
        cluster.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(pid) for pid in family):
            time.sleep(0.1)
        assert not [pid for pid in family if alive(pid)]
    finally:
        for pid in [cluster.pid, *family]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        cluster.wait()


def start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A cluster whose eod holds until the gate file exists (tests/ops/held_cluster.py),
    once it heartbeats: it and its id."""
    cluster = subprocess.Popen(
        [sys.executable, "-m", "tests.ops.held_cluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        beat = Heartbeat.objects.filter(pid=cluster.pid).first()
        if beat is not None:
            return cluster, beat.name
        time.sleep(0.2)
    cluster.kill()
    raise AssertionError("the cluster never heartbeat")


def wait_for(condition: Any, seconds: float) -> PipelineRun:
    """The run, once `condition(run)` holds (polled), within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        run = PipelineRun.objects.get()
        if condition(run) or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("host", ["this", "another"])
def test_a_run_killed_mid_step_is_run_again_by_another_cluster(tmp_path, host):
    """Its cluster killed (kill -9) in the step: the other live cluster's pass records it
    interrupted, queues its date again, and runs it. On this host the dead worker is seen
    at once; on another (the run's worker rewritten so), once the killed cluster's
    heartbeat is older than PMS_HEARTBEAT_MAX_AGE_SECONDS."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DEBUG": "1",
        "PMS_Q_WORKERS": "1",
        "PMS_HEARTBEAT_MAX_AGE_SECONDS": "6",  # a beat a second
        "PMS_TEST_GATE": str(tmp_path / "gate"),
    }
    CapitalFlow.objects.create(date=dt.date(2024, 3, 1), amount=Decimal("1000000.00"))
    first, first_id = start(env)
    second = None
    try:
        pipelines.pipeline_enqueue(pipeline="eod", date=DATE, actor="test")
        run = wait_for(lambda run: run.steps and run.steps[0]["status"] == "running", 60)
        assert (run.status, run.cluster, run.steps[0]["status"]) == ("running", first_id, "running")
        family = children_of(first.pid)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed = time.monotonic()
        if host == "another":
            PipelineRun.objects.update(worker=f"another-host:{first.pid + 1}")
        (tmp_path / "gate").touch()  # the next run of the step goes through
        second, second_id = start(env)
        run = wait_for(lambda run: run.status not in ("queued", "running"), 60)
        assert time.monotonic() - killed < 30
        assert not [pid for pid in family if alive(pid)]
    finally:
        for cluster in (first, second):
            if cluster is not None and cluster.poll() is None:
                cluster.send_signal(signal.SIGTERM)
                cluster.wait(timeout=30)
    assert (run.status, run.cluster, run.trigger, run.recoveries) == (
        "succeeded",
        second_id,
        "recovery",
        1,
    )
    assert run.requested_by == f"cluster {second_id} ({humanize(second_id)})"
    assert run.steps[0]["summary"] == "let through"
    reason = {
        "this": rf"its worker {socket.gethostname()}:\d+ is gone",
        "another": rf"its cluster {first_id} stopped heartbeating: last seen \S+Z, \d+ s ago "
        r"\(limit 6 s\)",
    }[host]
    assert re.fullmatch(
        rf"\S+Z: a running run interrupted in step mark_to_market \(attempt 1\): {reason}; "
        rf"queued again by cluster {second_id} \(\S+\)\. ",
        run.note,
    ), run.note
