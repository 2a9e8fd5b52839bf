"""Health of the running system: the database, the cache and the scheduler.

`GET /health/` answers these three for load balancers and monitors: 200 "ok"; 200
"degraded" when the cache or the cluster fails (the API still answers from the database);
503 "down" only when the database does, within the web requests' connect timeout.
`verify_system` and `/metrics` use the same checks. They are cheap: two indexed queries
and one cache round trip.

The scheduler is alive when a cluster's heartbeat is recent (each `manage.py qcluster`
writes its own several times within PMS_HEARTBEAT_MAX_AGE_SECONDS while its sentinel
lives), the pipelines' schedules exist, and none is overdue by more than that age (with
`catch_up` off, a scheduler that fires a schedule moves its next run into the future).
"""

import datetime as dt
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import Schedule

from core.calendar import utc_iso

from . import pipelines
from .models import Heartbeat

# The schedule that wrote the one heartbeat of every cluster before each cluster wrote its
# own: setup_schedules deletes it.
RETIRED_HEARTBEAT_SCHEDULE = "pms-heartbeat"


def heartbeat(cluster: str = "") -> None:
    """`cluster` is alive now, on this host and pid: by default this process's cluster (its
    id), outside a cluster this process (host:pid). Heartbeats a day old, of clusters long
    gone, are dropped."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=cluster or pipelines.this_cluster() or pipelines.this_worker(),
        defaults={"seen_at": now, "host": socket.gethostname(), "pid": os.getpid()},
    )
    Heartbeat.objects.filter(seen_at__lt=now - dt.timedelta(days=1)).delete()


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    ms: float


def timed(probe: Callable[[], tuple[bool, str]]) -> Check:
    """Run a probe; an exception is a failed check that names it."""
    started = time.perf_counter()
    try:
        ok, detail = probe()
    except Exception as error:  # a check reports, it never raises
        ok, detail = False, f"{type(error).__name__}: {error}".strip()
    return Check(ok, detail, round((time.perf_counter() - started) * 1000, 1))


def heartbeat_age() -> dt.timedelta | None:
    """How long ago a cluster was last seen (the latest heartbeat); None if never."""
    seen = Heartbeat.objects.aggregate(last=Max("seen_at"))["last"]
    return None if seen is None else timezone.now() - seen


def database() -> tuple[bool, str]:
    heartbeat_age()  # the scheduler's query answers for the database too
    return True, "query answered"


def cache_round_trip() -> tuple[bool, str]:
    key, token = "health:probe", secrets.token_hex(8)
    cache.set(key, token, timeout=10)
    if cache.get(key) != token:
        return False, "a value written to the cache was not read back"
    backend = str(settings.CACHES["default"]["BACKEND"])
    return True, f"{backend.rsplit('.', 1)[-1]} round trip"


def scheduler() -> tuple[bool, str]:
    age, limit = heartbeat_age(), settings.PMS_HEARTBEAT_MAX_AGE_SECONDS
    if age is None:
        return False, "no cluster heartbeat yet: start `manage.py qcluster` and run setup_schedules"
    if age.total_seconds() > limit:
        return False, f"cluster last seen {age.total_seconds():.0f} s ago (limit {limit} s)"
    wanted = {f"pms-{name}" for name in pipelines.PIPELINES}
    found = dict(Schedule.objects.filter(name__in=wanted).values_list("name", "next_run"))
    missing = wanted - set(found)
    if missing:
        return False, f"schedules missing: {', '.join(sorted(missing))}; run setup_schedules"
    overdue = sorted(
        name for name, due in found.items() if (timezone.now() - due).total_seconds() > limit
    )
    if overdue:
        return False, (
            f"{', '.join(overdue)} overdue since {utc_iso(min(found[n] for n in overdue))}: "
            "no cluster's scheduler fires schedules"
        )
    return True, f"cluster seen {age.total_seconds():.0f} s ago; pipelines scheduled"


def system_health() -> dict[str, Check]:
    """Every probe; when the database fails, the scheduler (read from it) is not asked."""
    checks = {"database": timed(database)}
    checks["cache"] = timed(cache_round_trip)
    if checks["database"].ok:
        checks["scheduler"] = timed(scheduler)
    else:
        checks["scheduler"] = Check(False, "not checked: the database is unavailable", 0.0)
    return checks


def status_of(checks: dict[str, Check]) -> str:
    """ok; degraded when the cache or the cluster fails (the API still serves, so a load
    balancer keeps the node); down only when the database does."""
    if not checks["database"].ok:
        return "down"
    return "ok" if all(check.ok for check in checks.values()) else "degraded"


@never_cache
@require_GET
def health_view(request: HttpRequest) -> JsonResponse:
    checks = system_health()
    status = status_of(checks)
    response = JsonResponse(
        {"status": status, "checks": {name: asdict(check) for name, check in checks.items()}},
        status=503 if status == "down" else 200,
    )
    if status == "down":
        response["Retry-After"] = "5"
    return response
