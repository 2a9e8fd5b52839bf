"""`manage.py verify_system`: every component of a running PMS checked on its live data.

Each check answers ok, warn (works, but not as production wants it) or fail, with a detail
an operator can act on. Checks that exercise a write (the mark-to-market dry run) run in a
transaction that is rolled back: verifying changes nothing.
"""

import datetime as dt
import logging
import re
import shlex
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.core import checks
from django.core.cache import cache as default_cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, get_commands, load_command_class
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from attribution.selectors import DIMENSIONS, attribution_report, period_resolve
from briefing import render
from briefing.models import MorningPack
from core.formatting import decimal_str, money, quota, ratio
from pms_site import cache
from portfolio.selectors import (
    BREAK,
    MISSING,
    accounts_at_close,
    close_due,
    last_mark,
    last_snapshot,
    live_book,
    nav_reconciliation,
    stored_without_accounts,
)
from portfolio.services import mark_to_market
from risk.selectors import backtest, breached, live_risk

from . import health, pipelines
from .backups import backup_read, latest_backup, unapplied_migrations
from .models import PipelineRun

OK, WARN, FAIL = "ok", "warn", "fail"
DOCS = ("GOLIVE_CHECKLIST.md", "OPERATIONAL_RUNBOOK.md", "DR_PLAYBOOK.md")
DOCS_DIR = Path(settings.BASE_DIR) / "docs"
DOMAIN_APPS = ("ops", "portfolio", "risk", "trading", "attribution", "briefing")
Outcome = tuple[str, str]  # (status, detail)


@dataclass(frozen=True)
class Result:
    component: str
    check: str
    status: str
    detail: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- settings ---------------------------------------------------------------------------------


def production_guard() -> Outcome:
    if settings.DEBUG:
        return (
            WARN,
            "DEBUG on: development settings (production: DEBUG unset, SECRET_KEY, ALLOWED_HOSTS)",
        )
    return OK, f"DEBUG off; SECRET_KEY set; ALLOWED_HOSTS {', '.join(settings.ALLOWED_HOSTS)}"


def system_checks() -> Outcome:
    found = checks.run_checks(include_deployment_checks=not settings.DEBUG)
    serious = [m for m in found if m.level >= checks.WARNING and not m.is_silenced()]
    if serious:
        return FAIL, "; ".join(f"{m.id}: {m.msg}" for m in serious)[:500]
    kind = "with the deployment checks" if not settings.DEBUG else "(DEBUG: no deployment checks)"
    return OK, f"manage.py check passes {kind}"


# --- database ---------------------------------------------------------------------------------


def database_connection() -> Outcome:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        version = cursor.fetchone()[0]
    status = OK if connection.vendor == "postgresql" else WARN
    return status, f"{connection.vendor} {version}, database {connection.settings_dict['NAME']}"


def migrations() -> Outcome:
    pending = unapplied_migrations()
    if pending:
        return FAIL, f"unapplied: {', '.join(pending)}; run `manage.py migrate`"
    return OK, "all applied"


LEDGER_TABLES = ("portfolio_trade", "portfolio_auditrecord")


def database_role() -> Outcome:
    """The servers should not connect as the owner of the append-only ledger (nor as a
    superuser): that role could TRUNCATE it or disable its triggers."""
    if connection.vendor != "postgresql":
        return OK, f"{connection.vendor}: no roles (production runs on PostgreSQL)"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
            "(SELECT count(*) FROM pg_tables WHERE tablename = ANY(%s) "
            "AND tableowner = current_user)",
            [list(LEDGER_TABLES)],
        )
        user, superuser, owned = cursor.fetchone()
    if superuser or owned:
        why = "a superuser" if superuser else "the owner of the ledger tables"
        return (
            WARN,
            f"connected as {user}, {why}: it could TRUNCATE the ledger or disable its "
            "append-only triggers; connect the servers and the cluster as pms_app "
            "(deploy/postgres/roles.sql)",
        )
    return OK, f"connected as {user}: not the ledger's owner, no superuser"


