"""Hostile input, replayed: each case a fuzzer or an attacker found answers 400 or 404 with
a clear message (never a 5xx), writes nothing, and leaves every later read working. On
the risk tests' book (tests/fixtures/risk_book.py: positions bought on TODAY, 21 days of
quotes)."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from core import inputs
from ops.models import PipelineRun
from portfolio import services as book_services
from portfolio.models import CapitalFlow, FxRate, Instrument, Position, Price, Trade
from tests.conftest import TODAY
from tests.factories import PASSWORD
from tests.fixtures.risk_book import DAYS
from trading.models import Signal


def position_of(symbol: str, strategy: str = "MACRO") -> Position:
    return Position.objects.get(
        instrument__symbol=symbol, strategy__code=strategy, closed_at__isnull=True
    )


def state() -> list[Any]:
    """Everything a bad request must leave as it was."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Position, Trade, Price, FxRate, CapitalFlow, Signal, Instrument)
    ]


@pytest.fixture
def fund(book: Any) -> Any:
    return book


@pytest.fixture
def pm(api_client_for: Any) -> Any:
    return api_client_for("pm")


@pytest.fixture
def ops(api_client_for: Any) -> Any:
    return api_client_for("ops")


def test_an_absurd_close_price_is_refused_and_the_book_still_reads(fund, pm, api_client_for):
    position = position_of("ESH4")
    before = state()
    answer = pm.post(
        f"/api/positions/{position.pk}/close/", {"price": "7234989483835610"}, format="json"
    )
    assert answer.status_code == 400 and "price" in answer.json()
    # Within the column but far from the last close (4,940): it needs confirm.
    answer = pm.post(f"/api/positions/{position.pk}/close/", {"price": "9000"}, format="json")
    assert answer.status_code == 400
    assert "82% from the last close 4,940" in answer.json()["price"][0]
    assert "confirm" in answer.json()["price"][0]
    assert state() == before
    confirmed = pm.post(
        f"/api/positions/{position.pk}/close/",
        {"price": "9000", "confirm": True},
        format="json",
    )
    assert confirmed.status_code == 200, confirmed.content
    for url in ("/api/risk/live/?window=20", "/api/book/"):
        assert api_client_for("viewer").get(url).status_code == 200, url


def test_a_misspelt_field_closes_nothing(fund, pm, ops, tmp_path):
    position = position_of("INDJ24")
    before = state()
    answer = pm.post(
        f"/api/positions/{position.pk}/close/", {"price": "101500", "qty": "1"}, format="json"
    )
    assert answer.status_code == 400 and "qty" in answer.json()
    assert "Unknown field" in answer.json()["qty"][0]
    booking = {
        "instrument": "INDJ24",
        "strategy": "MACRO",
        "quantity": "1",
        "price": "101500",
        "fess": "10",
    }
    answer = pm.post("/api/positions/", booking, format="json")
    assert answer.status_code == 400 and "fess" in answer.json()
    assert state() == before
    csv = tmp_path / "trades.csv"
    csv.write_text(
        "trade_date,instrument,strategy,quantity,price,fess\n2024-03-15,INDJ24,MACRO,1,101500,10\n"
    )
    with pytest.raises(CommandError, match=r"unknown column\(s\) fess"):
        call_command("import_trades", str(csv), stdout=StringIO())
    assert state() == before


@pytest.mark.parametrize("url", ["/api/prices/", "/api/fx-rates/", "/api/signals/"])
def test_a_null_row_is_a_400(fund, ops, url):
    answer = ops.post(url, [None], format="json")
    assert answer.status_code == 400 and "0" in answer.json(), answer.content


def test_json_nested_past_the_parser_is_a_400_in_json(db):
    body = "[" * 1000 + "]" * 1000
    answer = Client().post("/api/auth/token/", body, content_type="application/json")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert "nested too deeply" in answer.json()["detail"]
    assert b"REDIS" not in answer.content


def test_numbers_past_their_bounds_and_notes_past_theirs(fund, pm, ops):
    before = state()
    for field, value in (("quantity", "1e30"), ("price", "1e30"), ("quantity", "1" * 20)):
        booking = {"instrument": "INDJ24", "strategy": "MACRO", "quantity": "1", "price": "1"}
        answer = pm.post("/api/positions/", {**booking, field: value}, format="json")
        assert answer.status_code == 400 and field in answer.json(), (field, value)
    # The largest quantity with a price that takes the notional past its bound.
    booking = {
        "instrument": "INDJ24",
        "strategy": "MACRO",
        "quantity": "999999999999",
        "price": "101500",
        "confirm": True,
    }
    answer = pm.post("/api/positions/", booking, format="json")
    assert answer.status_code == 400 and "past the largest accepted" in str(answer.json())
    flow = ops.post("/api/capital-flows/", {"date": "2024-03-15", "amount": "1e20"}, format="json")
    assert flow.status_code == 400 and "amount" in flow.json()
    assert state() == before


def test_a_note_past_its_bound(fund, pm):
    from trading.models import TradeProposal

    instrument, strategy = Instrument.objects.get(symbol="ESH4"), position_of("ESH4").strategy
    signal = Signal.objects.create(instrument=instrument, strategy=strategy, date=TODAY, score=1)
    proposal = TradeProposal.objects.create(
        date=TODAY,
        instrument=instrument,
        strategy=strategy,
        signal=signal,
        quantity=Decimal(1),
        score=Decimal(1),
        rationale={},
        what_if={},
    )
    long_note = "x" * (inputs.NOTE_MAX + 1)
    answer = pm.post(f"/api/proposals/{proposal.pk}/approve/", {"note": long_note}, format="json")
    assert answer.status_code == 400 and "note" in answer.json()
    answer = pm.post(f"/api/proposals/{proposal.pk}/reject/", {"reason": long_note}, format="json")
    assert answer.status_code == 400 and "reason" in answer.json()
    proposal.refresh_from_db()
    assert proposal.status == "pending"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1989-12-29"])
def test_dates_outside_the_funds_range(fund, pm, ops, day):
    before = state()
    answers = {
        "price": ops.post(
            "/api/prices/", [{"instrument": "INDJ24", "date": day, "price": "1"}], format="json"
        ),
        "fx": ops.post(
            "/api/fx-rates/", [{"currency": "USD", "date": day, "rate": "5"}], format="json"
        ),
        "flow": ops.post("/api/capital-flows/", {"date": day, "amount": "1"}, format="json"),
        "signal": ops.post(
            "/api/signals/",
            [{"instrument": "INDJ24", "strategy": "MACRO", "date": day, "score": "0.1"}],
            format="json",
        ),
        "mark": ops.post("/api/book/mark-to-market/", {"date": day}, format="json"),
        "generate": pm.post("/api/proposals/generate/", {"date": day}, format="json"),
        "pack": pm.post("/api/morning-pack/generate/", {"date": day}, format="json"),
        "eod": ops.post("/api/pipelines/eod/run/", {"date": day}, format="json"),
    }
    for name, answer in answers.items():
        assert answer.status_code == 400, (name, answer.status_code, answer.content)
        assert "date" in json.dumps(answer.json()), name
    assert state() == before and not PipelineRun.objects.exists()


