"""Settings: production refuses to start without its secrets; check --deploy passes with them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: the suite's own (conftest), which check --deploy refuses
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_secret_key_or_hosts_refuses_to_start():
    no_key = run_manage("check", DEBUG="0", ALLOWED_HOSTS="pms.example.com")
    assert no_key.returncode != 0 and "SECRET_KEY must be set" in no_key.stderr
    no_hosts = run_manage("check", DEBUG="0", SECRET_KEY="k" * 60)
    assert no_hosts.returncode != 0 and "ALLOWED_HOSTS must be set" in no_hosts.stderr


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-long-random-production-secret-" + "x7Qp" * 10,
    "ALLOWED_HOSTS": "pms.example.com",
}


def test_check_deploy_passes_with_production_variables():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, PMS_METRICS_TOKEN="m" * 40
    )
    assert result.returncode == 0, result.stderr
    # Without a metrics token /metrics is off, and the deploy check says so.
    warned = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert warned.returncode != 0 and "pms.W001" in warned.stderr


def test_production_answers_health_and_metrics_over_plain_http(tmp_path):
    """Load balancers and Prometheus reach a node directly: /health/ and /metrics answer
    over HTTP; everything else is redirected to HTTPS. (An empty database here: /health/
    answers 503, not migrated, which is the point, not a 301.) Without its token
    /metrics is off with DEBUG off: 404."""
    probe = (
        "from django.test import Client; c = Client(HTTP_HOST='pms.example.com'); "
        "print(c.get('/health/').status_code, "
        "c.get('/metrics', headers={'Authorization': 'Bearer ' + 'm' * 40}).status_code, "
        "c.get('/api/book/').status_code, c.get('/metrics').status_code)"
    )
    result = run_manage(
        "shell",
        "-c",
        probe,
        **PRODUCTION,
        PMS_METRICS_TOKEN="m" * 40,
        PMS_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["503", "200", "301", "401"]
    off = run_manage(
        "shell",
        "-c",
        "from django.test import Client; "
        "print(Client(HTTP_HOST='pms.example.com').get('/metrics').status_code)",
        **PRODUCTION,
        PMS_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    )
    assert off.stdout.split()[-1:] == ["404"], off.stderr


def test_production_serves_the_admins_static_files(tmp_path):
    """With DEBUG off (gunicorn) the admin still has its CSS: WhiteNoise serves it."""
    probe = (
        "from django.test import Client; c = Client(HTTP_HOST='pms.example.com'); "
        "r = c.get('/static/admin/css/base.css', secure=True); "
        "print(r.status_code, r['Content-Type'].split(';')[0])"
    )
    result = run_manage(
        "shell",
        "-c",
        probe,
        **PRODUCTION,
        PMS_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    )
    assert result.stdout.split()[-2:] == ["200", "text/css"], result.stderr


def test_every_model_change_has_its_migration(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits 1 otherwise
    assert "No changes detected" in out.getvalue()


def test_debug_is_off_unless_set_to_1(tmp_path):
    """A server started with only its database's address (no DEBUG) does not start in
    development mode: without SECRET_KEY it refuses, saying what to set; with its secrets
    it answers a 404 without Django's technical page (the URL patterns) and keeps /metrics
    closed."""
    database = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    refused = run_manage("check", DATABASE_URL=database, PMS_VAR_DIR=str(tmp_path))
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    assert "export DEBUG=1" in refused.stderr  # what the demo on this machine does instead
    probe = (
        "from django.conf import settings; from django.test import Client; "
        "c = Client(HTTP_HOST='pms.example.com'); r = c.get('/no-such-page/', secure=True); "
        "print(settings.DEBUG, r.status_code, b'URLconf' in r.content, "
        "c.get('/metrics').status_code)"
    )
    production = {key: value for key, value in PRODUCTION.items() if key != "DEBUG"}
    result = run_manage(
        "shell", "-c", probe, **production, DATABASE_URL=database, PMS_VAR_DIR=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["False", "404", "False", "404"]
