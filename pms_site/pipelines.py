"""The scheduled pipelines: end of day and pre-open, run on the django-q2 cluster.

A pipeline is an ordered list of steps; a step calls one domain service (which persists
its results, replacing those of the same date) and then warms the cache keys it feeds.
A step is tried again `PMS_PIPELINE_RETRIES` times, `PMS_PIPELINE_RETRY_SECONDS` apart;
a step that still fails stops the steps after it, fails the run and opens a risk alert
(source `pipeline:<name>`), which the morning pack shows. A run of a date that is not a
business day records itself as skipped.
"""

import datetime as dt
import logging
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.calendar import (
    fund_time_zone,
    is_business_day,
    previous_business_day,
    today,
    utc_iso,
)
from core.errors import Conflict

from . import cache
from .models import PipelineRun

logger = logging.getLogger("pms.pipelines")
Progress = Callable[[str, str], None]  # (step, message)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[dt.date, str], str]  # (business date, actor) → a one-line summary


# --- The steps -------------------------------------------------------------------------------


def _mark(as_of: dt.date, actor: str) -> str:
    """Mark the live book forward to `as_of`; a book already marked later is left as it
    is (it never moves back): that past date is computed from the timeline instead."""
    from portfolio.selectors import last_mark
    from portfolio.services import mark_to_market

    mark = last_mark()
    if mark is not None and mark > as_of:
        return f"the live book is marked as of {mark}: left as it is ({as_of} is in the past)"
    result = mark_to_market(as_of=as_of, actor=actor)
    cache.background.wait()  # the step ends with the book its commit refreshes in the cache
    stale = f"; stale: {', '.join(result.stale)}" if result.stale else ""
    return f"{result.positions_updated} positions marked as of {as_of}{stale}"


def eod_mark(date: dt.date, actor: str) -> str:
    return _mark(date, actor)


def _timeline_through(day: dt.date, actor: str, *, rebuild: bool) -> list[Any]:
    """Build the snapshots of `day` (again, with `rebuild`; else only if missing) and of the
    business days before it back to the last stored one, or the inception, that are
    missing: the fund's history has no holes. Returns what was built."""
    from core.calendar import next_business_day
    from portfolio.models import PortfolioSnapshot
    from portfolio.selectors import inception
    from portfolio.services import snapshots_build

    first = inception()
    if first is None or day < first:
        return []  # before the fund started there is nothing to build
    if not rebuild and PortfolioSnapshot.objects.filter(date=day).exists():
        return []
    before = PortfolioSnapshot.objects.filter(date__lt=day).aggregate(last=Max("date"))["last"]
    start = next_business_day(before) if before else first
    return snapshots_build(start=min(start, day), end=day, actor=actor)


def eod_snapshots(date: dt.date, actor: str) -> str:
    built = _timeline_through(date, actor, rebuild=True)
    fund = built[-1]
    summary = f"NAV {fund.nav:,.2f}, P&L {fund.pnl:,.2f}, {fund.positions} positions"
    if len(built) > 1:
        summary += f"; the {len(built) - 1} missing day(s) before it built from {built[0].date}"
    return summary


def eod_risk(date: dt.date, actor: str) -> str:
    """The risk snapshot and limit check of `date`, from its timeline; the live risk is
    warmed when the live book is of that date."""
    from portfolio.selectors import last_mark
    from risk.selectors import breached
    from risk.services import risk_snapshot_take

    snapshot = risk_snapshot_take(date=date, actor=actor)
    if last_mark() == date:
        cache.warm("risk")  # the default query's answer: method and window defaulted there
    breaches = breached(snapshot.limits)
    var = (
        f"VaR 95% {snapshot.var_95:,.2f}"
        if snapshot.var_95 is not None
        else f"no VaR ({snapshot.var_unavailable})"
    )
    short = snapshot.window_used != snapshot.window
    used = f" over {snapshot.window_used} days of history" if short else ""
    return f"{var}{used}; breaches: {', '.join(breaches) or 'none'}"


ATTRIBUTION_PERIODS = ("daily", "mtd", "ytd")


