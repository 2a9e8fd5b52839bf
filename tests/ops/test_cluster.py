"""The django-q2 cluster as an operator sees it: `manage.py qcluster` in a subprocess,
killed outright (`kill -9`), on a database of its own (a SQLite file migrated here), so
that this runs on either pass of the suite."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
