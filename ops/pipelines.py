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
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django_q.models import Failure
from django_q.tasks import async_task

from attribution import selectors
from briefing.models import MorningPack
from briefing.services import morning_pack_generate
from core.calendar import (
    fund_time_zone,
    is_business_day,
    next_business_day,
    previous_business_day,
    today,
    utc_iso,
)
from core.errors import Conflict
from pms_site import cache
from portfolio.models import OfficialNav, PortfolioSnapshot
from portfolio.selectors import BREAK, MISSING, inception, last_mark, last_snapshot
from portfolio.services import (
    fund_inception_or_error,
    mark_to_market,
    positions_expire,
    snapshots_build,
)
from risk.selectors import breached, nav_break_days
from risk.services import (
    NavCheck,
    nav_break_message,
    nav_breaks_update,
    pipeline_alert_open,
    pipeline_alert_resolve,
    risk_snapshot_take,
)
from trading.services import proposal_generate

from .models import Heartbeat, PipelineRun

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
    mark = last_mark()
    if mark is not None and mark > as_of:
        return f"the live book is marked as of {mark}: left as it is ({as_of} is in the past)"
    result = mark_to_market(as_of=as_of, actor=actor)
    cache.background.wait()  # the step ends with the book its commit refreshes in the cache
    stale = f"; stale: {', '.join(result.stale)}" if result.stale else ""
    return f"{result.positions_updated} positions marked as of {as_of}{stale}"


def eod_mark(date: dt.date, actor: str) -> str:
    """Close the positions of the contracts matured by `date` at their final settlement
    (dated at the maturity, so a past date is right too; a re-run finds them closed), then
    mark. A matured contract without a close fails the step before the mark, naming it: no
    price is made up, and the day is not valued with it still open."""
    expiry = positions_expire(as_of=date, actor=actor)
    if expiry.unpriced:
        raise ValidationError(
            f"No close on or before the maturity of {', '.join(expiry.unpriced)}, so their "
            f"open positions cannot be settled: load the final settlement price (POST "
            f"/api/prices/ or import_prices) and run the eod of {date} again."
        )
    expired = len(expiry.trades)
    closed = f"{expired} matured position(s) closed at the final settlement; " if expired else ""
    return closed + _mark(date, actor)


def _timeline_through(day: dt.date, actor: str, *, rebuild: bool) -> list[Any]:
    """Build the snapshots of `day` (again, with `rebuild`; else only if missing) and of the
    business days before it back to the last stored one, or the inception, that are
    missing: the fund's history has no holes. Returns what was built."""
    first = inception()
    if first is None or day < first:
        return []  # before the fund started there is nothing to build
    if not rebuild and PortfolioSnapshot.objects.filter(date=day).exists():
        return []
    before = PortfolioSnapshot.objects.filter(date__lt=day).aggregate(last=Max("date"))["last"]
    start = next_business_day(before) if before else first
    return snapshots_build(start=min(start, day), end=day, actor=actor)


def eod_snapshots(date: dt.date, actor: str) -> str:
    """The fund's snapshots of `date` (and of the missing days before it), then those days
    and every day the administrator has an official NAV of, up to `date`, reconciled with
    it: a rebuild, a change of terms or a back-dated flow since the last check may have
    mended a break, or made one (two queries and one bulk write, whatever the days)."""
    built = _timeline_through(date, actor, rebuild=True)
    fund = built[-1]
    summary = f"NAV {fund.nav:,.2f}, P&L {fund.pnl:,.2f}, {fund.positions} positions"
    if len(built) > 1:
        summary += f"; the {len(built) - 1} missing day(s) before it built from {built[0].date}"
    official = OfficialNav.objects.filter(date__lte=date).values_list("date", flat=True)
    days = {snapshot.date for snapshot in built} | set(official) | set(nav_break_days())
    check = nav_breaks_update(days=days, actor=actor)
    return f"{summary}; {_reconciled(date, check)}"


def _reconciled(date: dt.date, check: NavCheck) -> str:
    """The day against the administrator's, and the breaks still open."""
    own = next((day for day in check.days if day.date == date), None)
    if own is None or own.status == MISSING:
        said = f"no official NAV of {date} yet"
    elif own.status == BREAK:
        said = f"NAV break on {date}: {nav_break_message(own)}"
    else:
        said = f"{date} reconciles with the administrator's NAV"
    others = [day for day in check.breaks if day != date]
    if others:
        said += f"; still in break: {', '.join(str(day) for day in others[:10])}"
    resolved = [day for day in check.resolved if day != date]
    if resolved:
        said += f"; reconciled now: {', '.join(str(day) for day in resolved[:10])}"
    return said