# --- cache -------------------------------------------------------------------------------------


def cache_round_trip() -> Outcome:
    ok, detail = health.cache_round_trip()
    status = (OK if settings.REDIS_URL else WARN) if ok else FAIL
    return status, detail if settings.REDIS_URL else f"{detail} (no REDIS_URL: a local file cache)"


def cache_tiers() -> Outcome:
    expected = settings.PMS_CACHE_TTL_DEFAULTS
    tiers = {name: cache.ttl(name) for name in expected}
    bad = [name for name, seconds in tiers.items() if seconds <= 0]
    if bad:
        return FAIL, f"tiers without a positive timeout: {', '.join(bad)} (PMS_CACHE_TTLS)"
    if hasattr(default_cache, "ttl"):  # django-redis: Redis itself keeps each tier's timeout
        for name, seconds in tiers.items():
            key = f"verify:tier:{name}"
            default_cache.set(key, 1, timeout=seconds)
            kept = default_cache.ttl(key)
            default_cache.delete(key)
            if not seconds - 2 <= kept <= seconds:
                return FAIL, f"{name}: Redis kept the key {kept} s, not {seconds} s"
    shown = ", ".join(f"{name} {seconds} s" for name, seconds in tiers.items())
    changed = [name for name in tiers if tiers[name] != expected[name]]
    return OK, shown + (f" (changed by PMS_CACHE_TTLS: {', '.join(changed)})" if changed else "")


def cache_current() -> Outcome:
    """The cached book and live risk, read as the API reads them, equal what the database
    gives now: a process whose invalidations do not reach the others (another cache) shows
    here."""
    stale = []
    for name in ("book", "risk"):
        for _ in range(2):  # once more if a write committed between the read and the compute
            served = cache.read(name).content
            fresh = cache.REGISTRY[name].rendered(cache.compute(name))
            if served.startswith(fresh + b',"cached":'):  # the cache fields follow the answer
                break
        else:
            stale.append(name)
    if stale:
        return FAIL, (
            f"the cache serves {', '.join(stale)} older than the database: the web servers, "
            "the cluster and the commands must share one cache (the same REDIS_URL, or "
            "PMS_CACHE_DIR on one machine)"
        )
    return OK, "the cached book and live risk equal the database's"


# --- scheduler and pipelines -----------------------------------------------------------------


def schedules() -> Outcome:
    wanted = {f"pms-{p}": settings.PMS_SCHEDULES[p] for p in pipelines.PIPELINES}
    found = dict(Schedule.objects.filter(name__in=wanted).values_list("name", "cron"))
    wrong = [name for name, cron in wanted.items() if found.get(name) != cron]
    if wrong:
        return (
            FAIL,
            f"missing or changed: {', '.join(sorted(wrong))}; run `manage.py setup_schedules`",
        )
    return OK, ", ".join(f"{name} {cron}" for name, cron in sorted(wanted.items()))


def cluster() -> Outcome:
    ok, detail = health.scheduler()
    return (OK if ok else FAIL), detail


def pipeline_runs() -> Outcome:
    late = pipelines.late_pipelines()
    failed = [
        f"{run.pipeline} {run.business_date}: {run.error[:120]}"
        for run in pipelines.latest_runs().values()
        if run.status == PipelineRun.Status.FAILED
    ]
    problems = failed + [
        f"{p} has not succeeded for {day}: `manage.py run_pipeline {p} --date {day}`"
        for p, day in late.items()
    ]
    if problems:
        return FAIL, "; ".join(problems)
    return OK, "the latest runs succeeded, none late"


# --- domain services on the live data ----------------------------------------------------------


