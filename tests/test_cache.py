"""The read cache: hits and misses, tiers, invalidation by every kind of write (after its
commit, as the table of `pms_site.cache` says), zero-query hits, a single computation under
concurrent cold requests, and Redis down or hung.

The fund is the risk tests' book (tests/fixtures/risk_book.py: 21 business days of quotes, five
positions) with its snapshots and a morning pack.
"""

import dataclasses
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import types
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache as default_cache
from django.db import connection, transaction
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from briefing import services as briefing_services
from briefing.models import MorningPack
from pms_site import cache
from portfolio import selectors as book_selectors
from portfolio import services as book_services
from portfolio.models import (
    BenchmarkRate,
    CapitalFlow,
    FundTerms,
    FxRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from risk import services as risk_services
from risk.models import RiskLimit, RiskSnapshot
from tests.concurrency import at_once
from tests.conftest import ON_REDIS, TODAY
from tests.fixtures.risk_book import DAYS
from tests.shown import shown_book

BOOK = "/api/book/"
RISK = "/api/risk/live/?window=20"
ATTRIBUTION = "/api/attribution/?period=mtd&by=strategy"
PACK = "/api/morning-pack/latest/"
PACK_DATE = "/api/morning-pack/2024-03-18/"
ENDPOINTS = (BOOK, RISK, ATTRIBUTION, PACK, PACK_DATE)


@pytest.fixture
def cached_fund(
    request: pytest.FixtureRequest, api_client_for: Any, django_capture_on_commit_callbacks: Any
) -> Any:
    """The fund as committed: its writes' invalidations have run, so that a test's own
    write, captured, makes its own flush rather than join the fixture's."""
    with django_capture_on_commit_callbacks(execute=True):
        request.getfixturevalue("book")
        book_services.snapshots_build(start=DAYS[0], end=TODAY, actor="test")
        briefing_services.morning_pack_generate(date=TODAY.replace(day=18), actor="test")
    client = api_client_for("viewer")
    client.get(BOOK)  # the token is looked up once, here
    default_cache.clear()
    return client


def get(client: Any, url: str) -> dict[str, Any]:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.content[:300])
    return json.loads(answer.content)


def without_cache_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("cached", "cache_age_seconds")}


def test_a_miss_then_hits(cached_fund):
    for url in ENDPOINTS:
        first = get(cached_fund, url)
        assert (first["cached"], first["cache_age_seconds"]) == (False, None), url
        second = get(cached_fund, url)
        assert second["cached"] is True and 0 <= second["cache_age_seconds"] < 5, url
        assert without_cache_fields(second) == without_cache_fields(first), url


def test_what_an_earlier_version_cached_is_never_read(cached_fund, settings):
    """A deploy whose stored payloads changed shape starts from an empty cache: an earlier
    version's payload (here of its shape: `head`, not `content`), current for its
    generation, is not read, and the book is computed."""
    earlier = settings.CACHES["default"]["VERSION"] - 1
    old = types.SimpleNamespace(generation=1, computed_at=time.time(), head=b'{"stale":1')
    default_cache.set_many({"generation:book": 1, cache.key("book"): old}, version=earlier)
    response = cached_fund.get(BOOK)
    assert response.status_code == 200
    assert "stale" not in response.json() and response.json()["cached"] is False


def test_a_hit_makes_no_database_query(cached_fund):
    for url in ENDPOINTS:
        get(cached_fund, url)
        with CaptureQueriesContext(connection) as queries:
            assert get(cached_fund, url)["cached"] is True
        assert len(queries) == 0, (url, [q["sql"] for q in queries])


def test_a_hit_skips_drf_and_answers_as_drf_does(cached_fund, monkeypatch):
    """A hit for a remembered token is answered before DRF's request and checks (they
    fail here if reached), with the bytes and headers DRF's way gives: an Accept that
    the fast path leaves to DRF's negotiation picks the same JSON."""
    from rest_framework.views import APIView

    for url in ENDPOINTS:
        get(cached_fund, url)  # the miss, through DRF
    by_drf = {url: cached_fund.get(url, HTTP_ACCEPT="application/json; q=1") for url in ENDPOINTS}

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a hit went through DRF")

    monkeypatch.setattr(APIView, "initial", refused)
    for url in ENDPOINTS:
        with CaptureQueriesContext(connection) as queries:
            fast = cached_fund.get(url)
        assert len(queries) == 0, url
        slow = by_drf[url]
        assert fast.status_code == slow.status_code == 200, url
        assert json.loads(fast.content)["cached"] is True, url
        assert without_cache_fields(json.loads(fast.content)) == without_cache_fields(
            json.loads(slow.content)
        ), url
        names = ("Content-Type", "Allow", "Vary", "X-Frame-Options", "Content-Length")
        assert {h: fast.headers.get(h) for h in names[:-1]} == {
            h: slow.headers.get(h) for h in names[:-1]
        }, url
        assert int(fast.headers["Content-Length"]) == len(fast.content), url