def eod_risk(date: dt.date, actor: str) -> str:
    """The risk snapshot and limit check of `date`, from its timeline; the live risk is
    warmed when the live book is of that date."""
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
    as_ofs: list[dt.date | None] = [date]
    if last_snapshot() == date:
        as_ofs.append(None)
    reports = {}
    for period in ATTRIBUTION_PERIODS:
        resolved = selectors.period_resolve(period, as_of=date)
        for by in selectors.DIMENSIONS:
            reports[period, by] = report = selectors.attribution_report(resolved, by)
            for as_of in as_ofs:
                cache.warm("attribution", value=report, period=period, by=by, as_of=as_of)
    mtd = reports["mtd", "strategy"]
    return f"MTD P&L {mtd.total_pnl:,.2f}, return {mtd.total_return:.4%}"


def preopen_mark(date: dt.date, actor: str) -> str:
    return _mark(previous_business_day(date), actor)  # the pack reads the previous close


def preopen_proposals(date: dt.date, actor: str) -> str:
    """The proposals of `date`: a past date's are sized on the timeline of the business
    day before it (built first if it is missing), today's on the live book."""
    past = date < today()
    built = _timeline_through(previous_business_day(date), actor, rebuild=False) if past else []
    result = proposal_generate(date=date, actor=actor)
    return (
        f"{len(result.created)} proposals, {result.expired} expired, "
        f"{len(result.skipped)} signals without a trade"
        + (f"; {len(built)} missing day(s) of the timeline built first" if built else "")
    )


def preopen_pack(date: dt.date, actor: str) -> str:
    send = bool(settings.PMS_MORNING_PACK_RECIPIENTS)
    pack = morning_pack_generate(date=date, actor=actor, send=send)
    latest = MorningPack.objects.order_by("-date").values_list("date", flat=True).first()
    for day in [date] + ([None] if latest == date else []):
        cache.warm("morning_pack", value=pack, date=day)
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

# Each write that depends on a run's state reads that state again under the run's row lock,
# in the write's transaction: reserving a date (`run_request`), claiming the reserved run
# (`_claim`), and every write of the process that claimed it (`_save`), which checks that
# it still holds the run. Of two requests for one date at once, one reserves and runs it,
# the other is refused with RunBusy; a process whose run was taken over stops at its next
# write (Superseded). On SQLite `select_for_update` is a no-op, but every transaction
# begins IMMEDIATE (settings: `transaction_mode`), taking the database's write lock before
# its first read, so these read-then-write transactions run one after the other there too.


class RunBusy(Conflict):
    """The pipeline's run of that date is queued or running already: the request changed
    nothing. `run_id` and `status` name the run that holds the date."""

    def __init__(self, message: str, run: PipelineRun):
        super().__init__(message)
        self.run_id, self.status = run.pk, str(run.status)


class Superseded(Conflict):
    """The run was taken over, or recorded as ended, by another process while this one ran
    it: this one stops, writing nothing more to it."""


def run_request(
    *, pipeline: str, date: dt.date, trigger: str, actor: str, force: bool = False
) -> PipelineRun:
    """Reserve the run of `pipeline` for `date`: its record is reset to queued. A run of the
    same pipeline and date that is queued or running answers RunBusy, unless it is
    abandoned (taken over, recorded in its note) or `force` is given and its worker is not
    alive on this host. A date in the future or before the fund's inception is a
    ValidationError: any business date between them can run, in any order."""
    if pipeline not in PIPELINES:
        raise ValueError(f"Unknown pipeline {pipeline!r}: use {', '.join(PIPELINES)}.")
    if date > today():
        raise ValidationError({"date": [f"{date} is in the future."]})
    fund_inception_or_error(date, "date")
    with transaction.atomic():
        run, created = _locked_run(pipeline, date, trigger=trigger, actor=actor)
        if not created and run.status in ACTIVE:
            _take_over(run, force=force)
        _requeue(run, trigger=trigger, actor=actor)
        run.recoveries = 0
        run.save()
    return run


def _requeue(run: PipelineRun, *, trigger: str, actor: str) -> None:
    """Reset the (locked) run's record to queued, as requested by `actor` now."""
    run.status, run.steps, run.error = PipelineRun.Status.QUEUED, [], ""
    run.trigger, run.requested_by, run.requested_at = trigger, actor, timezone.now()
    run.started_at = run.finished_at = run.seconds = None