def book() -> Outcome:
    report = live_book()
    totals = report.totals
    gross = sum((abs(row.notional_base) for row in report.positions), Decimal(0))
    if totals.gross_exposure != gross.quantize(Decimal("0.01")):
        return FAIL, f"gross exposure {totals.gross_exposure} ≠ Σ|notional| {gross}"
    stale = report.stale_prices
    detail = f"{totals.positions} positions, NAV {report.nav} as of {report.valuation_date}"
    if stale:
        return WARN, f"{detail}; stale prices: {', '.join(stale[:10])}"
    return OK, detail


def _days(days: list[dt.date]) -> str:
    """Days named, the first ten, and where to read each against the administrator's."""
    named = ", ".join(str(day) for day in days[:10])
    more = f" and {len(days) - 10} more" if len(days) > 10 else ""
    return f"{named}{more}: GET /api/nav/reconciliation/?start={days[0]}&end={days[-1]}"


def reconciliation() -> Outcome:
    """The fund's NAV against the administrator's official one, on every day either has: a
    break fails; a day with one side only, where both should be there by now, warns."""
    days = nav_reconciliation()
    official = [day.date for day in days if day.official_nav is not None]
    if not official:
        return WARN, (
            "no official NAV yet: import the administrator's with `manage.py "
            "import_official_nav FILE` (or POST /api/official-nav/)"
        )
    ours = [day.date for day in days if day.nav is not None]
    detail = f"{len(official)} official NAVs from {official[0]} to {official[-1]}"
    breaks = [day.date for day in days if day.status == BREAK]
    if breaks:
        return FAIL, f"{detail}; in break: {_days(breaks)}"
    # The administrator's NAV of the last days may not be in yet, nor the fund's eod.
    both = min(official[-1], ours[-1]) if ours else official[-1]
    holes = [day.date for day in days if day.status == MISSING and official[0] <= day.date <= both]
    if holes:
        return WARN, f"{detail}; one side only on {_days(holes)}"
    return OK, f"{detail}: every day both have reconciles"


def mark_to_market_dry_run() -> Outcome:
    # The next mark the pipelines make: to the latest close due, or the book's own date if
    # it is marked later (it never moves back).
    as_of = max(close_due(), last_mark() or close_due())
    with transaction.atomic():
        result = mark_to_market(as_of=as_of, actor="verify_system")
        transaction.set_rollback(True)  # and its after-commit cache refreshes are dropped
    detail = f"{result.positions_updated} positions as of {as_of} (rolled back)"
    if result.stale or result.missing_fx:
        missing = result.stale + [f"FX {c}" for c in result.missing_fx]
        return WARN, f"{detail}; without a close of {as_of}: {', '.join(missing[:10])}"
    return OK, detail


def risk() -> Outcome:
    report = live_risk(method="historical")
    breaches = breached(value.as_dict() for value in report.limits)
    if report.var_unavailable:
        return WARN, f"no VaR yet: {report.var_unavailable}; {len(report.limits)} limits"
    var, es = report.var[0.99], report.expected_shortfall[0.99]
    assert var is not None and es is not None  # a VaR is available
    if not (var.is_finite() and var >= 0 and es >= var):
        return FAIL, f"VaR 99% {var}, ES 99% {es}: expected 0 ≤ VaR ≤ ES"
    window = f" over {report.window_used} days" if report.short_history else ""
    detail = f"VaR 95% {report.var[0.95]}, ES 99% {es}{window}, {len(report.limits)} limits"
    if breaches:
        return WARN, f"{detail}; in breach: {', '.join(breaches)}"
    return OK, detail


def var_backtest() -> Outcome:
    """The Basel traffic light of the 99% VaR: yellow warns, red fails (the VaR model
    understates the losses: the days are in GET /api/risk/backtest/)."""
    try:
        report = backtest(confidence=0.99)
    except ValidationError as error:
        return WARN, f"no backtest yet: {' '.join(error.messages)}"
    zone, days = report.traffic_light, report.traffic_light_days
    window = report.days[-days:]
    exceptions = sum(day.exception for day in window)
    detail = (
        f"VaR 99%: {exceptions} exceptions in the {days} days to {window[-1].date} "
        f"(Basel {zone}); Kupiec p {decimal_str(ratio(report.kupiec.p_value))} over all "
        f"{report.observations} days"
    )
    if zone == "green":
        return OK, detail
    detail += "; the exception days: GET /api/risk/backtest/"
    return (WARN if zone == "yellow" else FAIL), detail


