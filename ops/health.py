"""Health of the running system: the database, the cache and the scheduler.

`GET /health/` answers these three for load balancers and monitors: 200 "ok"; 200
"degraded" when the cache or the cluster fails (the API still answers from the database);
503 "down" only when the database does, within the web requests' connect timeout.
`verify_system` and `/metrics` use the same checks. They are cheap: two indexed queries
and one cache round trip.

The scheduler is alive when the cluster's heartbeat is recent: the `pms-heartbeat`
schedule runs `heartbeat` every minute, so a recent row proves that the cluster's
scheduler fires schedules and that a worker runs tasks; and the pipelines' schedules exist.
"""

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import Schedule

from . import pipelines
from .models import Heartbeat

CLUSTER = "cluster"
HEARTBEAT_SCHEDULE = "pms-heartbeat"


def heartbeat() -> None:
    """The cluster's task, every minute: it is alive."""
    Heartbeat.objects.update_or_create(name=CLUSTER, defaults={"seen_at": timezone.now()})


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
    """How long ago the cluster was last seen; None if never."""
    seen = Heartbeat.objects.filter(name=CLUSTER).values_list("seen_at", flat=True).first()
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
    missing = wanted - set(Schedule.objects.filter(name__in=wanted).values_list("name", flat=True))
    if missing:
        return False, f"schedules missing: {', '.join(sorted(missing))}; run setup_schedules"
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