def _locked_run(
    pipeline: str, date: dt.date, *, trigger: str, actor: str
) -> tuple[PipelineRun, bool]:
    """The run of `pipeline` and `date`, locked until the transaction ends, and whether this
    call created it. When a request at the same moment creates it first, this one waits for
    that request's commit, then locks the run it created."""
    runs = PipelineRun.objects.select_for_update()
    key = {"pipeline": pipeline, "business_date": date}
    run = runs.filter(**key).first()
    if run is not None:
        return run, False
    try:
        with transaction.atomic():
            return PipelineRun.objects.create(**key, trigger=trigger, requested_by=actor), True
    except IntegrityError:  # pipelinerun_one_per_date: the other request's run
        return runs.get(**key), False


def _take_over(run: PipelineRun, *, force: bool) -> None:
    """Record in the note of the locked `run`, queued or running, that it is taken over,
    when it is abandoned or `force` is given (not while its worker is alive on this host);
    else RunBusy, naming the run."""
    reason = abandoned(run)
    alive_here = run.status == PipelineRun.Status.RUNNING and _worker_alive_here(run.worker)
    if reason is None and force and not alive_here:
        reason = "with --force"
    if reason is None:
        alive = f" Its worker {run.worker} is alive on this host: stop it first." if force else ""
        raise RunBusy(
            f"The {run.pipeline} run of {run.business_date} (run {run.pk}) is already "
            f"{run.status} (requested by {run.requested_by} at "
            f"{run.requested_at:%Y-%m-%d %H:%M:%S} UTC).{alive}",
            run,
        )
    took = f"{utc_iso(timezone.now())}: took over a {run.status} run ({reason}). "
    run.note = (took + run.note)[:2000]
    logger.warning(
        "%s %s: took over a %s run (%s)", run.pipeline, run.business_date, run.status, reason
    )


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def this_cluster() -> str:
    """The id of the django-q2 cluster this process belongs to (`manage.py qcluster` sets
    it before it forks its processes); blank outside a cluster."""
    return os.environ.get(CLUSTER_ID_VARIABLE, "")


CLUSTER_ID_VARIABLE = "PMS_CLUSTER_ID"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _worker_alive_here(worker: str) -> bool:
    """Whether `worker` (host:pid) is a live process of this host."""
    host, _, pid = worker.partition(":")
    return host == socket.gethostname() and pid.isdigit() and _alive(int(pid))


def abandoned(run: PipelineRun, beats: dict[str, dt.datetime] | None = None) -> str | None:
    """Why a queued or running run is abandoned and may be taken over, or None. Running: its
    cluster stopped heartbeating (whatever its host), its worker is a process of this host
    that is gone, or it has run longer than the cluster's task timeout (a command's process
    on another host); queued longer than the broker's retry (no worker took it). `beats`:
    the clusters' last heartbeats, when the caller read them (else the run's is read)."""
    now = timezone.now()
    cluster: dict[str, Any] = settings.Q_CLUSTER
    timeout, retry = int(cluster["timeout"]), int(cluster["retry"])
    if run.status != PipelineRun.Status.RUNNING:
        if (now - run.requested_at).total_seconds() > retry:
            return f"queued since {utc_iso(run.requested_at)}, past the broker's {retry} s retry"
        return None
    started = run.started_at or run.requested_at
    if (now - started).total_seconds() > timeout:
        return (
            f"running since {utc_iso(started)}, past the cluster's {timeout} s task "
            "timeout: its worker died"
        )
    host, _, pid = run.worker.partition(":")
    if host == socket.gethostname() and pid.isdigit() and not _alive(int(pid)):
        return f"its worker {run.worker} is gone"
    return _cluster_silent(run.cluster, beats, now) if run.cluster else None


def _cluster_silent(
    cluster: str, beats: dict[str, dt.datetime] | None, now: dt.datetime
) -> str | None:
    """Why `cluster` is taken for dead, or None while it heartbeats."""
    if beats is None:
        beats = last_beats({cluster})
    limit = settings.PMS_HEARTBEAT_MAX_AGE_SECONDS
    seen = beats.get(cluster)
    if seen is None:
        return f"its cluster {cluster} has no heartbeat"
    age = (now - seen).total_seconds()
    if age > limit:
        return (
            f"its cluster {cluster} stopped heartbeating: last seen {utc_iso(seen)}, "
            f"{age:.0f} s ago (limit {limit} s)"
        )
    return None


def last_beats(clusters: set[str]) -> dict[str, dt.datetime]:
    """The last heartbeat of each of `clusters` that has one."""
    return dict(Heartbeat.objects.filter(name__in=clusters).values_list("name", "seen_at"))