@pytest.mark.parametrize(
    "path",
    ["/api/instruments/A%00B/", "/api/instruments/clf7/", "/api/strategies/%00/", "/api/x/"],
)
def test_paths_that_name_nothing_are_a_json_404(fund, ops, path):
    answer = ops.get(path)
    assert answer.status_code == 404 and answer["Content-Type"] == "application/json", path
    assert "detail" in answer.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "clf7"}, "symbol"),
        ({"symbol": "ＣＬＦ７"}, "symbol"),
        ({"symbol": "A\u202eB"}, "symbol"),
        ({"symbol": "A/B"}, "symbol"),
        ({"currency": "ÄÖÜ"}, "currency"),
        ({"multiplier": "١٢٣"}, "multiplier"),
        ({"multiplier": "1e12"}, "multiplier"),
    ],
)
def test_symbols_currencies_and_digits_are_ascii_and_patterned(fund, ops, body, field):
    instrument = {
        "symbol": "NEW1",
        "name": "New",
        "asset_class": "equity",
        "currency": "USD",
        "quote_type": "price",
        "multiplier": "1",
        **body,
    }
    answer = ops.post("/api/instruments/", instrument, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not Instrument.objects.filter(name="New").exists()


def test_the_admin_form_applies_the_same_rules(fund):
    from django.contrib.auth.models import User

    admin = Client()
    admin.force_login(User.objects.create_superuser("boss", "boss@example.com", PASSWORD))
    page = admin.post(
        "/admin/portfolio/instrument/add/",
        {
            "symbol": "clf7",
            "name": "Lower case",
            "asset_class": "commodity",
            "currency": "ÄÖÜ",
            "quote_type": "price",
            "multiplier": "1",
            "dv01": "0",
            "lot_size": "1",
            "is_active": "on",
        },
    )
    assert page.status_code == 200  # the form again, with its errors
    assert "capitals A–Z" in page.content.decode() and "ISO code" in page.content.decode()
    assert not Instrument.objects.filter(name="Lower case").exists()


def test_files_that_are_not_utf8_csv(fund, tmp_path):
    binary, utf16, doubled = (tmp_path / n for n in ("bin.csv", "utf16.csv", "twice.csv"))
    binary.write_bytes(bytes(range(256)) * 4)
    utf16.write_text("instrument,date,price\nINDJ24,2024-03-15,101000\n", encoding="utf-16")
    doubled.write_text("instrument,date,price,price\nINDJ24,2024-03-15,101000,1\n")
    for path, message in (
        (binary, "not UTF-8 text"),
        (utf16, "not UTF-8 text"),
        (doubled, "named twice in the header: price"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("import_prices", str(path), stdout=StringIO())


def test_an_outlier_close_in_a_file_needs_the_flag(fund, tmp_path):
    csv = tmp_path / "closes.csv"
    csv.write_text("instrument,date,price\nINDJ24,2024-03-15,202000\n")
    # The close before Mar 15 is Mar 14's, 98,000.
    with pytest.raises(
        CommandError, match="line 2: price: 202,000 is 106% from the last close 98,000"
    ):
        call_command("import_prices", str(csv), stdout=StringIO())
    call_command("import_prices", str(csv), "--confirm-outliers", stdout=StringIO())
    assert Price.objects.get(instrument__symbol="INDJ24", date=TODAY).price == Decimal("202000")


def test_alerts_page_with_limit_and_offset(fund, api_client_for):
    answer = api_client_for("viewer").get("/api/risk/alerts/", {"limit": 10, "offset": 0})
    assert answer.status_code == 200 and answer.json()["count"] == 0


def test_the_largest_accepted_values_break_no_later_read(fund, pm, ops, api_client_for):
    """Trades at the size bound (notional just under 1e13 BRL each), a month of the
    largest flows: risk, the book, the snapshots, attribution and proposals still read."""
    flow = {"date": str(DAYS[0]), "amount": str(inputs.FLOW_MAX)}
    assert ops.post("/api/capital-flows/", flow, format="json").status_code == 201
    for symbol in ("INDJ24", "ESH4", "USDBRL"):
        last = Price.objects.filter(instrument__symbol=symbol).latest("date").price
        rate = Decimal("5.01") if symbol == "ESH4" else Decimal(1)
        multiplier = Instrument.objects.get(symbol=symbol).multiplier
        quantity = min(int(Decimal("9.9e12") / (last * multiplier * rate)), 10**12)
        answer = pm.post(
            "/api/positions/",
            {"instrument": symbol, "strategy": "RV", "quantity": str(quantity), "price": str(last)},
            format="json",
        )
        assert answer.status_code == 201, answer.content
    book_services.snapshots_build(start=DAYS[0], end=TODAY, actor="test")
    viewer = api_client_for("viewer")
    for url in (
        "/api/book/",
        "/api/risk/live/?window=20",
        "/api/attribution/?period=itd&by=instrument",
        "/api/nav/",
    ):
        assert viewer.get(url).status_code == 200, url
    Signal.objects.create(
        instrument=Instrument.objects.get(symbol="INDJ24"),
        strategy=position_of("INDJ24").strategy,
        date=TODAY,
        score=Decimal("1"),
    )
    assert pm.post("/api/proposals/generate/", {}, format="json").status_code == 200


def test_a_run_left_running_by_a_dead_worker_is_taken_over(fund, settings):
    from ops import pipelines

    settings.PMS_RISK_WINDOW = 20
    run = pipelines.run_request(pipeline="eod", date=TODAY, trigger="schedule", actor="t")
    # The worker that took it (pid 2**22, none on Linux) died, and with it the run.
    PipelineRun.objects.filter(pk=run.pk).update(status="running", worker="elsewhere:1")
    with pytest.raises(Exception, match="already running"):
        pipelines.run_request(pipeline="eod", date=TODAY, trigger="schedule", actor="t")
    import socket

    PipelineRun.objects.filter(pk=run.pk).update(worker=f"{socket.gethostname()}:{2**22}")
    again = pipelines.pipeline_run(pipeline="eod", date=TODAY, actor="scheduler")
    assert again.status == "succeeded", again.error
    assert "took over a running run (its worker" in again.note
    # Elsewhere, it is abandoned once past the cluster's task timeout.
    PipelineRun.objects.filter(pk=run.pk).update(
        status="running",
        worker="elsewhere:1",
        started_at=dt.datetime(2024, 3, 15, 17, 0, tzinfo=dt.UTC),
    )
    assert pipelines.scheduled("eod") == "eod 2024-03-15: succeeded"
    assert "past the cluster's 1800 s task timeout" in PipelineRun.objects.get().note


def test_a_revoked_token_is_refused_for_writes_at_once_and_reads_within_seconds(
    fund, api_client_for
):
    import time_machine
    from django.db import connection

    viewer, ops = api_client_for("viewer"), api_client_for("ops")
    assert viewer.get("/api/book/").status_code == 200  # both tokens known in this process
    assert ops.get("/api/book/").status_code == 200
    with connection.cursor() as cursor:  # as another process would: no signal here
        cursor.execute("DELETE FROM knox_authtoken")
    flow = ops.post("/api/capital-flows/", {"date": "2024-03-15", "amount": "1"}, format="json")
    assert flow.status_code == 401
    assert viewer.get("/api/book/").status_code == 200  # trusted a few seconds more …
    # Six seconds after now, not after the suite's 18:00: its clock ticks, and the tokens
    # were trusted at the moment of their first read, later than 18:00 on a busy machine.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=6)):
        assert viewer.get("/api/book/").status_code == 401  # … then refused


def test_the_login_is_throttled(db):
    from django.contrib.auth.models import User

    User.objects.create_user("pm", password=PASSWORD)
    client = Client()
    codes = [
        client.post(
            "/api/auth/token/", {"username": "pm", "password": "wrong"}, "application/json"
        ).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [400] * 10 and codes[10:] == [429, 429]
    refused = client.post(
        "/api/auth/token/", {"username": "pm", "password": "right"}, "application/json"
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_the_login_throttle_per_address_ignores_a_forged_forwarded_for(db):
    client = Client()
    codes = [
        client.post(
            "/api/auth/token/",
            {"username": f"guess{n}", "password": "x"},
            "application/json",
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
        ).status_code
        for n in range(31)
    ]
    assert codes[:30] == [400] * 30 and codes[30] == 429


XSS = "<script>alert('pms')</script>"


def test_markup_in_names_and_notes_is_shown_as_text(fund, ops):
    """Text a client chose (a strategy's name, a flow's note) is escaped on every screen
    that shows it: never markup the browser would run."""
    from django.contrib.auth.models import User

    assert (
        ops.post("/api/strategies/", {"code": "XSS", "name": XSS}, format="json").status_code == 201
    )
    flow = {"date": "2024-03-15", "amount": "1000", "note": XSS}
    assert ops.post("/api/capital-flows/", flow, format="json").status_code == 201
    boss = Client()
    boss.force_login(User.objects.create_superuser("boss-xss", "b@example.com", PASSWORD))
    for page in ("/admin/", "/admin/portfolio/strategy/", "/admin/portfolio/capitalflow/"):
        answer = boss.get(page)
        assert answer.status_code == 200, page
        assert XSS.encode() not in answer.content, page
    assert (
        b"&lt;script&gt;alert(&#x27;pms&#x27;)&lt;/script&gt;"
        in boss.get("/admin/portfolio/strategy/").content
    )


def test_a_session_write_without_its_csrf_token_is_refused(fund):
    """A logged-in browser's session cannot be used by another site's form: the admin and
    the API refuse a POST without the CSRF token (403), and nothing is written."""
    from django.contrib.auth.models import User

    before = state()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(User.objects.create_superuser("boss-csrf", "c@example.com", PASSWORD))
    flow = {"date": "2024-03-15", "amount": "1000", "note": "forged"}
    assert browser.post("/api/capital-flows/", flow, "application/json").status_code == 403
    assert browser.post("/admin/portfolio/capitalflow/add/", flow).status_code == 403
    assert state() == before


def test_malformed_credentials_and_oversized_requests_are_a_json_4xx(
    fund, api_client_for, settings
):
    """Bytes that are not UTF-8 in the Authorization header, a username with a lone
    surrogate, a body past DATA_UPLOAD_MAX_MEMORY_SIZE, a host not allowed: 401 or 400
    in JSON, never a 500."""
    client = Client()
    odd = client.get(
        "/api/book/",
        HTTP_AUTHORIZATION="Token \udcff\udcfe".encode("utf-8", "surrogateescape").decode(
            "latin-1"
        ),
    )
    assert odd.status_code == 401 and odd["Content-Type"] == "application/json"
    surrogate = '{"username": "x\\ud800", "password": "x"}'
    login = client.post("/api/auth/token/", surrogate, "application/json")
    assert login.status_code == 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = api_client_for("ops").post(
        "/api/prices/",
        [{"instrument": "ESH4", "date": "2024-03-15", "price": "1"}] * 100,
        format="json",
    )
    assert big.status_code == 400 and "detail" in big.json()
    host = client.get("/api/book/", HTTP_HOST="evil.example")
    assert host.status_code == 400 and host.json()["detail"].startswith("Bad request")