def test_what_the_fast_path_does_not_answer_drf_does(cached_fund, api_client_for, monkeypatch):
    for url in (BOOK, RISK):
        get(cached_fund, url)
    # A bad query on a warm data set: 400 naming the field, as on a cold one.
    bad = cached_fund.get("/api/risk/live/?window=abc")
    assert bad.status_code == 400 and "window" in bad.json(), bad.content
    # A user in no PMS group, token remembered: 403, not the cached book.
    stranger = api_client_for("nogroup")
    assert stranger.get(BOOK).status_code == 403
    assert stranger.get(BOOK).status_code == 403
    # No token, or an unknown one: 401 with the challenge.
    assert api_client_for(None).get(BOOK).status_code == 401
    cached_fund.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    unknown = cached_fund.get(BOOK)
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == "Token"
    # A browser: the browsable page of the same answer.
    page = api_client_for("viewer").get(BOOK, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


def test_a_remembered_user_deactivated_or_regrouped_is_refused_at_once(cached_fund, api_client_for):
    from django.contrib.auth.models import User

    assert get(cached_fund, BOOK)["cached"] is False
    assert get(cached_fund, BOOK)["cached"] is True  # the fast path, token remembered
    viewer = User.objects.get(username="user-viewer")
    viewer.groups.clear()
    assert cached_fund.get(BOOK).status_code == 403
    pm = api_client_for("pm")
    assert get(pm, BOOK)["cached"] is True
    user = User.objects.get(username="user-pm")
    user.is_active = False
    user.save()
    assert pm.get(BOOK).status_code == 401


@pytest.mark.redis
def test_each_tier_has_its_timeout_in_redis(cached_fund):
    for url in ENDPOINTS:
        get(cached_fund, url)
    keys = {
        cache.key("book"): 30,
        cache.key("risk", window=20): 60,
        cache.key("attribution"): 300,
        cache.key("morning_pack"): 300,
        cache.key("morning_pack", date=dt.date(2024, 3, 18)): 300,
    }
    for key, seconds in keys.items():
        assert seconds - 3 <= default_cache.ttl(key) <= seconds, key


def warm(client: Any) -> None:
    for url in (BOOK, RISK, ATTRIBUTION):
        get(client, url)
        assert get(client, url)["cached"] is True


def write_kinds(api_client_for: Any) -> dict[str, Any]:
    """Every kind of write that feeds the book, as the API or a service makes it."""
    pm, ops, risk = api_client_for("pm"), api_client_for("ops"), api_client_for("risk")
    return {
        "trade": lambda: pm.post(
            "/api/positions/",
            {"instrument": "INDJ24", "strategy": "RV", "quantity": "5", "price": "102000"},
            format="json",
        ),
        "close": lambda: pm.post(  # the first position: DI1F27, a yield, last 10.40
            f"/api/positions/{shown_book()['positions'][0]['id']}/close/",
            {"price": "10.45"},
            format="json",
        ),
        "price": lambda: ops.post(
            "/api/prices/",
            [{"instrument": "INDJ24", "date": "2024-03-15", "price": "103000"}],
            format="json",
        ),
        "fx": lambda: ops.post(
            "/api/fx-rates/",
            [{"currency": "USD", "date": "2024-03-15", "rate": "5.2"}],
            format="json",
        ),
        "capital flow": lambda: ops.post(
            "/api/capital-flows/", {"date": "2024-03-15", "amount": "500000"}, format="json"
        ),
        "mark-to-market": lambda: ops.post(
            "/api/book/mark-to-market/", {"date": "2024-03-15"}, format="json"
        ),
        "snapshots": lambda: book_services.snapshots_build(start=TODAY, end=TODAY, actor="test"),
        "limit": lambda: risk.post(
            "/api/risk/limits/",
            {"name": "Gross", "metric": "gross_leverage", "limit": "3"},
            format="json",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    ["trade", "close", "price", "fx", "capital flow", "mark-to-market", "snapshots", "limit"],
)
def test_every_write_is_seen_by_the_next_read(
    cached_fund, api_client_for, django_capture_on_commit_callbacks, kind
):
    warm(cached_fund)
    with django_capture_on_commit_callbacks(execute=True):
        written = write_kinds(api_client_for)[kind]()
    assert getattr(written, "status_code", 200) in (200, 201), getattr(written, "content", "")
    fresh = get(cached_fund, BOOK)
    # The book is written through: already cached again, with the committed figures.
    assert without_cache_fields(fresh) == json.loads(json.dumps(shown_book()))
    risk, attribution = get(cached_fund, RISK), get(cached_fund, ATTRIBUTION)
    if kind == "limit":
        assert fresh["cached"] is True  # a limit feeds risk only
        assert attribution["cached"] is True
        assert "Gross" in [row["name"] for row in risk["limits"]]
    else:
        assert attribution["cached"] is False, kind
    assert risk["cached"] is False, kind


def test_a_decision_cascades_to_book_risk_and_attribution(
    cached_fund, api_client_for, django_capture_on_commit_callbacks
):
    from trading.models import TradeProposal

    warm(cached_fund)
    proposal = _pending_proposal()
    pm = api_client_for("pm")
    with django_capture_on_commit_callbacks(execute=True):
        answer = pm.post(f"/api/proposals/{proposal.pk}/approve/", {}, format="json")
    assert answer.status_code == 200
    fresh = get(cached_fund, BOOK)
    assert D(fresh["totals"]["gross_exposure"]) == D(shown_book()["totals"]["gross_exposure"])
    assert get(cached_fund, RISK)["cached"] is False
    assert get(cached_fund, ATTRIBUTION)["cached"] is False
    assert TradeProposal.objects.get().status == "approved"


def _pending_proposal() -> Any:
    from portfolio.models import Instrument, Strategy
    from trading.models import Signal, TradeProposal

    spx, macro = Instrument.objects.get(symbol="ESH4"), Strategy.objects.get(code="MACRO")
    signal_row = Signal.objects.create(instrument=spx, strategy=macro, date=TODAY, score=D("-0.5"))
    return TradeProposal.objects.create(
        date=TODAY,
        instrument=spx,
        strategy=macro,
        signal=signal_row,
        quantity=D("-1"),
        score=D("-0.5"),
        rationale={},
        what_if={},
    )


# --- After commit, once -------------------------------------------------------------------


def probe(dataset: str, value: bytes) -> bytes:
    """What the cache holds for `dataset` under a key of the test's own: `value`, stored,
    unless a value of the data set's current generation is there."""
    return cache.remember(dataset, f"probe:{dataset}", lambda: value)


def probes_set() -> None:
    default_cache.delete_many([f"probe:{dataset}" for dataset in cache.ALL_DATASETS])
    for dataset in cache.ALL_DATASETS:
        assert probe(dataset, b"before") == b"before"


def stale() -> set[str]:
    """The data sets made stale since `probes_set`. Inside a transaction that changed a
    data set, this thread computes it afresh (`cache.remember`): it shows as stale."""
    return {dataset for dataset in cache.ALL_DATASETS if probe(dataset, b"after") == b"after"}


def stale_elsewhere() -> set[str]:
    """What another request, on a thread of its own, finds stale."""
    found: list[set[str]] = []
    reader = threading.Thread(target=lambda: found.append(stale()))
    reader.start()
    reader.join()
    return found[0]


# Every write of the services, and the models whose rows it writes.
WRITES: dict[str, tuple[tuple[type[Model], ...], Callable[[], Any]]] = {
    "price upsert": (
        (Price,),
        lambda: book_services.prices_upsert(
            rows=[{"instrument": "INDJ24", "date": TODAY, "price": D("103000")}], actor="t"
        ),
    ),
    "fx upsert": (
        (FxRate,),
        lambda: book_services.fx_rates_upsert(
            rows=[{"currency": "USD", "date": TODAY, "rate": D("5.2")}], actor="t"
        ),
    ),
    "instrument": (
        (Instrument,),
        lambda: book_services.instrument_create(
            actor="t",
            symbol="WINJ24",
            name="Mini index",
            asset_class="equity",
            currency="BRL",
            quote_type="price",
            multiplier=D("0.2"),
        ),
    ),
    "strategy": (
        (Strategy,),
        lambda: book_services.strategy_create(actor="t", code="ARB", name="Arbitrage"),
    ),
    "capital flow": (
        (CapitalFlow,),
        lambda: book_services.capital_flow_create(date=TODAY, amount=D("500000"), actor="t"),
    ),
    "trade": (
        (Trade, Position),
        lambda: book_services.trade_book(
            request=book_services.TradeRequest("INDJ24", "RV", D("5"), D("102000"), TODAY),
            actor="t",
            source="api",
        ),
    ),
    "close": (
        (Trade, Position),
        lambda: book_services.position_close(
            position=Position.objects.get(instrument__symbol="DI1F27"),
            price=D("10.45"),
            actor="t",
        ),
    ),
    "mark": ((Position,), lambda: book_services.mark_to_market(as_of=TODAY, actor="t")),
    "limit change": (
        (RiskLimit,),
        lambda: risk_services.limit_create(
            actor="t", name="Gross", metric="gross_leverage", limit=D("3")
        ),
    ),
    "risk snapshot": (
        (RiskSnapshot,),
        lambda: risk_services.risk_snapshot_take(date=TODAY, actor="t"),
    ),
    "terms change": (
        (FundTerms,),
        lambda: book_services.fund_terms_change(
            effective_from=TODAY, actor="t", management_fee=D("0.02")
        ),
    ),
    "CDI": (
        (BenchmarkRate,),
        lambda: book_services.benchmark_rates_upsert(
            rows=[{"benchmark": "CDI", "date": TODAY, "rate": D("0.0005")}], actor="t"
        ),
    ),
    "snapshot rebuild": (
        (PositionSnapshot, PortfolioSnapshot),
        lambda: book_services.snapshots_build(start=TODAY, end=TODAY, actor="t"),
    ),
    "morning pack": (
        (MorningPack,),
        lambda: briefing_services.morning_pack_generate(date=TODAY.replace(day=18), actor="t"),
    ),
}


def test_every_model_of_the_table_has_a_write_here():
    written = {model for models, _ in WRITES.values() for model in models}
    assert written == set(cache.INVALIDATES)


@pytest.mark.parametrize("write", WRITES)
def test_a_write_makes_stale_what_the_table_says_once_it_commits(
    cached_fund, django_capture_on_commit_callbacks, write
):
    models, run = WRITES[write]
    probes_set()
    with django_capture_on_commit_callbacks(execute=True):
        run()
        assert stale_elsewhere() == set()  # nothing before the commit
    assert stale() == {dataset for model in models for dataset in cache.INVALIDATES[model]}


@pytest.mark.django_db(transaction=True)
def test_invalidation_waits_for_the_commit_once_and_skips_a_rollback(
    ibov, macro, django_capture_on_commit_callbacks
):
    request = book_services.TradeRequest("INDJ24", "MACRO", D("1"), D("100"), TODAY)
    probes_set()
    with transaction.atomic():
        with django_capture_on_commit_callbacks() as scheduled:
            book_services.trades_book(requests=[request], actor="t", source="api")
            book_services.mark_to_market(as_of=TODAY, actor="t")
            RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=D("3"))
        assert len(scheduled) == 1  # three writes, one invalidation
        assert stale_elsewhere() == set()  # nothing before the commit
    assert stale() == {"book", "risk", "attribution"}
    probes_set()
    with pytest.raises(RuntimeError), transaction.atomic():
        book_services.trades_book(requests=[request], actor="t", source="api")
        raise RuntimeError("rolled back")
    assert stale() == set()
    # The rolled-back transaction's invalidation is gone, not joined by the next write.
    RiskLimit.objects.create(name="Net", metric="net_leverage", limit=D("3"))
    assert stale() == {"risk"}


@pytest.mark.django_db(transaction=True)
def test_a_savepoint_rolled_back_takes_its_invalidation_with_it(ibov, macro):
    request = book_services.TradeRequest("INDJ24", "MACRO", D("1"), D("100"), TODAY)
    probes_set()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            book_services.trades_book(requests=[request], actor="t", source="api")
            raise RuntimeError("rolled back to the savepoint")
        RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=D("3"))
    assert stale() == {"risk"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_cold_requests_compute_once(ibov, macro, api_client_for, monkeypatch):
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "MACRO", D("1"), D("100"), TODAY)],
        actor="t",
        source="api",
    )
    default_cache.clear()
    computed: list[int] = []
    real_book = book_selectors.live_book

    def slow_book() -> book_selectors.LiveBook:
        computed.append(1)
        time.sleep(0.3)  # long enough for every client to arrive while it computes
        return real_book()

    registered = cache.REGISTRY["book"]
    monkeypatch.setitem(cache.REGISTRY, "book", dataclasses.replace(registered, compute=slow_book))
    clients = [api_client_for("viewer") for _ in range(6)]
    for client in clients:
        client.get("/api/positions/")  # tokens looked up before the race
    answers = at_once([lambda client=client: get(client, BOOK) for client in clients])
    assert len(computed) == 1
    assert len(answers) == 6 and sum(a["cached"] for a in answers) == 5
    assert len({json.dumps(without_cache_fields(a), sort_keys=True) for a in answers}) == 1