def runs_recover(*, by: str, stopped: str = "") -> list[PipelineRun]:
    """The scheduler pass of a live cluster (`by`, its name): every queued or running run
    that is abandoned (`abandoned`), or that ran on the cluster `stopped` (stopping now), is
    recorded as interrupted in its note and its date queued again, trigger "recovery", in
    one transaction; the task goes to the broker once it commits. A date interrupted more
    than PMS_PIPELINE_RECOVERIES times in a row fails with its alert instead: a run that
    kills its cluster (out of memory) must not take every cluster down in turn.

    Runs whose rows another transaction holds are skipped (`skip_locked`): a second pass at
    the same moment, or the run's own worker writing its step, leaves them to the next pass,
    which reads them afresh (a run queued again is no longer abandoned): one re-run only."""
    with transaction.atomic():
        runs = list(
            PipelineRun.objects.select_for_update(skip_locked=True)
            .filter(status__in=ACTIVE)
            .order_by("pk")
        )
        beats = last_beats({run.cluster for run in runs if run.cluster})
        recovered = []
        for run in runs:
            if stopped and run.cluster == stopped and run.status == PipelineRun.Status.RUNNING:
                reason: str | None = f"its cluster {stopped} was stopped while it ran"
            else:
                reason = abandoned(run, beats)
            if reason is not None:
                _recover(run, reason, by)
                recovered.append(run)
    return recovered


def _recover(run: PipelineRun, reason: str, by: str) -> None:
    """Record the locked `run` as interrupted for `reason` and queue its date again (or,
    past PMS_PIPELINE_RECOVERIES, fail it with its alert)."""
    step = next((s for s in run.steps if s.get("status") == "running"), None)
    where = f" in step {step['name']} (attempt {step.get('attempts', 0)})" if step else ""
    said = f"{utc_iso(timezone.now())}: a {run.status} run interrupted{where}: {reason}"
    limit = int(settings.PMS_PIPELINE_RECOVERIES)
    if run.recoveries >= limit:
        run.status, run.finished_at = PipelineRun.Status.FAILED, timezone.now()
        run.error = f"interrupted: {reason}; not queued again after {limit} recoveries"[:2000]
        run.note = (f"{said}; failed: queued again {limit} times already. " + run.note)[:2000]
        run.save()
        _alert(run)
    else:
        run.note = (f"{said}; queued again by {by}. " + run.note)[:2000]
        _requeue(run, trigger="recovery", actor=by)
        run.recoveries += 1
        run.save()
        transaction.on_commit(lambda: _hand_to_cluster(run))
    logger.warning("%s %s: %s", run.pipeline, run.business_date, said)


def _claim(run_id: int) -> PipelineRun:
    """Take a queued run for this process; RunBusy when another process took it already
    (or it is no longer queued)."""
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pk=run_id)
        if run.status != PipelineRun.Status.QUEUED:
            by = f" by {run.worker}" if run.status == PipelineRun.Status.RUNNING else ""
            raise RunBusy(
                f"The {run.pipeline} run of {run.business_date} (run {run.pk}) is {run.status}"
                f"{by}: not run again here.",
                run,
            )
        steps = PIPELINES[run.pipeline]
        run.status, run.started_at = PipelineRun.Status.RUNNING, timezone.now()
        run.steps = [{"name": s.name, "status": "pending", "attempts": 0} for s in steps]
        run.worker, run.cluster = this_worker(), this_cluster()
        run.save(update_fields=["status", "started_at", "steps", "worker", "cluster"])
    return run


def _save(
    run: PipelineRun, *fields: str, then: Callable[[PipelineRun], None] | None = None
) -> None:
    """Write `fields` of a run this process claimed, once the run's row, locked, shows it
    still running under this claim (its worker and start), then `then` (the date's alert)
    in the same transaction; Superseded, writing nothing, when it was taken over or
    recorded as ended meanwhile."""
    with transaction.atomic():
        held = (
            PipelineRun.objects.select_for_update()
            .filter(
                pk=run.pk,
                status=PipelineRun.Status.RUNNING,
                worker=run.worker,
                started_at=run.started_at,
            )
            .exists()
        )
        if not held:
            logger.warning(
                "%s %s: taken over while %s ran it", run.pipeline, run.business_date, run.worker
            )
            raise Superseded(
                f"The {run.pipeline} run of {run.business_date} (run {run.pk}) was taken over "
                f"while {run.worker} ran it: it stopped there."
            )
        run.save(update_fields=fields)
        if then is not None:
            then(run)