def eod_attribution(date: dt.date, actor: str) -> str:
    """The attribution of the periods ending at `date`, warmed for `?as_of=<date>` and,
    when `date` is the latest snapshot, for the default (latest) query too."""
    from attribution import selectors
    from portfolio.selectors import fund

    as_ofs: list[dt.date | None] = [date]
    if fund()["last_snapshot"] == date:
        as_ofs.append(None)
    reports = {}
    for period in ATTRIBUTION_PERIODS:
        resolved = selectors.period_resolve(period, as_of=date)
        for by in selectors.DIMENSIONS:
            reports[period, by] = report = selectors.attribution_report(resolved, by)
            for as_of in as_ofs:
                cache.warm("attribution", value=report, period=period, by=by, as_of=as_of)
    mtd = reports["mtd", "strategy"]
    return f"MTD P&L {float(mtd['total_pnl']):,.2f}, return {float(mtd['total_return']):.4%}"


def preopen_mark(date: dt.date, actor: str) -> str:
    return _mark(previous_business_day(date), actor)  # the pack reads the previous close


def preopen_proposals(date: dt.date, actor: str) -> str:
    """The proposals of `date`: a past date's are sized on the timeline of the business
    day before it (built first if it is missing), today's on the live book."""
    from trading.services import proposal_generate

    past = date < today()
    built = _timeline_through(previous_business_day(date), actor, rebuild=False) if past else []
    result = proposal_generate(date=date, actor=actor)
    return (
        f"{len(result.created)} proposals, {result.expired} expired, "
        f"{len(result.skipped)} signals without a trade"
        + (f"; {len(built)} missing day(s) of the timeline built first" if built else "")
    )


def preopen_pack(date: dt.date, actor: str) -> str:
    from briefing.api.serializers import MorningPackSerializer
    from briefing.models import MorningPack
    from briefing.services import morning_pack_generate

    send = bool(settings.PMS_MORNING_PACK_RECIPIENTS)
    pack = morning_pack_generate(date=date, actor=actor, send=send)
    latest = MorningPack.objects.order_by("-date").values_list("date", flat=True).first()
    for day in [date] + ([None] if latest == date else []):
        cache.warm("morning_pack", value=MorningPackSerializer(pack).data, date=day)
    return f"morning pack {pack.date}" + (" emailed" if send else " (no recipients set)")


PIPELINES: dict[str, list[Step]] = {
    "eod": [
        Step("mark_to_market", eod_mark),
        Step("snapshots", eod_snapshots),
        Step("risk", eod_risk),
        Step("attribution", eod_attribution),
    ],
    "preopen": [
        Step("mark_to_market", preopen_mark),
        Step("proposals", preopen_proposals),
        Step("morning_pack", preopen_pack),
    ],
}


# --- Running --------------------------------------------------------------------------------

ACTIVE = (PipelineRun.Status.QUEUED, PipelineRun.Status.RUNNING)


def run_request(
    *, pipeline: str, date: dt.date, trigger: str, actor: str, force: bool = False
) -> PipelineRun:
    """Reserve the run of `pipeline` for `date`: its record is reset to queued. A run of the
    same pipeline and date that is queued or running answers Conflict, unless it is
    abandoned (taken over, recorded in its note) or `force` is given. A date in the future
    or before the fund's inception is a ValidationError: any business date between them
    can run, in any order."""
    from portfolio.services import fund_inception_or_error

    if pipeline not in PIPELINES:
        raise ValueError(f"Unknown pipeline {pipeline!r}: use {', '.join(PIPELINES)}.")
    if date > today():
        raise ValidationError({"date": [f"{date} is in the future."]})
    fund_inception_or_error(date, "date")
    _, created = PipelineRun.objects.get_or_create(
        pipeline=pipeline, business_date=date, defaults={"trigger": trigger, "requested_by": actor}
    )
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pipeline=pipeline, business_date=date)
        if not created and run.status in ACTIVE:
            reason = "with --force" if force else abandoned(run)
            if reason is None:
                raise Conflict(
                    f"The {pipeline} run of {date} is already {run.status} (requested by "
                    f"{run.requested_by} at {run.requested_at:%Y-%m-%d %H:%M:%S} UTC)."
                )
            run.note = (
                f"{utc_iso(timezone.now())}: took over a {run.status} run ({reason}). " + run.note
            )[:2000]
            logger.warning("%s %s: took over a %s run (%s)", pipeline, date, run.status, reason)
        run.status, run.steps, run.error = PipelineRun.Status.QUEUED, [], ""
        run.trigger, run.requested_by, run.requested_at = trigger, actor, timezone.now()
        run.started_at = run.finished_at = run.seconds = None
        run.save()
    return run


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(run: PipelineRun) -> str | None:
    """Why a queued or running run is abandoned and may be taken over, or None: running
    longer than the cluster's task timeout, or by a process of this host that is gone;
    queued longer than the broker's retry (no worker took it)."""
    now = timezone.now()
    cluster: dict[str, Any] = settings.Q_CLUSTER
    timeout, retry = int(cluster["timeout"]), int(cluster["retry"])
    if run.status == PipelineRun.Status.RUNNING:
        started = run.started_at or run.requested_at
        if (now - started).total_seconds() > timeout:
            return (
                f"running since {utc_iso(started)}, past the cluster's {timeout} s task "
                "timeout: its worker died"
            )
        host, _, pid = run.worker.partition(":")
        if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
            return f"its worker {run.worker} is gone"
    elif (now - run.requested_at).total_seconds() > retry:
        return f"queued since {utc_iso(run.requested_at)}, past the broker's {retry} s retry"
    return None