@pytest.mark.django_db(transaction=True)
def test_the_writer_does_not_wait_for_the_book_it_refreshes(
    ibov, macro, api_client_for, monkeypatch
):
    """A trade answers once it commits; the book is refreshed after it on the worker thread,
    holding the key's lock, so that a reader who comes meanwhile waits for that result
    rather than computing the book again."""
    monkeypatch.setattr(cache, "in_background", cache.background)
    started, release = threading.Event(), threading.Event()
    computed: list[int] = []
    real_book = book_selectors.live_book

    def blocked_book() -> book_selectors.LiveBook:
        computed.append(1)
        started.set()
        assert release.wait(10), "the test never released the refresh"
        return real_book()

    registered = cache.REGISTRY["book"]
    monkeypatch.setitem(
        cache.REGISTRY, "book", dataclasses.replace(registered, compute=blocked_book)
    )
    pm, viewer = api_client_for("pm"), api_client_for("viewer")
    viewer.get("/api/positions/")  # the token looked up before
    trade = {"instrument": "INDJ24", "strategy": "MACRO", "quantity": "2", "price": "100"}
    try:
        assert pm.post("/api/positions/", trade, format="json").status_code == 201
        assert started.wait(10), "no refresh after the commit"
        assert not cache.background.last.done()  # the trade answered while it computes
        answers: list[dict[str, Any]] = []

        def read() -> None:
            try:
                answers.append(get(viewer, BOOK))
            finally:
                connection.close()

        reader = threading.Thread(target=read)
        reader.start()
        release.set()
        reader.join()
        cache.background.wait()
    finally:
        release.set()
    assert computed == [1]  # the reader waited for the refresh
    assert answers[0]["cached"] is True
    assert [(p["instrument"], p["quantity"]) for p in answers[0]["positions"]] == [
        ("INDJ24", "2.000000")
    ]


