"""Shared fixtures. The suite runs on the embedded defaults and on PostgreSQL + Redis.

Tests marked `postgres` need PostgreSQL (row locks, concurrency) and run in the pass whose
DATABASE_URL points at it; tests marked `redis` need a real Redis (REDIS_URL). In CI
(`CI` set) the services are required in that pass: a missing one fails the run.
"""

import datetime as dt
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from knox.models import AuthToken
from rest_framework.test import APIClient

from portfolio.models import Instrument, Strategy

from .browser import CHROMIUM, LAUNCH_ARGS
from .factories import FxRateFactory, InstrumentFactory, StrategyFactory

# The fixtures more than one folder uses, by name (pytest allows this list in the root
# conftest only).
pytest_plugins = [
    "tests.fixtures.attribution_fund",
    "tests.fixtures.backtest",
    "tests.fixtures.briefing_pack",
    "tests.fixtures.fees_fund",
    "tests.fixtures.risk_book",
    "tests.fixtures.trading_fund",
]

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
ON_REDIS = bool(settings.REDIS_URL)


# The browser tests' Playwright (pytest-playwright's session-wide browser) keeps an event
# loop running in the main thread from their first test to the session's end; Django's
# ORM, synchronous all the same, must not take that for an async context.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser is Debian's chromium (tests/browser.py)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": LAUNCH_ARGS}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-query-counts",
        action="store_true",
        default=False,
        help="tests/test_query_counts.py: rewrite tests/query_counts.json with the measured "
        "query counts instead of comparing them with it.",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected: list[pytest.Item] = []
    kept: list[pytest.Item] = []
    for item in items:
        needs_pg = item.get_closest_marker("postgres") and not ON_POSTGRES
        needs_redis = item.get_closest_marker("redis") and not ON_REDIS
        (deselected if needs_pg or needs_redis else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(
                f"{len(deselected)} service test(s) belong to the PostgreSQL + Redis pass "
                "(set DATABASE_URL and REDIS_URL)"
            )


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and os.environ.get("DATABASE_URL") and not ON_POSTGRES:
        raise pytest.UsageError("CI: DATABASE_URL is set but does not point at PostgreSQL.")


TODAY = dt.date(2024, 3, 15)  # a Friday, a B3 business day


@pytest.fixture(autouse=True)
def _fixed_clock() -> Iterator[None]:
    """Tests live at 15:00 in São Paulo on TODAY, unless they travel elsewhere."""
    with time_machine.travel(dt.datetime(2024, 3, 15, 18, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an empty cache and a closed breaker. The book is written
    through at once, on the test's connection (a test of the worker thread puts it back):
    the worker's own connection would not see the rows of a test that never commits."""
    from django.core.cache import cache as default_cache

    from pms_site import authentication, cache

    monkeypatch.setattr(cache, "in_background", lambda job: job())
    cache.reset()
    authentication.forget()
    default_cache.clear()
    yield
    cache.reset()


def queries_of(client: APIClient, url: str, params: Any = None) -> tuple[int, Any]:
    """The queries one GET makes, and its answer: by a client whose token is already known
    (it is looked up once per process, at a warm-up request), on a cold cache."""
    from django.core.cache import cache as default_cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, params)
    default_cache.clear()
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url, params)
    return len(queries), answer


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any, tmp_path: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PMS_DEMO_PASSWORD_DIR = str(tmp_path)  # load_demo never touches the real var/


@pytest.fixture
def api_client_for(db: None) -> Callable[[str | None], APIClient]:
    """An API client authenticated by token as the user of `group` ('superuser' for one)."""

    def make(group: str | None) -> APIClient:
        client = APIClient()
        if group is None:
            return client
        user, _ = User.objects.get_or_create(username=f"user-{group}")
        if group == "superuser":
            user.is_superuser = user.is_staff = True
            user.save()
        elif group != "nogroup":
            # get_or_create: a transactional test before this one flushed the migrated groups.
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


@pytest.fixture
def usd(db: None) -> Callable[..., None]:
    """Load USD rates: usd({date: rate, ...})."""

    def load(rates: dict[dt.date, str]) -> None:
        for day, rate in rates.items():
            FxRateFactory(currency="USD", date=day, rate=Decimal(rate))

    return load


@pytest.fixture
def spx(db: None) -> Instrument:
    """An equity index future in USD, 50 per point."""
    return InstrumentFactory.create(
        symbol="ESH4", asset_class="equity", currency="USD", multiplier=Decimal("50")
    )


@pytest.fixture
def ibov(db: None) -> Instrument:
    """A price instrument in the base currency, 1 per point."""
    return InstrumentFactory.create(
        symbol="INDJ24", asset_class="equity", currency="BRL", multiplier=Decimal("1")
    )


@pytest.fixture
def di1(db: None) -> Instrument:
    """A DI1 future: yield-quoted, 100,000 BRL notional, DV01 25 BRL per contract."""
    return InstrumentFactory.create(
        symbol="DI1F27",
        asset_class="rates",
        currency="BRL",
        quote_type="yield",
        multiplier=Decimal("100000"),
        dv01=Decimal("25"),
    )


@pytest.fixture
def macro(db: None) -> Strategy:
    return StrategyFactory.create(code="MACRO")