def execute(run_id: int, *, progress: Progress | None = None) -> PipelineRun:
    """Claim a queued run and run its steps in order, recording each; see the module's
    docstring. RunBusy when another process claimed it first; Superseded when it is taken
    over while this one runs it. Whatever else stops it (an error writing its record or
    opening its alert, a signal) is recorded as its failure: it is never left running."""
    say = progress or (lambda step, message: logger.info("%s: %s", step, message))
    run = _claim(run_id)
    try:
        return _run_steps(run, say)
    except Superseded:
        raise
    except BaseException as error:
        _record_crash(run, error)
        raise


def _run_steps(run: PipelineRun, say: Progress) -> PipelineRun:
    started = time.monotonic()
    if not is_business_day(run.business_date):
        run.status, run.error = PipelineRun.Status.SKIPPED, ""
        for record in run.steps:
            record["status"] = "skipped"
        say(run.pipeline, f"{run.business_date} is not a business day: skipped")
        return _finish(run, started)
    for step, record in zip(PIPELINES[run.pipeline], run.steps, strict=True):
        if not _run_step(run, step, record, say):
            run.status = PipelineRun.Status.FAILED
            run.error = f"{step.name}: {record['error']}"
            for later in run.steps[run.steps.index(record) + 1 :]:
                later["status"] = "not run"
            return _finish(run, started, then=_alert)
    run.status = PipelineRun.Status.SUCCEEDED
    return _finish(run, started, then=_resolve_alert)


def _run_step(run: PipelineRun, step: Step, record: dict[str, Any], say: Progress) -> bool:
    """Run one step, tried again PMS_PIPELINE_RETRIES times; whether it succeeded."""
    retries = int(settings.PMS_PIPELINE_RETRIES)
    record.update(status="running", started_at=utc_iso(timezone.now()), attempts=1)
    _save(run, "steps")
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
                _save(run, "steps")
                time.sleep(float(settings.PMS_PIPELINE_RETRY_SECONDS))
    record.update(
        finished_at=utc_iso(timezone.now()),
        seconds=round(time.monotonic() - step_started, 3),
    )
    succeeded = record["status"] == "succeeded"
    if succeeded:
        _save(run, "steps")  # a failure is written with the run's end
    return succeeded


def _record_crash(run: PipelineRun, error: BaseException) -> None:
    """Record what stopped a run outside its steps as its failure, if this process still
    holds it; when that write fails too (the database is what failed), `abandoned` lets
    the next request of its date take it over."""
    run.status = PipelineRun.Status.FAILED
    run.error = f"interrupted: {_describe(error)}"[:2000]
    run.finished_at = timezone.now()
    try:
        _save(run, "status", "error", "finished_at")
    except Superseded:
        pass  # recorded as ended, or taken over, by another process already
    except Exception:  # the original error is raised on; this one is logged
        logger.exception("%s %s: its failure not recorded", run.pipeline, run.business_date)


def _describe(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


def _finish(
    run: PipelineRun, started: float, *, then: Callable[[PipelineRun], None] | None = None
) -> PipelineRun:
    """Write the run's end and, only while this process still holds the run, `then`: the
    date's alert opened (failed) or resolved (succeeded), in that write's transaction. A
    run taken over meanwhile leaves the alert to the run that replaced it."""
    run.finished_at = timezone.now()
    run.seconds = round(time.monotonic() - started, 3)
    _save(run, "status", "steps", "error", "finished_at", "seconds", then=then)
    return run


def _source(run: PipelineRun) -> str:
    return f"pipeline:{run.pipeline}"


def _alert(run: PipelineRun) -> None:
    pipeline_alert_open(
        source=_source(run),
        date=run.business_date,
        message=f"The {run.pipeline} pipeline failed at {run.error}",
        actor=_source(run),
    )


def _resolve_alert(run: PipelineRun) -> None:
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
    run = run_request(pipeline=pipeline, date=date, trigger=trigger, actor=actor, force=force)
    transaction.on_commit(lambda: _hand_to_cluster(run))
    return run


def _hand_to_cluster(run: PipelineRun) -> None:
    async_task("ops.pipelines.run_task", run.pk, task_name=f"{run}"[:100])


def run_task(run_id: int) -> str:
    """The cluster's task: run a reserved run, unless another worker has (a task delivered
    twice) or takes it over meanwhile."""
    try:
        run = execute(run_id)
    except Conflict as refused:
        logger.warning("run %s not run here: %s", run_id, refused)
        return str(refused)
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
