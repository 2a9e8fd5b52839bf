"""The cached reads (pms_site/cached_api.py) in a browser: DRF's browsable page, as on every
other endpoint, with the answer and its cache fields; JSON clients still get the stored
bytes as they are, nothing parsed or rendered.

The fund is the risk tests' book (tests/fixtures/risk_book.py) with its snapshots and a
morning pack, as in tests/test_cache.py.
"""

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache as default_cache
from django.test import Client

from briefing import services as briefing_services
from pms_site import cache
from portfolio import services as book_services
from tests.conftest import TODAY
from tests.fixtures.risk_book import DAYS

PACK_DAY = dt.date(2024, 3, 18)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# url, data set, its parameters as the view passes them, a figure of the answer.
ENDPOINTS: list[tuple[str, str, dict[str, Any], Callable[[dict[str, Any]], str]]] = [
    ("/api/book/", "book", {}, lambda body: body["nav"]),
    ("/api/risk/live/?window=20", "risk", {"window": 20}, lambda body: body["var"]["0.95"]),
    (
        "/api/attribution/?period=itd&by=instrument",
        "attribution",
        {"period": "itd", "by": "instrument"},
        # The book's trades are today's, at today's close: its P&L is 0, its start is not.
        lambda body: body["start"],
    ),
    (
        "/api/morning-pack/latest/",
        "morning_pack",
        {},
        lambda body: body["sections"]["portfolio"]["exposures"]["gross"],
    ),
    (
        f"/api/morning-pack/{PACK_DAY}/",
        "morning_pack",
        {"date": PACK_DAY},
        lambda body: body["sections"]["headline"]["nav"],
    ),
]
IDS = [url for url, *_ in ENDPOINTS]
TAIL = re.compile(rb',"cached":true,"cache_age_seconds":\d+(\.\d+)?}')


@pytest.fixture
def session(book: Any) -> Client:
    """A viewer logged in with a session, on the fund with its snapshots and a pack."""
    book_services.snapshots_build(start=DAYS[0], end=TODAY, actor="test")
    briefing_services.morning_pack_generate(date=PACK_DAY, actor="test")
    user = User.objects.create_user("browsing-viewer")
    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client()
    client.force_login(user)
    default_cache.clear()
    return client


def stored(name: str, params: dict[str, Any]) -> bytes:
    """The JSON bytes the cache holds for data set `name`, without the cache fields."""
    payload = default_cache.get(cache.key(name, **params))
    assert payload is not None, name
    return payload.content  # type: ignore[no-any-return]


def html(answer: Any) -> str:
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"].startswith("text/html")
    return answer.content.decode()


def quoted(value: Any) -> str:
    """`value` as the browsable page shows it inside the JSON it renders."""
    return json.dumps(value).replace('"', "&quot;")


@pytest.mark.parametrize(("url", "name", "params", "figure"), ENDPOINTS, ids=IDS)
def test_a_browser_is_shown_the_page_and_json_clients_the_stored_bytes(
    session: Client, url: str, name: str, params: dict[str, Any], figure: Callable[..., str]
) -> None:
    page = html(session.get(url, HTTP_ACCEPT="text/html"))  # a miss: computed and stored
    assert "&quot;cached&quot;: false" in page
    assert "&quot;cache_age_seconds&quot;: null" in page

    answer = session.get(url, HTTP_ACCEPT="application/json")  # a hit
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert isinstance(answer, cache.PreparedResponse)  # the bytes, not a rendered Response
    head = stored(name, params)
    assert answer.content.startswith(head)
    assert TAIL.fullmatch(answer.content[len(head) :])
    body = json.loads(answer.content)
    assert body["cached"] is True
    assert quoted(figure(body)) in page  # the page showed the same figure

    again = html(session.get(url, HTTP_ACCEPT=BROWSER))  # a browser's own Accept: a hit
    assert "&quot;cached&quot;: true" in again
    assert quoted(figure(body)) in again


@pytest.mark.parametrize(("url", "name", "params", "figure"), ENDPOINTS, ids=IDS)
def test_every_json_client_gets_the_stored_bytes(
    session: Client, url: str, name: str, params: dict[str, Any], figure: Callable[..., str]
) -> None:
    session.get(url)  # stored
    head = stored(name, params)
    sep = "&" if "?" in url else "?"
    for accept in ("application/json", "*/*", None):
        for query in ("", f"{sep}format=json"):
            extra: dict[str, Any] = {} if accept is None else {"HTTP_ACCEPT": accept}
            answer = session.get(url + query, **extra)
            assert isinstance(answer, cache.PreparedResponse), (accept, query)
            assert answer["Content-Type"] == "application/json"
            assert answer.content.startswith(head)
            assert TAIL.fullmatch(answer.content[len(head) :])
    # A browser asking for ?format=json gets it too (its Accept ends in */*).
    answer = session.get(f"{url}{sep}format=json", HTTP_ACCEPT=BROWSER)
    assert isinstance(answer, cache.PreparedResponse)
    assert answer.content.startswith(head)


def test_format_api_is_the_page_as_on_other_views(session: Client) -> None:
    figure = quoted(json.loads(session.get("/api/book/").content)["nav"])
    assert figure in html(session.get("/api/book/?format=api"))
    assert figure in html(session.get("/api/book/?format=api", HTTP_ACCEPT=BROWSER))
    # As on every DRF view: an Accept header the format cannot satisfy is a 406.
    refused = session.get("/api/book/?format=api", HTTP_ACCEPT="application/json")
    assert refused.status_code == 406
    assert (
        refused.status_code
        == session.get("/api/positions/?format=api", HTTP_ACCEPT="application/json").status_code
    )


@pytest.mark.parametrize(
    ("url", "field", "message"),
    [
        ("/api/risk/live/?window=abc", "window", "A valid integer is required."),
        ("/api/risk/live/?method=bogus", "method", "Unknown method"),
        ("/api/attribution/?period=nope", "period", "is not a valid choice."),
    ],
)
def test_an_invalid_query_is_a_json_error_or_the_error_page(
    session: Client, url: str, field: str, message: str
) -> None:
    for accept in ("application/json", None):
        extra: dict[str, Any] = {} if accept is None else {"HTTP_ACCEPT": accept}
        answer = session.get(url, **extra)
        assert answer.status_code == 400
        assert answer["Content-Type"] == "application/json"
        assert message in answer.json()[field][0]
    page = session.get(url, HTTP_ACCEPT="text/html")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    assert "HTTP 400 Bad Request" in page.content.decode()
    assert message in page.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