def _claim(run_id: int) -> PipelineRun | None:
    """Take a queued run; None when another worker took it already."""
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pk=run_id)
        if run.status != PipelineRun.Status.QUEUED:
            return None
        steps = PIPELINES[run.pipeline]
        run.status, run.started_at = PipelineRun.Status.RUNNING, timezone.now()
        run.steps = [{"name": s.name, "status": "pending", "attempts": 0} for s in steps]
        run.worker = this_worker()
        run.save(update_fields=["status", "started_at", "steps", "worker"])
    return run


def execute(run_id: int, *, progress: Progress | None = None) -> PipelineRun:
    """Run a queued run's steps in order, recording each; see the module's docstring."""
    say = progress or (lambda step, message: logger.info("%s: %s", step, message))
    run = _claim(run_id)
    if run is None:
        return PipelineRun.objects.get(pk=run_id)
    started = time.monotonic()
    if not is_business_day(run.business_date):
        run.status, run.error = PipelineRun.Status.SKIPPED, ""
        for record in run.steps:
            record["status"] = "skipped"
        say(run.pipeline, f"{run.business_date} is not a business day: skipped")
        return _finish(run, started)
    retries = int(settings.PMS_PIPELINE_RETRIES)
    for step, record in zip(PIPELINES[run.pipeline], run.steps, strict=True):
        record.update(status="running", started_at=utc_iso(timezone.now()))
        run.save(update_fields=["steps"])
        step_started = time.monotonic()
        for attempt in range(1, retries + 2):
            record["attempts"] = attempt
            try:
                record["summary"] = step.run(run.business_date, f"pipeline:{run.pipeline}")
                record.update(status="succeeded", error="")
                say(step.name, record["summary"])
                break
            except Exception as error:  # a step's failure is recorded, never lost
                record.update(status="failed", error=_describe(error))
                say(step.name, f"attempt {attempt} failed: {record['error']}")
                if attempt <= retries:
                    run.save(update_fields=["steps"])
                    time.sleep(float(settings.PMS_PIPELINE_RETRY_SECONDS))
        record.update(
            finished_at=utc_iso(timezone.now()),
            seconds=round(time.monotonic() - step_started, 3),
        )
        if record["status"] == "failed":
            run.status = PipelineRun.Status.FAILED
            run.error = f"{step.name}: {record['error']}"
            later = run.steps[run.steps.index(record) + 1 :]
            for skipped in later:
                skipped["status"] = "not run"
            _alert(run)
            return _finish(run, started)
        run.save(update_fields=["steps"])
    run.status = PipelineRun.Status.SUCCEEDED
    _resolve_alert(run)
    return _finish(run, started)


def _describe(error: Exception) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {error} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"


def _finish(run: PipelineRun, started: float) -> PipelineRun:
    run.finished_at = timezone.now()
    run.seconds = round(time.monotonic() - started, 3)
    run.save()
    return run


def _source(run: PipelineRun) -> str:
    return f"pipeline:{run.pipeline}"


def _alert(run: PipelineRun) -> None:
    from risk.services import pipeline_alert_open

    pipeline_alert_open(
        source=_source(run),
        date=run.business_date,
        message=f"The {run.pipeline} pipeline failed at {run.error}",
        actor=_source(run),
    )


