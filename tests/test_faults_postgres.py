"""Operational faults on the real services: a database that hangs, a restore with sessions
connected, the roles of production, the cluster's stop."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from ops.backups import row_counts

ROOT = Path(__file__).resolve().parent.parent


def dsn(**overrides: Any) -> str:
    settings = {**connection.settings_dict, **overrides}
    return (
        f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
        f"dbname={settings['NAME']} user={settings['USER']}"
    )


@pytest.fixture
def silent_server() -> Any:
    """A TCP server that accepts connections and never says a word: a hung database."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for peer in held:
        peer.close()
    listener.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hung_database_is_a_json_503_within_seconds(silent_server, api_client_for):
    viewer = api_client_for("viewer")
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(silent_server))
    try:
        started = time.monotonic()
        health = Client().get("/health/")
        health_seconds = time.monotonic() - started
        started = time.monotonic()
        book_answer = viewer.get("/api/book/")
        book_seconds = time.monotonic() - started
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert (health.status_code, health.json()["status"]) == (503, "down")
    assert health_seconds < 3, health_seconds
    assert book_answer.status_code == 503 and book_seconds < 5, book_seconds
    assert book_answer["Content-Type"] == "application/json"
    assert book_answer["Retry-After"] == "5" and "database is unavailable" in str(
        book_answer.json()["detail"]
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_restore_refuses_other_sessions_unless_it_ends_them(book, tmp_path):
    call_command("backup", "--output-dir", str(tmp_path), stdout=StringIO())
    [folder] = tmp_path.glob("pms-*")
    other = psycopg.connect(dsn(), application_name="a-web-worker")
    try:
        with pytest.raises(CommandError) as refused:
            call_command("restore", str(folder), "--yes", stdout=StringIO())
        assert "1 other session(s) are connected" in str(refused.value)
        assert "a-web-worker" in str(refused.value) and "--terminate-sessions" in str(refused.value)
        out = StringIO()
        call_command("restore", str(folder), "--yes", "--terminate-sessions", stdout=out)
        assert "ended 1 other session(s)" in out.getvalue()
        with pytest.raises(psycopg.OperationalError):
            other.execute("SELECT 1")
    finally:
        other.close()
    # New sessions are let in again once it is done.
    with psycopg.connect(dsn()) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_application_role_cannot_touch_the_ledger(book):
    from ops import verification

    with connection.cursor() as cursor:
        cursor.execute((ROOT / "deploy/postgres/roles.sql").read_text())
    status, detail = verification.database_role()
    assert status == "warn" and "pms_app" in detail  # the tests connect as a superuser
    with psycopg.connect(dsn(USER="pms_app"), autocommit=True) as app:
        assert app.execute("SELECT count(*) FROM portfolio_trade").fetchone()[0] == 5
        for statement in (
            "TRUNCATE portfolio_trade",
            "ALTER TABLE portfolio_trade DISABLE TRIGGER ALL",
            "DROP TABLE portfolio_auditrecord",
            "DELETE FROM portfolio_trade",
        ):
            with pytest.raises(psycopg.Error):
                app.execute(statement)
        assert app.execute("SELECT count(*) FROM portfolio_trade").fetchone()[0] == 5
        app.execute(
            "INSERT INTO portfolio_capitalflow (date, amount, note, created_at) "
            "VALUES ('2024-03-15', 1, 'by the application role', now())"
        )
    with connection.cursor() as cursor:  # as in production: the servers as pms_app
        cursor.execute("SET ROLE pms_app")
        try:
            assert verification.database_role()[0] == "ok"
        finally:
            cursor.execute("RESET ROLE")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_cluster_stops_within_its_bound_with_a_task_running(db):
    settings_db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{settings_db['USER']}@{settings_db['HOST']}:"
        f"{settings_db['PORT']}/{settings_db['NAME']}",
        "PMS_Q_WORKERS": "1",
        "PMS_CLUSTER_STOP_SECONDS": "3",
    }
    from django.utils import timezone
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        enqueued = timezone.now()
        async_task("time.sleep", 120)
        deadline = time.monotonic() + 60
        taken = OrmQ.objects.filter(lock__gte=enqueued)  # a worker locks what it takes
        while time.monotonic() < deadline and not taken.exists():
            time.sleep(0.2)
        assert taken.exists(), "the cluster never took the task"
        time.sleep(1)
        started = time.monotonic()
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        if cluster.poll() is None:
            cluster.kill()
            cluster.wait()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_owner_role_restores_ending_the_application_sessions_only(book, tmp_path):
    """As in production: `restore` connects as pms_owner (roles.sql), the servers as
    pms_app. It ends the servers' sessions; a superuser's it may not end, and says so."""
    with connection.cursor() as cursor:
        cursor.execute((ROOT / "deploy/postgres/roles.sql").read_text())
    call_command("backup", "--output-dir", str(tmp_path), stdout=StringIO())
    [folder] = tmp_path.glob("pms-*")
    console = psycopg.connect(dsn(), application_name="a-console")  # as postgres
    app = psycopg.connect(dsn(USER="pms_app"), application_name="a-web-worker")
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["USER"] = "pms_owner"
    try:
        with pytest.raises(CommandError, match=r"may not end pid \d+ postgres@\S+ a-console"):
            call_command("restore", str(folder), "--yes", "--terminate-sessions", stdout=StringIO())
        console.close()
        app = psycopg.connect(dsn(USER="pms_app"), application_name="a-web-worker")
        out = StringIO()
        call_command("restore", str(folder), "--yes", "--terminate-sessions", stdout=out)
        assert "ended 1 other session(s)" in out.getvalue()
        with pytest.raises(psycopg.OperationalError):
            app.execute("SELECT 1")
    finally:
        app.close()
        console.close()
        connection.close()
        connection.settings_dict.update(original)
    with psycopg.connect(dsn(USER="pms_app")) as again:  # the servers' role reads the ledger
        assert again.execute("SELECT count(*) FROM portfolio_trade").fetchone() == (5,)


