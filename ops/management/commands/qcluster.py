"""`manage.py qcluster`: django-q2's cluster, stopped within PMS_CLUSTER_STOP_SECONDS of a
SIGTERM or SIGINT.

django-q2 lets each worker finish its task before it stops, which for a pipeline can be
many minutes: a deploy or `systemctl stop` would hang. Here the stop is asked for as
usual; past the deadline the cluster's processes are killed, and the pipeline runs they
were executing are recorded as interrupted, so that the next run of their date proceeds
at once (`pipelines.abandoned`).
"""

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from core.calendar import utc_iso
from ops.models import PipelineRun
from ops.pipelines import this_worker


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


class BoundedStopCluster(Cluster):
    def sig_handler(self, signum: int, frame: Any) -> None:
        stopper = threading.Thread(target=self.stop, daemon=True)
        stopper.start()
        stopper.join(settings.PMS_CLUSTER_STOP_SECONDS)
        if self.sentinel is not None and self.sentinel.is_alive():
            self.force_stop()

    def force_stop(self) -> None:
        """Kill the cluster's processes; record the runs they were running as interrupted."""
        processes = descendants(os.getpid())
        for pid in processes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        host = this_worker().split(":")[0]
        workers = [f"{host}:{pid}" for pid in processes]
        PipelineRun.objects.filter(status=PipelineRun.Status.RUNNING, worker__in=workers).update(
            status=PipelineRun.Status.FAILED,
            error="interrupted: the cluster was stopped while this run was running",
            note=f"{utc_iso(timezone.now())}: interrupted by the cluster's shutdown.",
            finished_at=timezone.now(),
        )
        time.sleep(0.1)
        os._exit(0)


class Command(DjangoQCommand):
    help = (
        "Starts the django-q2 cluster; SIGTERM or SIGINT stops it within "
        "PMS_CLUSTER_STOP_SECONDS (a task still running then is ended and its pipeline run "
        "recorded as interrupted)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 — the cluster signs its tasks with it
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = BoundedStopCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
