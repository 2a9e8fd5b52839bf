"""The PM's workspace in a real browser (headless Chromium, Debian's `chromium`, through
Playwright): the dashboard's figures are the API's, a proposal approved from the dashboard
changes the book, a rejection without a reason is refused with the rule's message, and a
viewer finds no write control. In CI the browser is required: a missing one fails."""

from decimal import Decimal
from typing import Any

import pytest

from core.formatting import money
from tests import browser
from tests.browser import api, needs_chromium, serve
from tests.conftest import TODAY
from tests.fixtures.trading_fund import signal
from trading import services
from trading.models import TradeProposal

pytestmark = needs_chromium


@pytest.fixture
def workspace(trading_fund, live_server, settings) -> str:
    """The trading fund with two pending proposals (buy ESH4, sell DI1F27), a pm and a
    viewer."""
    url = serve(live_server, settings, "pm", "viewer")
    signal("ESH4", "MACRO", "0.5")
    signal("DI1F27", "MACRO", "-0.8")
    services.proposal_generate(date=TODAY, actor="pm")
    return url


def log_in(page: Any, url: str, user: str) -> None:
    browser.log_in(page, url, user, wait_for="#pms-dashboard")


def proposal_of(symbol: str) -> TradeProposal:
    return TradeProposal.objects.select_related("instrument").get(instrument__symbol=symbol)


def test_the_pm_reads_the_apis_figures_and_decides_from_the_dashboard(workspace, page):
    log_in(page, workspace, "pm")
    book = api(page, workspace, "/api/book/")
    risk = api(page, workspace, "/api/risk/live/")
    assert page.inner_text("#kpi-nav") == money(Decimal(book["nav"])) == "10,000,000.00"
    assert page.inner_text("#var-95") == money(Decimal(risk["var"]["0.95"]))
    assert page.locator("#pending-proposals .pms-decision").count() == 2

    esh4 = proposal_of("ESH4")
    panel = page.locator(f"#proposal-{esh4.pk}")
    panel.locator(".pms-approve button").click()
    page.wait_for_selector(".messagelist")
    assert "Approved: bought 40 ESH4 at 5,000 for MACRO" in page.inner_text(".messagelist")
    assert page.locator(f"#proposal-{esh4.pk}").count() == 0  # no longer pending
    after = api(page, workspace, "/api/book/")
    held = {(p["instrument"], p["strategy"]): p["quantity"] for p in after["positions"]}
    assert Decimal(held[("ESH4", "MACRO")]) == Decimal("40")
    assert proposal_of("ESH4").status == "approved"

    # Enter in the (empty) reason field submits the rejection, not another decision.
    di1 = proposal_of("DI1F27")
    page.locator(f"#proposal-{di1.pk} .pms-rejecting input[name=reason]").press("Enter")
    page.wait_for_selector(".messagelist")
    assert "Say why the proposal is rejected." in page.inner_text(".messagelist")
    assert proposal_of("DI1F27").status == "pending"
    page.locator(f"#proposal-{di1.pk} .pms-rejecting input[name=reason]").fill("too large")
    page.locator(f"#proposal-{di1.pk} .pms-rejecting button").click()
    page.wait_for_selector(".messagelist")
    assert f"Rejected {di1.date} DI1F27 / MACRO" in page.inner_text(".messagelist")
    rejected = proposal_of("DI1F27")
    assert (rejected.status, rejected.decision_note, rejected.decided_by) == (
        "rejected",
        "too large",
        "pm",
    )


def test_a_viewer_finds_no_write_button(workspace, page):
    log_in(page, workspace, "viewer")
    assert page.locator("#pending-proposals .pms-decision").count() == 2
    esh4 = proposal_of("ESH4")
    for path in (
        "/admin/",
        f"/admin/trading/tradeproposal/{esh4.pk}/change/",
        "/admin/trading/tradeproposal/",
        "/admin/portfolio/position/",
        "/admin/risk/riskalert/",
    ):
        page.goto(f"{workspace}{path}")
        assert page.locator("button[name=decision]").count() == 0, path
        assert page.locator("select[name=action]").count() == 0, path
        assert page.locator("a.addlink").count() == 0, path