def fund_accounts() -> Outcome:
    """Every stored day has the fund's accounts: a snapshot stored before they existed has
    a NAV but no units, quota or fees, and the days after it start from it. Rebuilding its
    days from the ledger gives them their accounts."""
    without = stored_without_accounts()
    if without.days:
        return WARN, (
            f"{without.days} snapshot(s) from {without.first} to {without.last} were stored "
            "before the fund's accounts (a NAV, no units, quota or fees): rebuild them with "
            f"`manage.py backfill_snapshots --start {without.first} --end {without.last}`"
        )
    day = last_snapshot()
    found = accounts_at_close(day) if day else None
    if found is None:
        return OK, "no snapshot yet"
    accounts = found[0]
    return OK, (
        f"every snapshot has its accounts; {day}: NAV {money(accounts.nav)}, quota "
        f"{quota(accounts.quota)}, units {quota(accounts.units)}"
    )


def attribution() -> Outcome:
    period = period_resolve("mtd")
    totals = set()
    for by in DIMENSIONS:
        report = attribution_report(period, by)
        rows = sum((row.pnl for row in report.rows), Decimal(0))
        if rows != report.total_pnl:
            return FAIL, f"MTD by {by}: rows add up to {rows}, total {report.total_pnl}"
        totals.add(report.total_pnl)
    if len(totals) != 1:
        return FAIL, f"MTD totals differ between dimensions: {sorted(totals)}"
    return (
        OK,
        f"MTD {period.start}–{period.end}: P&L {totals.pop()}, rows add up by every dimension",
    )


def morning_pack() -> Outcome:
    pack = MorningPack.objects.order_by("-date").first()
    if pack is None:
        return WARN, "no morning pack yet: `manage.py morning_pack`"
    page = render.html(pack)
    if "<svg" not in page:
        return FAIL, f"the pack of {pack.date} rendered without its charts"
    return OK, f"pack of {pack.date} rendered ({len(page):,} bytes of HTML)"


# --- API and admin -------------------------------------------------------------------------------


def api_schema() -> Outcome:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OK, f"OpenAPI {schema['openapi']}, {len(schema['paths'])} paths"


def api_routes() -> Outcome:
    """GET every route of the schema that takes no path parameter, as a superuser: a 5xx
    fails; a 4xx (no data yet: no pack, no snapshots) is a warning naming the route."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    routes = sorted(path for path, ops in paths.items() if "get" in ops and "{" not in path)
    host = next((h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", ".")), "localhost")
    client = APIClient(SERVER_NAME=host)
    client.force_authenticate(User(username="verify_system", is_superuser=True, is_active=True))
    answers = {}
    request_log = logging.getLogger("django.request")
    level, request_log.level = request_log.level, logging.CRITICAL  # the table tells
    try:
        for route in routes:
            answers[route] = client.get(route, secure=True).status_code
    finally:
        request_log.level = level
    broken = [f"{route} {status}" for route, status in answers.items() if status >= 500]
    refused = [f"{route} {status}" for route, status in answers.items() if 300 <= status < 500]
    if broken:
        return FAIL, f"{len(broken)} of {len(routes)} routes failed: {', '.join(broken)}"
    if refused:
        return (
            WARN,
            f"{len(routes) - len(refused)} of {len(routes)} routes 200; {', '.join(refused)}",
        )
    return OK, f"{len(routes)} GET routes answered 200"


def admin_registrations() -> Outcome:
    missing = [
        model._meta.label
        for label in DOMAIN_APPS
        for model in apps.get_app_config(label).get_models()
        if model not in admin.site._registry
    ]
    for model in admin.site._registry:
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if missing:
        return FAIL, f"not in the admin: {', '.join(missing)}"
    return OK, f"{len(admin.site._registry)} models registered, each with its list page"


# --- docs and backups ----------------------------------------------------------------------------

MANAGE_LINE = re.compile(r"manage\.py\s+([^`\n|]+)")


def doc_commands(text: str) -> Iterator[list[str]]:
    """Each `manage.py …` command line written in a document, as its words (up to a
    comment, a `;`, a `&&` or a `&` that runs it in the background)."""
    for match in MANAGE_LINE.finditer(text):
        words = shlex.split(re.split(r" #|;|&", match.group(1))[0])
        if words:
            yield words


def command_problem(words: list[str]) -> str | None:
    """Why `manage.py <words>` would not run; None if its command's parser takes it."""
    name, *arguments = words
    commands = get_commands()
    if name not in commands:
        return f"no command {name!r}"
    # Not called from a command line, Django's parser raises CommandError instead of exiting.
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(arguments)
    except CommandError as error:
        return f"manage.py {' '.join(words)}: {error}"
    return None


