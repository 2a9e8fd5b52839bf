"""The trade ticket and the stress page in a real browser (headless Chromium, Debian's
`chromium`, through Playwright): the pm books and closes from the ticket and the API's
ledger shows the trades booked by the pm; the risk officer's stress runs, stored and
ad hoc, show the figures of POST /api/risk/stress/. In CI the browser is required."""

from decimal import Decimal
from typing import Any

import pytest

from core.formatting import money
from portfolio.models import Position
from risk import services as risk_services
from tests.browser import api, log_in, needs_chromium, serve

pytestmark = needs_chromium


@pytest.fixture
def desk(book: Any, live_server: Any, settings: Any) -> str:
    """The risk book (tests/fixtures/risk_book.py), a pm and a risk officer."""
    return serve(live_server, settings, "pm", "risk")


def submitted(page: Any, form: str) -> str:
    page.click(f"#ticket-{form} input[type=submit]")
    page.wait_for_selector(".messagelist")
    return str(page.inner_text(".messagelist"))


def test_the_pm_books_and_closes_from_the_ticket(desk: str, page: Any) -> None:
    log_in(page, desk, "pm")
    page.click("#pms-nav >> text=Ticket")
    page.select_option("#id_book-instrument", "INDJ24")
    page.select_option("#id_book-strategy", "MACRO")
    page.fill("#id_book-quantity", "1")
    page.fill("#id_book-price", "101500")
    assert page.input_value("#id_book-trade_date") == "2024-03-15"  # the fund's today
    said = submitted(page, "book")
    assert "Booked: bought 1 INDJ24 at 101,500 for MACRO on 2024-03-15" in said
    assert "the position is now long 11." in said  # the book held 10

    held = Position.objects.get(instrument__symbol="INDJ24", closed_at__isnull=True)
    page.select_option("#id_close-position", str(held.pk))
    page.fill("#id_close-price", "101600")
    said = submitted(page, "close")
    assert "Closed: sold 11 INDJ24 at 101,600 for MACRO on 2024-03-15" in said

    ledger = api(page, desk, "/api/trades/?instrument=INDJ24")["results"]
    by_pm = [
        (Decimal(t["quantity"]), Decimal(t["price"]), t["source"])
        for t in ledger
        if t["booked_by"] == "pm"
    ]
    assert by_pm == [
        (Decimal("1"), Decimal("101500"), "admin"),
        (Decimal("-11"), Decimal("101600"), "admin"),
    ]
    audit = api(page, desk, "/api/audit/?actor=pm")["results"]
    assert [a["action"] for a in audit] == ["trade.book", "trade.book"]


def shown_rows(page: Any) -> set[tuple[str, str, str]]:
    cells = page.locator("#stress-positions tbody tr").all()
    return {
        (
            r.locator("td").nth(0).inner_text(),
            r.locator("td").nth(1).inner_text(),
            r.locator("td").nth(3).inner_text(),
        )
        for r in cells
    }


def api_rows(answer: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["instrument"], r["strategy"], money(r["pnl"])) for r in answer["by_position"]}


def test_the_risk_officers_stress_runs_are_the_apis(
    desk: str, page: Any, api_client_for: Any
) -> None:
    shocks = [
        {"target_type": "asset_class", "target": "equity", "shock": "-0.10"},
        {"target_type": "asset_class", "target": "rates", "shock": "100", "quote_type": "yield"},
    ]
    scenario = risk_services.scenario_create(actor="risk", name="Equity down, DI up", shocks=shocks)
    client = api_client_for("risk")
    stored = client.post("/api/risk/stress/", {"scenario": scenario.pk}, format="json").json()

    log_in(page, desk, "risk")
    page.click("#pms-nav >> text=Stress")
    page.select_option("#id_scenario", str(scenario.pk))
    page.click("#stress-form input[type=submit]")
    page.wait_for_selector("#stress-result")
    # Worked out in tests/risk/test_stress_page.py: 24,753.00.
    assert page.inner_text("#stress-total") == money(stored["pnl"]) == "24,753.00"
    assert shown_rows(page) == api_rows(stored)

    ad_hoc = [{"target_type": "currency", "target": "USD", "shock": "0.05"}]
    inline = client.post("/api/risk/stress/", {"shocks": ad_hoc}, format="json").json()
    page.select_option("#id_scenario", "")
    page.select_option("select[name=shocks-0-target_type]", "currency")
    page.fill("input[name=shocks-0-target]", "USD")
    page.fill("input[name=shocks-0-shock]", "0.05")
    page.click("#stress-form input[type=submit]")
    page.wait_for_selector("#stress-result")
    assert page.inner_text("#stress-total") == money(inline["pnl"]) == "61,873.50"
    assert shown_rows(page) == api_rows(inline)