def _resolve_alert(run: PipelineRun) -> None:
    from risk.services import pipeline_alert_resolve

    pipeline_alert_resolve(source=_source(run), date=run.business_date, actor=_source(run))


# --- Entry points ------------------------------------------------------------------------------


def pipeline_run(
    *,
    pipeline: str,
    date: dt.date,
    actor: str,
    trigger: str = "command",
    force: bool = False,
    progress: Progress | None = None,
) -> PipelineRun:
    """Run in this process (the command, the tests)."""
    run = run_request(pipeline=pipeline, date=date, trigger=trigger, actor=actor, force=force)
    return execute(run.pk, progress=progress)


def pipeline_enqueue(
    *, pipeline: str, date: dt.date, actor: str, trigger: str = "api", force: bool = False
) -> PipelineRun:
    """Reserve the run and hand it to the cluster, once the reservation is committed."""
    from django_q.tasks import async_task

    run = run_request(pipeline=pipeline, date=date, trigger=trigger, actor=actor, force=force)
    transaction.on_commit(
        lambda: async_task("pms_site.pipelines.run_task", run.pk, task_name=f"{run}"[:100])
    )
    return run


def run_task(run_id: int) -> str:
    """The cluster's task: run a reserved run."""
    run = execute(run_id)
    return f"{run.pipeline} {run.business_date}: {run.status}"


def due_date(pipeline: str, now: dt.datetime) -> dt.date | None:
    """The business date of the pipeline's last scheduled slot that is more than
    PMS_PIPELINE_LATE_MINUTES old at `now`; None when that slot fell on a holiday."""
    grace = dt.timedelta(minutes=settings.PMS_PIPELINE_LATE_MINUTES)
    slot = croniter(settings.PMS_SCHEDULES[pipeline], now - grace).get_prev(dt.datetime)
    day = timezone.localdate(slot, fund_time_zone())  # the slot's business date in São Paulo
    return day if is_business_day(day) else None


def recent_runs(count: int) -> list[PipelineRun]:
    """The last `count` runs requested, the latest first."""
    return list(PipelineRun.objects.order_by("-requested_at", "-id")[:count])


def latest_runs() -> dict[str, PipelineRun]:
    """The run of the latest business date of each pipeline that has run."""
    runs = (
        PipelineRun.objects.filter(pipeline=p).order_by("-business_date").first() for p in PIPELINES
    )
    return {run.pipeline: run for run in runs if run is not None}


def late_pipelines(now: dt.datetime | None = None) -> dict[str, dt.date]:
    """The pipelines that have not succeeded for the date of their last due slot, with
    that date (one query)."""
    now = now or timezone.now()
    due = {p: d for p in PIPELINES if (d := due_date(p, now)) is not None}
    done = set(
        PipelineRun.objects.filter(
            pipeline__in=due,
            business_date__in=set(due.values()),
            status=PipelineRun.Status.SUCCEEDED,
        ).values_list("pipeline", "business_date")
    )
    return {p: d for p, d in due.items() if (p, d) not in done}


def scheduled(pipeline: str) -> str:
    """What a schedule calls: the pipeline for today's business date (São Paulo)."""
    try:
        run = pipeline_run(pipeline=pipeline, date=today(), actor="scheduler", trigger="schedule")
    except (Conflict, ValidationError) as refused:
        logger.warning("%s %s not run: %s", pipeline, today(), refused)
        return str(refused)
    return f"{run.pipeline} {run.business_date}: {run.status}"


def failed_runs(since: dt.date) -> list[dict[str, Any]]:
    """What failed from `since` on, as {name, task, stopped, error}: the failed runs of the
    business dates since, by date and pipeline, then the cluster's failed tasks stopped
    since that day began (UTC), the latest 20 first, which died outside a run's own record
    (a crash, a timeout). Two queries."""
    from django_q.models import Failure

    runs = PipelineRun.objects.filter(
        status=PipelineRun.Status.FAILED, business_date__gte=since
    ).order_by("business_date", "pipeline")
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    failures = Failure.objects.filter(stopped__gte=start).order_by("-stopped")[:20]
    return [
        {
            "name": f"{run.pipeline} {run.business_date}",
            "task": run.pipeline,
            "stopped": run.finished_at or run.requested_at,
            "error": run.error,
        }
        for run in runs
    ] + [
        {"name": f.name, "task": f.func, "stopped": f.stopped, "error": str(f.result)}
        for f in failures
    ]
