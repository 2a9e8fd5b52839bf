"""/health/ and /metrics on the risk tests' book (tests/fixtures/risk_book.py): healthy, a
stale heartbeat, an unreachable cache; counters, the fund's gauges, pipeline lateness."""

import datetime as dt
import re
import shutil
import subprocess
from io import StringIO
from typing import Any

import pytest
import time_machine
import yaml
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from ops import health, pipelines
from ops.models import PipelineRun
from portfolio.models import Price
from risk.models import RiskAlert
from tests.conftest import TODAY
from tests.test_settings import ROOT

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1: refused at once
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


@pytest.fixture(autouse=True)
def _development(settings: Any) -> None:
    """/metrics is open in development (DEBUG on, no token); see test_metrics_token."""
    settings.DEBUG = True


@pytest.fixture
def alive(db: None) -> None:
    """The schedules set up and the cluster seen just now."""
    call_command("setup_schedules", stdout=StringIO())
    health.heartbeat()


def test_health_ok(alive):
    answer = Client().get("/health/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "scheduler": True,
    }
    assert "no-cache" in answer["Cache-Control"]


def test_health_is_three_queries_and_metrics_nine(alive, book, django_assert_num_queries):
    """A load balancer polls /health/ every few seconds: the cluster's heartbeat (for the
    database and the scheduler checks) and the schedules. The scrape's count does not grow
    with the book (one aggregate per gauge)."""
    client = Client()
    with django_assert_num_queries(3):
        assert client.get("/health/").status_code == 200
    with django_assert_num_queries(9):
        assert client.get("/metrics").status_code == 200


def test_health_degraded_when_the_cluster_is_silent(alive):
    with time_machine.travel(dt.datetime(2024, 3, 15, 18, 4, tzinfo=dt.UTC)):  # 4 min later
        answer = Client().get("/health/")
    assert answer.status_code == 200  # the API still serves: the node stays in the pool
    body = answer.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]
    assert not body["checks"]["scheduler"]["ok"]
    assert "last seen 240 s ago (limit 180 s)" in body["checks"]["scheduler"]["detail"]


def test_health_degraded_without_a_cluster_or_schedules(db):
    body = Client().get("/health/").json()
    assert "start `manage.py qcluster`" in body["checks"]["scheduler"]["detail"]
    health.heartbeat()
    answer = Client().get("/health/")
    assert (answer.status_code, answer.json()["status"]) == (200, "degraded")
    detail = answer.json()["checks"]["scheduler"]["detail"]
    assert detail == "schedules missing: pms-eod, pms-preopen; run setup_schedules"


def test_health_degraded_when_the_cache_is_unreachable(alive, settings):
    settings.CACHES = UNREACHABLE_REDIS
    answer = Client().get("/health/")
    assert (answer.status_code, answer.json()["status"]) == (200, "degraded")
    checks = answer.json()["checks"]
    assert not checks["cache"]["ok"] and "ConnectionError" in checks["cache"]["detail"]
    assert checks["database"]["ok"] and checks["scheduler"]["ok"]


def test_health_refuses_other_methods(alive):
    assert Client().post("/health/").status_code == 405


# --- Metrics ----------------------------------------------------------------------------------


def scrape(authorization: str = "") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = Client().get("/metrics", headers={"Authorization": authorization})
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.content.decode())
        for sample in family.samples
    }


def reads(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "pms_cache_reads_total", {"dataset": "book", "result": result}
    )
    return value or 0.0


def test_requests_and_cache_reads_are_counted(book, api_client_for):
    viewer = api_client_for("viewer")
    route = {"method": "GET", "route": "api/book/", "status": "200"}
    requests_before = REGISTRY.get_sample_value("pms_http_requests_total", route) or 0.0
    hits, misses = reads("hit"), reads("miss")
    cache.clear()  # the book was written through by the fixture's trades
    assert viewer.get("/api/book/").json()["cached"] is False
    assert viewer.get("/api/book/").json()["cached"] is True
    assert (reads("hit") - hits, reads("miss") - misses) == (1, 1)
    assert REGISTRY.get_sample_value("pms_http_requests_total", route) == requests_before + 2


def test_cache_reads_bypass_when_the_cache_is_down(book, api_client_for, settings):
    viewer = api_client_for("viewer")
    settings.CACHES = UNREACHABLE_REDIS
    bypass = reads("bypass")
    assert viewer.get("/api/book/").status_code == 200
    assert reads("bypass") == bypass + 1
    samples = scrape()
    assert samples["pms_up", (("check", "cache"),)] == 0
    assert samples["pms_up", (("check", "database"),)] == 1


