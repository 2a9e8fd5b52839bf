"""gunicorn settings of PMS: `.venv/bin/gunicorn -c pms_site/gunicorn.conf.py pms_site.wsgi`,
in production and in the demo alike (`scripts/serve.sh` starts it so, with 2 workers unless
PMS_WEB_WORKERS is set). The static files are served by the application (WhiteNoise).

Environment: PMS_BIND (default 127.0.0.1:8000), PMS_WEB_WORKERS (default 2 per core + 1),
PMS_WEB_TIMEOUT (seconds, default 60), PMS_ACCESS_LOG (a file, or "-" for stdout).
"""

import gc
import multiprocessing
import os
from typing import Any

from prometheus_client import multiprocess

bind = os.environ.get("PMS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PMS_WEB_WORKERS", str(multiprocessing.cpu_count() * 2 + 1)))
timeout = int(os.environ.get("PMS_WEB_TIMEOUT", "60"))
preload_app = True  # the application is imported once, in the master, then forked
accesslog = os.environ.get("PMS_ACCESS_LOG") or None  # "-" for stdout


def pre_fork(server: Any, worker: Any) -> None:
    # The objects of the loaded application live as long as the process: kept out of the
    # garbage collector's scans, a full collection no longer walks them at every request
    # burst (and the workers share those pages with the master).
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    # Metrics in multiprocess mode (PROMETHEUS_MULTIPROC_DIR): a dead worker's gauges go.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