# --- Redis down or hung --------------------------------------------------------------------

SPARE_PORT = 6391


def start_redis() -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(SPARE_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", SPARE_PORT), timeout=0.1).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the spare redis-server did not start")


@pytest.fixture
def spare_redis(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A second Redis of the test's own, which it may stop, hang and restart."""
    servers = [start_redis()]
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{SPARE_PORT}/0",
        }
    }
    monkeypatch.setattr(cache, "BREAKER_SECONDS", 0.5)
    cache.reset()
    yield servers
    for server in servers:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait()


def every_endpoint_answers_within_a_second(client: Any) -> list[dict[str, Any]]:
    bodies = []
    for url in ENDPOINTS:
        started = time.monotonic()
        bodies.append(get(client, url))
        assert time.monotonic() - started < 1.0, url
    return bodies


def hits_resume(client: Any) -> None:
    time.sleep(0.6)  # the breaker tries the cache again
    for url in ENDPOINTS:
        get(client, url)
        assert get(client, url)["cached"] is True, url


@pytest.mark.redis
@pytest.mark.skipif(not ON_REDIS, reason="needs redis-server")
def test_redis_hung_then_back(cached_fund, spare_redis, caplog):
    hits_resume(cached_fund)
    spare_redis[0].send_signal(signal.SIGSTOP)
    with caplog.at_level(logging.WARNING, logger="pms.cache"):
        for _ in range(3):
            bodies = every_endpoint_answers_within_a_second(cached_fund)
            assert all(body["cached"] is False for body in bodies)
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1  # logged once, not per request
    spare_redis[0].send_signal(signal.SIGCONT)
    hits_resume(cached_fund)