def test_the_funds_gauges(book, alive, settings, tmp_path):
    settings.PMS_BACKUP_DIR = tmp_path
    samples = scrape()
    assert samples["pms_up", (("check", "scheduler"),)] == 1
    assert samples["pms_stale_prices", ()] == 0
    assert samples["pms_backup_age_seconds", ()] == float("inf")
    assert samples["pms_cluster_heartbeat_age_seconds", ()] < 5
    # Friday 18:00 UTC: eod's last slot an hour old was Thursday's, preopen's this morning.
    assert samples["pms_pipeline_late", (("pipeline", "eod"),)] == 1
    assert samples["pms_pipeline_late", (("pipeline", "preopen"),)] == 1
    assert samples["pms_open_alerts", (("kind", "pipeline"), ("status", "open"))] == 0

    # USDBRL loses its closes of Thursday and Friday; eod succeeded for Thursday; the
    # preopen of Friday failed and opened its alert.
    Price.objects.filter(instrument__symbol="USDBRL", date__gte=dt.date(2024, 3, 14)).delete()
    PipelineRun.objects.create(
        pipeline="eod",
        business_date=dt.date(2024, 3, 14),
        status="succeeded",
        trigger="schedule",
        requested_by="scheduler",
        seconds=12.5,
    )
    PipelineRun.objects.create(
        pipeline="preopen",
        business_date=TODAY,
        status="failed",
        trigger="schedule",
        requested_by="scheduler",
        seconds=3.0,
    )
    RiskAlert.objects.create(source="pipeline:preopen", date=TODAY, message="failed")
    taken = tmp_path / "pms-20240315T174500Z"  # a backup 15 minutes ago
    taken.mkdir()
    (taken / "manifest.json").write_text('{"created_at": "2024-03-15T17:45:00+00:00"}')

    samples = scrape()
    assert samples["pms_stale_prices", ()] == 1
    assert samples["pms_pipeline_late", (("pipeline", "eod"),)] == 0
    assert samples["pms_pipeline_late", (("pipeline", "preopen"),)] == 1
    eod, preopen = (
        (("field", "seconds"), ("pipeline", "eod")),
        (
            ("field", "failed"),
            ("pipeline", "preopen"),
        ),
    )
    assert samples["pms_pipeline_last_run", eod] == 12.5
    assert samples["pms_pipeline_last_run", preopen] == 1
    assert samples["pms_open_alerts", (("kind", "pipeline"), ("status", "open"))] == 1
    assert samples["pms_open_alerts", (("kind", "limit"), ("status", "open"))] == 0
    assert 900 <= samples["pms_backup_age_seconds", ()] < 960


def test_metrics_token(db, settings):
    settings.PMS_METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape("Bearer s3cret")["pms_up", (("check", "database"),)] == 1
    # In production (DEBUG off) the token is required: without one, /metrics is off.
    settings.DEBUG = False
    assert scrape("Bearer s3cret")["pms_up", (("check", "database"),)] == 1
    settings.PMS_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404


@pytest.mark.parametrize(
    ("now", "late"),
    [
        # Monday 09:00 UTC: eod's last due slot is Friday's; preopen's (Monday 09:30) not yet.
        (
            dt.datetime(2024, 3, 18, 9, 0, tzinfo=dt.UTC),
            {"eod": "2024-03-15", "preopen": "2024-03-15"},
        ),
        # Monday 22:30 UTC: eod's slot of 21:00 is 90 minutes old.
        (
            dt.datetime(2024, 3, 18, 22, 30, tzinfo=dt.UTC),
            {"eod": "2024-03-18", "preopen": "2024-03-18"},
        ),
        # Wednesday after Carnival, 09:00 UTC: Tuesday was a holiday, nothing due.
        (dt.datetime(2024, 2, 14, 9, 0, tzinfo=dt.UTC), {}),
    ],
)
def test_late_pipelines(db, now: dt.datetime, late: dict[str, Any]):
    found = pipelines.late_pipelines(now)
    assert {p: d.isoformat() for p, d in found.items()} == late


def test_the_alert_rules_read_metrics_that_exist(book, alive):
    """Every pms_* series an alert rule reads is one /metrics exports (a renamed metric
    would silence its alert)."""
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "pms-alerts.yml").read_text())
    [group] = rules["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert {"PMSPipelineFailed", "PMSPipelineLate", "PMSStalePrices", "PMSLimitBreach"} <= set(
        alerts
    )
    assert {"PMSCacheDown", "PMSBackupTooOld", "PMSClusterDown"} <= set(alerts)
    Client().get("/health/")  # a request, so that the request counters have a sample
    families = list(text_string_to_metric_families(Client().get("/metrics").content.decode()))
    exported = {f.name for f in families} | {s.name for f in families for s in f.samples}
    for rule in alerts.values():
        for name in re.findall(r"\b(pms_[a-z_]+)", rule["expr"]):
            assert name in exported, (rule["alert"], name)
        assert rule["labels"]["severity"] in {"page", "ticket"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_promtool_checks_and_tests_the_rules():
    """The rules parse, and each alert fires on its condition after its grace and not
    before (deploy/prometheus/pms-alerts.test.yml)."""
    folder = ROOT / "deploy" / "prometheus"
    for command in (["check", "rules", "pms-alerts.yml"], ["test", "rules", "pms-alerts.test.yml"]):
        done = subprocess.run(
            ["promtool", *command], cwd=folder, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout
