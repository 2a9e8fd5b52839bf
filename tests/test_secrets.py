"""Secrets kept secret: API tokens stored as digests and expiring, revoked by a password
change, a deactivation or `load_demo --reset-passwords`; Django's password validators on
every path that sets a password; a login throttle that counts in the database (Redis down
or restarted changes nothing); the admin's login never sends anyone off-site."""

import datetime as dt
import os
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.concurrency import statuses_at_once
from tests.conftest import ON_POSTGRES
from tests.factories import PASSWORD, InstrumentFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2024, 3, 15, 18, 0, tzinfo=dt.UTC)  # the suite's clock (conftest)


def login(username: str, password: str = PASSWORD) -> Any:
    return Client().post(
        "/api/auth/token/", {"username": username, "password": password}, "application/json"
    )


def token_client(username: str) -> tuple[APIClient, str]:
    answer = login(username)
    assert answer.status_code == 200, answer.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client, answer.json()["token"]


@pytest.fixture
def ops_user() -> User:
    user = User.objects.create_user("ops-officer", password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="ops")[0])
    return user


def strategy_post(client: APIClient, code: str) -> int:
    return client.post("/api/strategies/", {"code": code, "name": code}, format="json").status_code


def test_a_token_is_kept_as_a_digest_and_expires_after_the_ttl(ops_user, settings):
    client, token = token_client("ops-officer")
    with connection.cursor() as cursor:  # the token itself is in no column of any table
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            assert not any(token in repr(row) for row in cursor.fetchall()), table
    [row] = AuthToken.objects.filter(user=ops_user)
    # Issued at the suite's 18:00 UTC (its clock ticks: a few seconds later), for 12 hours.
    assert dt.timedelta(hours=12) <= row.expiry - NOW < dt.timedelta(hours=12, minutes=1)
    assert client.get("/api/strategies/").status_code == 200
    assert strategy_post(client, "BEFORE") == 201
    with time_machine.travel(NOW + dt.timedelta(hours=12, minutes=2)):
        assert client.get("/api/strategies/").status_code == 401  # remembered: not past expiry
        assert strategy_post(client, "AFTER") == 401
    assert not AuthToken.objects.filter(user=ops_user).exists()  # the expired one deleted


@pytest.mark.django_db(transaction=True)  # a backup reads committed rows
def test_a_token_is_not_in_a_backup(ops_user, tmp_path):
    _, token = token_client("ops-officer")
    call_command("backup", "--output-dir", str(tmp_path), stdout=StringIO())
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files and not any(token.encode() in path.read_bytes() for path in files)


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_password_change_or_a_deactivation_revokes_the_tokens_at_once(ops_user, change):
    client, _ = token_client("ops-officer")
    assert client.get("/api/strategies/").status_code == 200  # remembered by this process
    if change == "password":
        ops_user.set_password("another-passphrase-9Zt")
    else:
        ops_user.is_active = False
    ops_user.save()
    assert not AuthToken.objects.filter(user=ops_user).exists()
    assert client.get("/api/strategies/").status_code == 401
    assert strategy_post(client, "AFTER") == 401


def test_a_last_login_or_a_rename_keeps_the_tokens(ops_user):
    client, _ = token_client("ops-officer")
    ops_user.first_name = "Olga"
    ops_user.save()
    ops_user.save(update_fields=["last_login"])
    assert strategy_post(client, "KEPT") == 201


def demo_users(password: str) -> None:
    """load_demo on a fund already there: the demo users only."""
    InstrumentFactory(symbol="PETR4")
    call_command("load_demo", "--if-empty", "--password", password, stdout=StringIO())


def test_reset_passwords_revokes_the_demo_users_tokens(db):
    demo_users(PASSWORD)
    client, _ = token_client("viewer")
    assert client.get("/api/strategies/").status_code == 200
    call_command("load_demo", "--if-empty", "--reset-passwords", stdout=StringIO())
    assert client.get("/api/strategies/").status_code == 401
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("password", ["abc", "password", "12345678901"])
def test_load_demo_refuses_a_weak_password_and_changes_nothing(db, password):
    demo_users(PASSWORD)
    with pytest.raises(CommandError, match="--password is refused, nothing was changed"):
        call_command("load_demo", "--if-empty", "--password", password, stdout=StringIO())
    assert all(user.check_password(PASSWORD) for user in User.objects.all())


def test_createsuperuser_runs_the_validators_without_a_terminal_too(db, monkeypatch):
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", "abc")
    with pytest.raises(CommandError, match="too short"):
        call_command("createsuperuser", "--noinput", "--username=root", "--email=r@example.com")
    assert not User.objects.filter(username="root").exists()
    monkeypatch.setitem(os.environ, "DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser",
        "--noinput",
        "--username=root",
        "--email=r@example.com",
        stdout=StringIO(),
    )
    assert User.objects.get(username="root").check_password(PASSWORD)


def test_the_admin_refuses_a_weak_password(db):
    boss = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client = Client()
    client.force_login(boss)
    page = client.post(
        f"/admin/auth/user/{boss.pk}/password/",
        {"password1": "abc", "password2": "abc", "usable_password": "true"},
    )
    assert page.status_code == 200 and b"too short" in page.content
    boss.refresh_from_db()
    assert boss.check_password(PASSWORD)


def wrong_logins(count: int) -> list[int]:
    return [login("pm", "wrong").status_code for _ in range(count)]


def test_the_login_throttle_counts_without_redis_and_across_its_restart(db, settings):
    User.objects.create_user("pm", password=PASSWORD)
    # The cache is a Redis nobody listens on: the throttle does not use it.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1},
        }
    }
    assert wrong_logins(12) == [400] * 10 + [429, 429]
    refused = login("pm")  # the right password, too soon: refused as well
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_the_login_throttle_survives_a_cache_flush_and_forgets_after_its_window(db):
    User.objects.create_user("pm", password=PASSWORD)
    assert wrong_logins(10) == [400] * 10
    cache.clear()  # Redis restarted without its data
    assert wrong_logins(1) == [429]
    with time_machine.travel(NOW + dt.timedelta(minutes=2)):
        assert login("pm").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")
def test_wrong_logins_at_once_are_each_counted():
    User.objects.create_user("pm", password=PASSWORD)
    codes = statuses_at_once(
        [Client() for _ in range(16)],
        lambda i, client: client.post(
            "/api/auth/token/", {"username": "pm", "password": "wrong"}, "application/json"
        ),
    )
    assert sorted(codes) == [400] * 10 + [429] * 6


def test_the_admin_login_never_sends_anyone_off_site(db):
    User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    answer = Client().post(
        "/admin/login/?next=https://evil.example/steal",
        {"username": "boss", "password": PASSWORD, "next": "https://evil.example/steal"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/admin/"


def test_the_admin_lists_tokens_without_secrets_and_deleting_one_revokes_it(ops_user):
    client, token = token_client("ops-officer")
    assert client.get("/api/strategies/").status_code == 200
    boss = Client()
    boss.force_login(User.objects.create_superuser("boss", "boss@example.com", PASSWORD))
    page = boss.get("/admin/knox/authtoken/")
    [row] = AuthToken.objects.all()
    assert page.status_code == 200 and row.token_key.encode() in page.content
    assert token.encode() not in page.content  # (its digest is the row's key, in the links)
    assert boss.get("/admin/knox/authtoken/add/").status_code == 403  # issued by the API only
    deleted = boss.post(f"/admin/knox/authtoken/{row.pk}/delete/", {"post": "yes"}, follow=False)
    assert deleted.status_code == 302 and not AuthToken.objects.exists()
    assert client.get("/api/strategies/").status_code == 401


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_createsuperuser_at_a_terminal_asks_as_usual_and_allows_no_bypass(db, monkeypatch):
    """The username and email are asked and answered; a weak password is refused and the
    "bypass?" question answered no for the person, so the password is asked again."""
    answers = iter(["root", "root@example.com"])
    monkeypatch.setattr("builtins.input", lambda question="": next(answers))
    passwords = iter(["abc", "abc", PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="Password: ": next(passwords))
    out, err = StringIO(), StringIO()
    call_command("createsuperuser", interactive=True, stdin=Terminal(), stdout=out, stderr=err)
    root = User.objects.get(is_superuser=True)
    assert (root.username, root.email) == ("root", "root@example.com")
    assert root.check_password(PASSWORD) and "too short" in err.getvalue()


def test_load_demo_checks_the_password_against_each_user_as_it_is(db):
    from demo.management.commands.load_demo import password_file

    demo_users(PASSWORD)
    User.objects.filter(username="pm").update(first_name="Quantdeskalpha")
    stored = password_file().read_text()
    with pytest.raises(CommandError, match="too similar to the first name"):
        call_command("load_demo", "--if-empty", "--password", "Quantdeskalpha77", stdout=StringIO())
    assert all(user.check_password(PASSWORD) for user in User.objects.all())
    assert password_file().read_text() == stored
