"""The admin's screens in a real browser (headless Chromium, Debian's `chromium`, through
Playwright): an alert acknowledged with a note from the dashboard, the NAV curve's date
and value on hover, and the dashboard and the positions fitting 1,280 px without a
sideways scroll. In CI the browser is required: a missing one fails."""

import re
from decimal import Decimal
from typing import Any

import pytest

from portfolio import services
from portfolio.models import AuditRecord
from risk import services as risk_services
from risk.models import RiskAlert, RiskLimit
from risk.selectors import LimitValue
from tests import browser
from tests.browser import needs_chromium, serve
from tests.conftest import TODAY
from tests.fixtures.trading_fund import DAYS

pytestmark = needs_chromium
WIDTH = 1280


@pytest.fixture
def screens(trading_fund, live_server, settings) -> str:
    """The trading fund (10,000,000.00 from Dec 15, 2023; sold 100 DI1F27 at 10.50 on Mar
    15, 2024, marked there: no P&L) with 1,000,000.00 more subscribed on DAYS[30], its
    timeline built; a DV01 limit of 2,000 in breach on the last two days (an open alert);
    a user per group."""
    url = serve(live_server, settings, "pm", "risk")
    services.capital_flow_create(
        date=DAYS[30], amount=Decimal("1000000.00"), note="second", actor="test"
    )
    services.snapshots_build(start=DAYS[0], end=TODAY, actor="test")
    dv01 = RiskLimit.objects.create(name="DV01", metric="dv01", limit=Decimal("2000"))
    for day in DAYS[-2:]:
        risk_services.alerts_update(as_of=day, values=[LimitValue(dv01, Decimal("2500"))])
    return url


def log_in(page: Any, url: str, user: str) -> None:
    """Logged in, on the dashboard, 1,280 px wide."""
    page.set_viewport_size({"width": WIDTH, "height": 900})
    browser.log_in(page, url, user, wait_for="#pms-dashboard")


def test_the_risk_officer_acknowledges_an_alert_with_a_note_from_the_dashboard(screens, page):
    log_in(page, screens, "risk")
    [alert] = RiskAlert.objects.all()
    assert page.locator("#alerts tbody tr:not(.pms-ack)").count() == 1  # one row, two days
    page.fill("#alerts .pms-ack input[name=note]", "cutting DI1F27 at the open")
    page.click("#alerts .pms-ack button")
    page.wait_for_selector(".messagelist")
    assert f"Acknowledged alert {alert.pk}." in page.inner_text(".messagelist")
    assert "by risk: cutting DI1F27 at the open" in page.inner_text("#alerts")
    assert page.locator("#alerts .pms-ack").count() == 0  # nothing left to acknowledge
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.note) == (
        "acknowledged",
        "risk",
        "cutting DI1F27 at the open",
    )
    record = AuditRecord.objects.get(action="riskalert.acknowledge")
    assert (record.actor, record.note) == ("risk", "cutting DI1F27 at the open")


def test_hovering_the_nav_curve_shows_a_date_and_a_value(screens, page):
    """Before DAYS[30] the NAV is the 10,000,000.00 subscribed; from it, 11,000,000.00."""
    log_in(page, screens, "pm")
    for day, nav in ((DAYS[10], "10,000,000.00"), (DAYS[45], "11,000,000.00")):
        page.hover(f'#pms-dashboard svg .hit[data-date="{day}"]')
        tip = page.locator("#pms-tip")
        tip.wait_for(state="visible")
        assert tip.inner_text() == f"{day} · {nav}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} · [\d,]+\.\d{2}", tip.inner_text())
    page.mouse.move(5, 5)  # off the chart: the tooltip goes
    assert tip.is_hidden()


def fits(page: Any) -> None:
    """No sideways scroll: neither the page nor a list's own scrolling box is wider than
    the window, and the menu holds one line."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    results = page.locator("#changelist .results")
    if results.count():
        assert results.evaluate("box => box.scrollWidth <= box.clientWidth")
    tops = page.locator("#pms-nav a").evaluate_all("links => links.map(a => a.offsetTop)")
    assert len(tops) >= 8 and len(set(tops)) == 1


def test_the_dashboard_and_the_positions_fit_1280_px(screens, page):
    log_in(page, screens, "pm")
    fits(page)
    page.goto(f"{screens}/admin/portfolio/position/")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list th.column-dv01").count() == 1
    fits(page)