@pytest.mark.redis
@pytest.mark.skipif(not ON_REDIS, reason="needs redis-server")
def test_redis_stopped_then_restarted(cached_fund, spare_redis):
    hits_resume(cached_fund)
    spare_redis[0].kill()
    spare_redis[0].wait()
    for body in every_endpoint_answers_within_a_second(cached_fund):
        assert body["cached"] is False
    spare_redis.append(start_redis())
    hits_resume(cached_fund)


@pytest.mark.redis
@pytest.mark.skipif(not ON_REDIS, reason="needs redis-server")
def test_a_change_made_while_redis_hung_is_not_served_stale(
    cached_fund, spare_redis, api_client_for, django_capture_on_commit_callbacks
):
    hits_resume(cached_fund)
    spare_redis[0].send_signal(signal.SIGSTOP)
    ops = api_client_for("ops")
    with django_capture_on_commit_callbacks(execute=True):  # its invalidation is lost
        answer = ops.post(
            "/api/capital-flows/", {"date": "2024-03-15", "amount": "700000"}, format="json"
        )
    assert answer.status_code == 201
    spare_redis[0].send_signal(signal.SIGCONT)
    time.sleep(0.6)
    fresh = get(cached_fund, BOOK)
    assert D(fresh["nav"]) == D(shown_book()["nav"])  # the lost invalidation, replayed