def database_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def http(base: str, path: str, token: str = "", body: Any = None) -> int:
    """The status of one request (0: no answer within 5 s, or the connection failed)."""
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Token {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, urllib.error.URLError):
        return 0


class WriteLoad:
    """`clients` threads, each creating strategies (LOAD-<client>-<n>) through the API as
    fast as the server answers; `answers` holds (monotonic time, status) of every request."""

    def __init__(self, base: str, token: str, clients: int) -> None:
        self.base, self.token, self.stop = base, token, threading.Event()
        self.answers: list[tuple[float, int]] = []
        self.threads = [threading.Thread(target=self.write, args=(i,)) for i in range(clients)]

    def write(self, client: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            body = {"code": f"LOAD-{client}-{n}", "name": "load", "risk_budget": "1000"}
            status = http(self.base, "/api/strategies/", self.token, body)
            self.answers.append((time.monotonic(), status))
            if status != 201:
                time.sleep(0.05)

    def __enter__(self) -> "WriteLoad":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def written(self, since: float = 0.0) -> int:
        return sum(1 for at, status in self.answers if status == 201 and at >= since)


@pytest.fixture
def web_server(db: Any) -> Any:
    """gunicorn (4 workers) on a spare port against the tests' database, as its role
    (postgres, a superuser, as in the README); yields its base URL and environment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "1",
        "PMS_BIND": f"127.0.0.1:{port}",
        "PMS_WEB_WORKERS": "4",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "pms_site/gunicorn.conf.py", "pms_site.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while http(base, "/health/") != 200:
            assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
            time.sleep(0.2)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def superuser_token(base: str) -> str:
    """A token of a new superuser, asked of the server (its tokens, its clock)."""
    password = "a long load password 1"
    User.objects.create(  # hashed as the server hashes: the tests' own settings use MD5
        username="loader",
        password=PBKDF2PasswordHasher().encode(password, "loadsalt"),
        is_superuser=True,
    )
    request = urllib.request.Request(
        base + "/api/auth/token/",
        data=json.dumps({"username": "loader", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        return str(json.load(urllib.request.urlopen(request, timeout=10))["token"])
    except urllib.error.HTTPError as error:
        raise AssertionError(error.read()) from None


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_restore_under_a_write_load_as_a_superuser(book, tmp_path, web_server):
    """The issue's case: the servers connect as postgres, which no connection limit keeps
    out, and 20 clients write. The restore ends their sessions at the swap, exits 0 with
    the backup's rows, and the server answers again within 10 s."""
    base, env = web_server
    token = superuser_token(base)
    call_command("backup", "--output-dir", str(tmp_path), stdout=StringIO())
    [folder] = tmp_path.glob("pms-*")
    manifest = json.loads((folder / "manifest.json").read_text())
    connection.close()  # the restore ends every session on the database, this one too
    with WriteLoad(base, token, clients=20) as load:
        while load.written() < 100:
            time.sleep(0.1)
        with psycopg.connect(dsn(NAME="postgres"), autocommit=True) as clock:
            (started,) = clock.execute("SELECT clock_timestamp()").fetchone()
        restore = subprocess.run(
            [sys.executable, "manage.py", "restore", str(folder), "--yes", "--terminate-sessions"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        returned = time.monotonic()
        while http(base, "/api/strategies/?limit=1", token) != 200:
            assert time.monotonic() - returned < 10, "the server did not answer within 10 s"
            time.sleep(0.1)
        back_in = time.monotonic() - returned
        while load.written(since=returned) < 20:  # the writers carry on, on the restored rows
            assert time.monotonic() - returned < 30, "the writes did not resume"
            time.sleep(0.1)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "row counts as in the manifest" in restore.stdout and "swapped in" in restore.stdout
    assert back_in < 10
    # The restored database: the backup's rows, and the load's writes since the swap (the
    # strategies LOAD-…, each with its audit record), nothing of what came between.
    counts = row_counts()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM portfolio_strategy WHERE code NOT LIKE 'LOAD-%%'")
        counts["portfolio_strategy"] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM portfolio_auditrecord WHERE at < %s", [started])
        counts["portfolio_auditrecord"] = cursor.fetchone()[0]
    assert counts == manifest["tables"]
