"""verify_system on the risk tests' book (tests/fixtures/risk_book.py) after a day's pipelines:
exit 0 when healthy, 1 naming the failing check when Redis is unreachable or a migration
is unapplied; --json; the docs' commands checked against the commands' own parsers."""

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.migrations.recorder import MigrationRecorder

from ops import health, pipelines, verification
from tests.conftest import TODAY
from tests.fixtures.backtest import DAYS, backtest_history
from tests.ops.test_health_metrics import UNREACHABLE_REDIS
from tests.shown import shown_backtest

EVENING = dt.datetime(2024, 3, 15, 23, 0, tzinfo=dt.UTC)  # after the eod slot and its grace


def verify(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("verify_system", *args, stdout=out, stderr=StringIO())
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def line(output: str, check: str) -> str:
    [found] = [row for row in output.splitlines() if row.strip().startswith(check)]
    return found


@pytest.fixture
def running_fund(book: Any, settings: Any, tmp_path: Any) -> Any:
    """A day of the fund as production runs it: the pre-open and the end of day done,
    the schedules set, the cluster alive, a backup taken; development settings."""
    settings.DEBUG = True
    settings.PMS_RISK_WINDOW = 20  # the book has 21 days of quotes
    settings.PMS_PIPELINE_RETRY_SECONDS = 0
    settings.PMS_BACKUP_DIR = tmp_path
    with time_machine.travel(EVENING, tick=True):
        for pipeline in ("preopen", "eod"):
            run = pipelines.pipeline_run(pipeline=pipeline, date=TODAY, actor="test")
            assert run.status == "succeeded", (pipeline, run.error)
        call_command("setup_schedules", stdout=StringIO())
        health.heartbeat()
        call_command("backup", stdout=StringIO())
        yield book


@pytest.mark.django_db(transaction=True)  # SQLite's backup runs outside a transaction
def test_healthy_system_exits_0(running_fund):
    code, output = verify()
    assert code == 0, output
    for component in ("settings", "database", "cache", "scheduler", "pipelines", "services"):
        assert f"\n{component}\n" in f"\n{output}"
    assert "api\n" in output and "admin\n" in output and "docs\n" in output
    assert "OK" in line(output, "last runs") and "none late" in line(output, "last runs")
    assert "OK" in line(output, "attribution") and "rows add up" in line(output, "attribution")
    accounts = line(output, "fund's accounts")
    assert "OK" in accounts and "every snapshot has its accounts; 2024-03-15: NAV" in accounts
    assert "rolled back" in line(output, "mark-to-market dry run")
    assert "79 manage.py commands parse" in line(output, "documents")
    assert "archive checked" in line(output, "latest backup")
    assert output.strip().endswith("failing") and ", 0 failing" in output

    code, text = verify("--json")
    report = json.loads(text)
    assert code == 0 and report["ok"] is True
    assert len(report["checks"]) == len(verification.CHECKS)
    assert {c["status"] for c in report["checks"]} <= {"ok", "warn"}


@pytest.mark.django_db(transaction=True)
def test_the_dry_run_changes_nothing(running_fund):
    from portfolio.models import Position

    before = list(Position.objects.order_by("pk").values())
    # Tuesday: the dry run marks Tuesday, which has no closes (the day rolls, prices stale).
    with time_machine.travel(EVENING + dt.timedelta(days=4), tick=True):
        status, detail = verification.mark_to_market_dry_run()
    assert status == "warn"
    assert detail.startswith("5 positions as of 2024-03-19 (rolled back); without a close")
    assert list(Position.objects.order_by("pk").values()) == before


def test_unreachable_redis_fails_the_cache_check(db, settings):
    settings.CACHES = UNREACHABLE_REDIS
    code, output = verify()
    assert code == 1
    assert "FAIL" in line(output, "round trip") and "ConnectionError" in line(output, "round trip")
    code, text = verify("--json")
    report = json.loads(text)
    assert code == 1 and report["ok"] is False
    [cache] = [
        c for c in report["checks"] if (c["component"], c["check"]) == ("cache", "round trip")
    ]
    assert cache["status"] == "fail"


def test_an_unapplied_migration_fails_the_migrations_check(db):
    from django.db.migrations.loader import MigrationLoader

    [(_, latest)] = MigrationLoader(None).graph.leaf_nodes("pms_site")
    MigrationRecorder.Migration.objects.filter(app="pms_site", name=latest).delete()
    code, output = verify()
    assert code == 1
    assert "FAIL" in line(output, "migrations")
    assert f"unapplied: pms_site.{latest}; run `manage.py migrate`" in output


def test_a_doc_command_that_would_not_run_is_named():
    assert verification.command_problem(["run_pipeline", "eod", "--date", "2024-03-15"]) is None
    assert verification.command_problem(["nocommand"]) == "no command 'nocommand'"
    assert "unrecognized arguments: --dates" in str(
        verification.command_problem(["run_pipeline", "eod", "--dates", "2024-03-15"])
    )
    assert "required: path" in str(verification.command_problem(["restore"]))
    written = "Run `manage.py backup --output-dir /b` then manage.py verify_system # comment"
    assert list(verification.doc_commands(written)) == [
        ["backup", "--output-dir", "/b"],
        ["verify_system"],
    ]


def test_a_cache_that_missed_a_change_fails_the_check(book, settings):
    """A write the cache never heard of (a process on another cache, say): the served book
    is older than the database's, and verify_system says so."""
    from pms_site import cache
    from portfolio.models import Position

    settings.PMS_RISK_WINDOW = 20
    assert verification.cache_current() == (
        verification.OK,
        "the cached book and live risk equal the database's",
    )
    cache.read("book")  # cached now
    Position.objects.filter(closed_at__isnull=True).update(notional_base=0)  # no signal
    status, detail = verification.cache_current()
    assert status == verification.FAIL and "the cache serves book" in detail


@pytest.mark.parametrize(
    ("losses", "status", "zone"),
    [
        (set(), "ok", "green"),
        ({10, 50, 51, 100, 200, 220}, "warn", "yellow"),
        (set(range(0, 250, 25)), "fail", "red"),
    ],
)
def test_the_var_backtest_warns_in_yellow_and_fails_in_red(db, losses, status, zone):
    backtest_history(losses)
    got, detail = verification.var_backtest()
    assert (got, zone in detail) == (status, True)
    assert f"{len(losses)} exceptions in the 250 days to {DAYS[-2]}" in detail
    assert f"Kupiec p {shown_backtest()['kupiec']['p_value']} over all 250 days" in detail
    assert ("GET /api/risk/backtest/" in detail) == (status != "ok")


def test_no_risk_snapshot_warns_with_the_command_that_takes_them(db):
    got, detail = verification.var_backtest()
    assert got == "warn" and "`manage.py backfill_risk_snapshots`" in detail
