"""`manage.py qcluster`: django-q2's cluster, stopped within PMS_CLUSTER_STOP_SECONDS of a
SIGTERM or SIGINT, and never outliving its parent process.

django-q2 lets each worker finish its task before it stops, which for a pipeline can be
many minutes: a deploy or `systemctl stop` would hang. Here the stop is asked for as
usual; past the deadline the cluster's processes are killed, and the pipeline runs they
were executing are recorded as interrupted and their dates queued again.

A parent killed outright (`kill -9`, the out-of-memory killer) runs no handler: django-q2's
sentinel, workers, monitor and pusher would live on as orphans, still scheduling, and a
new qcluster would make a second cluster. So every process of the cluster asks the kernel
to kill it when its parent dies (`die_with_parent`): the sentinel dies with the qcluster,
and its children with it.

Each cluster heartbeats (its id, host and pid) and, in the same pass, queues again the
runs that are abandoned: their cluster stopped heartbeating, on whatever host
(`pipelines.runs_recover`).
"""

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from ops import health, pipelines

logger = logging.getLogger("pms.cluster")


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (Linux /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        below = [child for parent in frontier for child in children.get(parent, [])]
        found += below
        frontier = below
    return found


# prctl(2): the signal a process receives when the thread that forked it ends.
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """From now on, every process this one forks, and those forks fork in turn, is killed
    (SIGKILL) when its parent dies. Linux only (prctl); elsewhere nothing changes.

    The kernel sends the signal when the *thread* that forked the child ends, so only forks
    from a main thread are armed: django-q2 forks the sentinel from the qcluster's main
    thread, and the workers, the monitor and the pusher from the sentinel's (multiprocessing's
    "fork" start method, which runs these hooks; `subprocess` does not). A child whose parent
    died between the fork and the prctl would never get the signal: it exits at once.
    """
    if not sys.platform.startswith("linux"):
        return
    prctl = ctypes.CDLL(None).prctl
    forking = {"parent": 0}  # the forking process's pid, 0 when a side thread forks

    def before() -> None:
        main = threading.current_thread() is threading.main_thread()
        forking["parent"] = os.getpid() if main else 0

    def in_child() -> None:
        if not forking["parent"]:
            return
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # fails only for a bad signal
        if os.getppid() != forking["parent"]:
            os._exit(1)

    os.register_at_fork(before=before, after_in_child=in_child)


class BoundedStopCluster(Cluster):
    def sig_handler(self, signum: int, frame: Any) -> None:
        stopper = threading.Thread(target=self.stop, daemon=True)
        stopper.start()
        stopper.join(settings.PMS_CLUSTER_STOP_SECONDS)
        if self.sentinel is not None and self.sentinel.is_alive():
            self.force_stop()

    def force_stop(self) -> None:
        """Kill the cluster's processes; record the runs they were running as interrupted
        and queue their dates again, for the next cluster to run."""
        for pid in descendants(os.getpid()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            pipelines.runs_recover(by=self.title, stopped=self.cluster_id.hex)
        finally:
            time.sleep(0.1)
            os._exit(0)

    @property
    def title(self) -> str:
        return f"cluster {self.cluster_id.hex} ({self.name})"

    def watch(self) -> None:
        """The cluster's heartbeat and scheduler pass, every PMS_HEARTBEAT_MAX_AGE_SECONDS / 6
        while its sentinel lives, in a thread of the qcluster's own process."""
        every = settings.PMS_HEARTBEAT_MAX_AGE_SECONDS / 6
        while self.sentinel is not None and self.sentinel.is_alive():
            try:
                health.heartbeat()
                pipelines.runs_recover(by=self.title)
            except Exception:  # the database is away: the next beat tries again
                logger.exception("%s: heartbeat or scheduler pass failed", self.title)
            finally:
                close_old_connections()
            time.sleep(every)


class Command(DjangoQCommand):
    help = (
        "Starts the django-q2 cluster; SIGTERM or SIGINT stops it within "
        "PMS_CLUSTER_STOP_SECONDS (a task still running then is ended, and its pipeline run "
        "recorded as interrupted and queued again). Its processes die with it, even on "
        "kill -9; it heartbeats, and queues again the runs of clusters that stopped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 — the cluster signs its tasks with it
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        die_with_parent()
        cluster = BoundedStopCluster()
        # Its id, for the runs its workers claim; its first heartbeat, before any worker can
        # claim one (a running run whose cluster has no heartbeat is taken for abandoned).
        os.environ[pipelines.CLUSTER_ID_VARIABLE] = cluster.cluster_id.hex
        health.heartbeat()
        connections.close_all()  # the forked processes open their own
        cluster.start()
        # Not a django-q2 schedule: that runs in a worker, which long pipelines may all
        # occupy for up to the task timeout, and in one cluster per slot; this pass runs in
        # every live cluster (each sees the dead worker pids of its own host) and at once.
        threading.Thread(target=cluster.watch, name="pms-heartbeat", daemon=True).start()
        if options.get("run_once", False):
            cluster.stop()