def docs() -> Outcome:
    problems, count = [], 0
    for name in DOCS:
        path = DOCS_DIR / name
        if not path.is_file():
            problems.append(f"{name} missing")
            continue
        for words in doc_commands(path.read_text()):
            count += 1
            problem = command_problem(words)
            if problem:
                problems.append(f"{name}: {problem}")
    if problems:
        return FAIL, "; ".join(problems)
    return OK, f"{len(DOCS)} documents in docs/; their {count} manage.py commands parse"


def backup_age() -> Outcome:
    directory = Path(settings.PMS_BACKUP_DIR)
    found = latest_backup(directory)
    if found is None:
        return FAIL, f"no backup under {directory}: run `manage.py backup`"
    folder, created = found
    hours = (timezone.now() - created).total_seconds() / 3600
    backup_read(folder)  # its archive still matches its manifest
    limit = settings.PMS_BACKUP_MAX_AGE_HOURS
    detail = f"{folder.name}: {hours:.1f} h old (limit {limit:g} h), archive checked"
    return (OK if hours <= limit else FAIL), detail


CHECKS: list[tuple[str, str, Callable[[], Outcome]]] = [
    ("settings", "production guard", production_guard),
    ("settings", "system checks", system_checks),
    ("database", "connection", database_connection),
    ("database", "migrations", migrations),
    ("database", "role", database_role),
    ("cache", "round trip", cache_round_trip),
    ("cache", "tiers", cache_tiers),
    ("cache", "answers current", cache_current),
    ("scheduler", "schedules", schedules),
    ("scheduler", "cluster heartbeat", cluster),
    ("pipelines", "last runs", pipeline_runs),
    ("services", "book", book),
    ("services", "NAV reconciliation", reconciliation),
    ("services", "mark-to-market dry run", mark_to_market_dry_run),
    ("services", "risk", risk),
    ("services", "VaR backtest", var_backtest),
    ("services", "fund's accounts", fund_accounts),
    ("services", "attribution", attribution),
    ("services", "morning pack", morning_pack),
    ("api", "schema", api_schema),
    ("api", "routes", api_routes),
    ("admin", "registrations", admin_registrations),
    ("docs", "documents", docs),
    ("backups", "latest backup", backup_age),
]


def verify(progress: Callable[[str, str], None] | None = None) -> list[Result]:
    """Run every check; a check that raises fails with the error, the others still run."""
    results = []
    for component, name, check in CHECKS:
        if progress:
            progress(component, name)
        started = time.perf_counter()
        try:
            status, detail = check()
        except ValidationError as error:  # a selector's refusal says what to do
            status, detail = FAIL, "; ".join(error.messages)[:500]
        except Exception as error:  # a check reports, it never stops the others
            status, detail = FAIL, f"{type(error).__name__}: {error}"[:500]
        ms = round((time.perf_counter() - started) * 1000, 1)
        results.append(Result(component, name, status, detail, ms))
    return results
