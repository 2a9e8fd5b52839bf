"""Prometheus metrics at `/metrics`.

Two kinds:
- Counted in the web processes: requests (by route and status) and their duration, and the
  cached data sets' hits, misses and bypasses (Redis down). Under gunicorn each worker
  counts its own: set PROMETHEUS_MULTIPROC_DIR to an empty folder (emptied at each start)
  and any worker answers for all (prometheus_client's multiprocess mode).
- Read from the database at each scrape, so that they hold whichever process did the
  work (the cluster runs the pipelines): open alerts, stale prices, the pipelines' last
  runs and lateness, the cluster's heartbeat, the health checks and the age of the last
  backup.

Set PMS_METRICS_TOKEN and the scraper must send `Authorization: Bearer <token>`.
The alert rules that read these are in `deploy/prometheus/pms-alerts.yml`.
"""

import datetime as dt
import functools
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from portfolio.selectors import close_due, stale_instruments
from risk.models import RiskAlert

from . import health, pipelines
from .backups import latest_backup
from .models import PipelineRun

REQUESTS = Counter(
    "pms_http_requests",
    "HTTP requests answered, by route and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "pms_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


@functools.cache
def _latency(route: str) -> Any:
    return LATENCY.labels(route)


@functools.lru_cache(maxsize=4096)
def _requests(method: str, route: str, status: int) -> Any:
    return REQUESTS.labels(method, route, str(status))


class MetricsMiddleware:
    """Counts every request by its route pattern and method (bounded sets of labels: any
    other method a client sends is counted as OTHER). Each label set's child is bound
    once per process, not looked up on every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        route = match.route if match else "unmatched"
        _latency(route).observe(time.perf_counter() - started)
        method = request.method if request.method in METHODS else "OTHER"
        _requests(method, route, response.status_code).inc()
        return response


class DomainCollector(Collector):
    """The fund's state, read from the database at each scrape (a handful of queries)."""

    def collect(self) -> Iterator[Metric]:
        checks = health.system_health()
        up = GaugeMetricFamily("pms_up", "Health checks of /health/: 1 passing.", labels=["check"])
        for name, check in checks.items():
            up.add_metric([name], float(check.ok))
        yield up
        if checks["database"].ok:
            yield from _database_metrics()
        age = GaugeMetricFamily(
            "pms_backup_age_seconds",
            "Age of the newest backup under PMS_BACKUP_DIR (+Inf: none).",
        )
        age.add_metric([], _backup_age())
        yield age


def _database_metrics() -> Iterator[Metric]:
    """The fund's metrics read from the database, in their order on the page."""
    yield _open_alerts()
    yield _stale_prices()
    yield _last_runs()
    yield _late_pipelines()
    yield _heartbeat_age()


def _open_alerts() -> Metric:
    alerts = GaugeMetricFamily(
        "pms_open_alerts",
        "Risk alerts not resolved, by kind (limit or pipeline) and status.",
        labels=["kind", "status"],
    )
    counts = {
        row["status"]: row
        for row in RiskAlert.objects.exclude(status=RiskAlert.Status.RESOLVED)
        .values("status")
        .order_by()
        .annotate(with_limit=Count("limit"), every=Count("id"))
    }
    for status in (RiskAlert.Status.OPEN, RiskAlert.Status.ACKNOWLEDGED):
        row = counts.get(status, {"with_limit": 0, "every": 0})
        alerts.add_metric(["limit", status], row["with_limit"])
        alerts.add_metric(["pipeline", status], row["every"] - row["with_limit"])  # no limit
    return alerts


def _stale_prices() -> Metric:
    stale = GaugeMetricFamily(
        "pms_stale_prices",
        "Instruments held without the close due: today's after PMS_CLOSE_TIME on a business "
        "day, else the previous business day's.",
    )
    stale.add_metric([], len(stale_instruments(close_due())))
    return stale


def _last_runs() -> Metric:
    last = GaugeMetricFamily(
        "pms_pipeline_last_run",
        "The latest run of each pipeline: its business date (Unix time), duration, and "
        "whether it failed.",
        labels=["pipeline", "field"],
    )
    for pipeline, run in pipelines.latest_runs().items():
        day = dt.datetime.combine(run.business_date, dt.time.min, tzinfo=dt.UTC)
        last.add_metric([pipeline, "business_date"], day.timestamp())
        last.add_metric([pipeline, "seconds"], run.seconds or 0.0)
        last.add_metric([pipeline, "failed"], float(run.status == PipelineRun.Status.FAILED))
    return last


def _late_pipelines() -> Metric:
    late = GaugeMetricFamily(
        "pms_pipeline_late",
        "1 when a pipeline has not succeeded for its last due slot's business date "
        "(PMS_PIPELINE_LATE_MINUTES after the slot).",
        labels=["pipeline"],
    )
    overdue = pipelines.late_pipelines()
    for pipeline in pipelines.PIPELINES:
        late.add_metric([pipeline], float(pipeline in overdue))
    return late


def _heartbeat_age() -> Metric:
    heartbeat = GaugeMetricFamily(
        "pms_cluster_heartbeat_age_seconds",
        "Seconds since the latest heartbeat of any django-q2 cluster.",
    )
    seen = health.heartbeat_age()
    heartbeat.add_metric([], float("inf") if seen is None else seen.total_seconds())
    return heartbeat


def _backup_age() -> float:
    found = latest_backup(Path(settings.PMS_BACKUP_DIR))
    return float("inf") if found is None else (timezone.now() - found[1]).total_seconds()


def _authorized(request: HttpRequest) -> bool:
    token = settings.PMS_METRICS_TOKEN
    if not token:
        return True
    sent = request.headers.get("Authorization", "")
    return secrets.compare_digest(sent.encode(), f"Bearer {token}".encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.DEBUG and not settings.PMS_METRICS_TOKEN:
        raise Http404("/metrics is off: set PMS_METRICS_TOKEN to serve it.")
    if not _authorized(request):
        return HttpResponse("Bearer token required (PMS_METRICS_TOKEN).\n", status=401)
    domain = CollectorRegistry(auto_describe=False)
    domain.register(DomainCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(process)
    else:
        process = REGISTRY
    body = generate_latest(process) + generate_latest(domain)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