def test_a_deleted_token_is_refused_at_once(cached_fund):
    from knox.models import AuthToken

    assert get(cached_fund, BOOK)["cached"] is False
    assert get(cached_fund, BOOK)["cached"] is True  # the fast path, token remembered
    AuthToken.objects.filter(user__username="user-viewer").delete()
    assert cached_fund.get(BOOK).status_code == 401


@pytest.mark.redis
@pytest.mark.skipif(not ON_REDIS, reason="needs redis-server")
def test_after_a_hang_no_process_serves_what_another_wrote_over(
    cached_fund, spare_redis, api_client_for, django_capture_on_commit_callbacks
):
    """Two processes, as two breakers: the reader saw Redis hang; the writer wrote during
    the hang and lost its invalidation, then went away. Back, the reader makes every data
    set stale before it reads: of 400 reads, none is older than the write."""
    hits_resume(cached_fund)
    reader = cache.breaker
    spare_redis[0].send_signal(signal.SIGSTOP)
    assert get(cached_fund, BOOK)["cached"] is False  # the reader sees the outage
    cache.breaker = cache.Breaker()  # the writer, another process
    ops = api_client_for("ops")
    with django_capture_on_commit_callbacks(execute=True):  # its invalidation is lost
        answer = ops.post(
            "/api/capital-flows/", {"date": "2024-03-15", "amount": "700000"}, format="json"
        )
    assert answer.status_code == 201
    cache.breaker = reader
    spare_redis[0].send_signal(signal.SIGCONT)
    time.sleep(0.6)  # the reader's breaker tries Redis again
    nav = D(shown_book()["nav"])
    bodies = [get(cached_fund, BOOK) for _ in range(400)]
    stale = [body for body in bodies if D(body["nav"]) != nav]
    assert stale == [] and sum(body["cached"] for body in bodies) >= 398


def test_a_change_in_another_process_is_seen_by_the_next_read(cached_fund):
    """The embedded default cache (a file cache) and Redis alike are shared: a process that
    invalidates (a command, the cluster) makes this one's next read a miss."""
    import sys

    get(cached_fund, RISK)
    assert get(cached_fund, RISK)["cached"] is True
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from pms_site import cache; cache.invalidate({'risk'})",
        ],
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "pms_site.settings"},
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert get(cached_fund, RISK)["cached"] is False


@pytest.mark.parametrize("window", [20, 25])
def test_the_risk_the_pipeline_warms_is_the_one_the_api_reads(cached_fund, settings, window):
    """One default per parameter: PMS_RISK_WINDOW decides both the API's default query and
    the key the eod risk step warms."""
    settings.PMS_RISK_WINDOW = window
    cache.warm("risk")
    answer = get(cached_fund, "/api/risk/live/")
    assert (answer["cached"], answer["window"]) == (True, window)
    assert cache.key("risk") == cache.key("risk", window=window, method="historical")
