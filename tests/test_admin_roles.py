"""The admin's roles mirror the API's: each group's model permissions allow in the admin
exactly the writes its API rights allow, and a user without one sees no control for it
and cannot post it."""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from core.permissions import ALL_GROUPS
from pms_site.roles import GROUP_PERMISSIONS, PMS_APPS
from portfolio import services as book
from portfolio.models import Trade
from risk.models import RiskAlert, RiskLimit
from tests.conftest import TODAY
from tests.factories import PASSWORD
from trading import services as trading
from trading.models import Signal, TradeProposal

# Each permission a group may hold, and an API request that needs the same right: a group
# holding the permission gets anything but 403 there (400 or 404: the body or the row is
# wrong), a group without it gets 403.
API_MIRROR = {
    "portfolio.add_instrument": ("post", "/api/instruments/", {}),
    "portfolio.change_instrument": ("patch", "/api/instruments/NOPE/", {}),
    "portfolio.add_strategy": ("post", "/api/strategies/", {}),
    "portfolio.change_strategy": ("patch", "/api/strategies/NOPE/", {}),
    "portfolio.add_price": ("post", "/api/prices/", {}),
    "portfolio.change_price": ("post", "/api/prices/", {}),  # an upsert
    "portfolio.add_fxrate": ("post", "/api/fx-rates/", {}),
    "portfolio.change_fxrate": ("post", "/api/fx-rates/", {}),
    "portfolio.add_benchmarkrate": ("post", "/api/benchmark-rates/", {}),
    "portfolio.change_benchmarkrate": ("post", "/api/benchmark-rates/", {}),
    "portfolio.add_capitalflow": ("post", "/api/capital-flows/", {}),
    "portfolio.add_fundterms": ("patch", "/api/fund/", {}),
    "portfolio.change_fundterms": ("patch", "/api/fund/", {}),  # a date's change, again
    "portfolio.mark_position": ("post", "/api/book/mark-to-market/", {"as_of": "x"}),
    "portfolio.add_trade": ("post", "/api/positions/", {}),
    "portfolio.close_position": ("post", "/api/positions/999999/close/", {}),
    "trading.add_signal": ("post", "/api/signals/", {}),
    "trading.change_signal": ("post", "/api/signals/", {}),
    "trading.add_tradeproposal": ("post", "/api/proposals/generate/", {"date": "x"}),
    "trading.decide_tradeproposal": ("post", "/api/proposals/999999/approve/", {}),
    "risk.add_risklimit": ("post", "/api/risk/limits/", {}),
    "risk.change_risklimit": ("patch", "/api/risk/limits/999999/", {}),
    "risk.delete_risklimit": ("delete", "/api/risk/limits/999999/", None),
    "risk.add_stressscenario": ("post", "/api/risk/scenarios/", {}),
    "risk.change_stressscenario": ("patch", "/api/risk/scenarios/999999/", {}),
    "risk.delete_stressscenario": ("delete", "/api/risk/scenarios/999999/", None),
    "risk.acknowledge_riskalert": ("post", "/api/risk/alerts/999999/acknowledge/", {}),
    "ops.run_pipelinerun": ("post", "/api/pipelines/eod/run/", {"date": "x"}),
    "briefing.add_morningpack": ("post", "/api/morning-pack/generate/", {"date": "x"}),
    "briefing.send_morningpack": ("post", "/api/morning-pack/generate/", {"send": "x"}),
}


def staff(group: str) -> User:
    user = User.objects.create_user(f"staff-{group}", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_group_holds_exactly_its_permissions_and_the_views(db):
    for name in ALL_GROUPS:
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=name).permissions.select_related("content_type")
        }
        views = {p for p in held if p.split(".")[1].startswith("view_")}
        assert held - views == set(GROUP_PERMISSIONS[name]), name
        assert {p.split(".")[0] for p in views} == set(PMS_APPS), name
        assert "portfolio.view_position" in views and "trading.view_tradeproposal" in views


def test_admin_permissions_mirror_the_api_rights(api_client_for):
    assert set(API_MIRROR) == {p for perms in GROUP_PERMISSIONS.values() for p in perms}
    for group in ALL_GROUPS:
        user = staff(group)
        client = api_client_for(group)
        for permission, (method, url, body) in API_MIRROR.items():
            answer = getattr(client, method)(url, body, format="json")
            api_allows = answer.status_code != 403
            admin_allows = user.has_perm(permission)
            assert admin_allows == api_allows, (group, permission, answer.status_code)


@pytest.fixture
def pending(spx, macro) -> TradeProposal:
    """A fund with capital, one ESH4 price and a pending proposal to buy ESH4 in MACRO."""
    from portfolio.models import FxRate, Price

    book.capital_flow_create(date=TODAY, amount=D("10000000"), note="seed", actor="t")
    FxRate.objects.create(currency="USD", date=TODAY, rate=D("5.00"))
    Price.objects.create(instrument=spx, date=TODAY, price=D("5000"))
    return TradeProposal.objects.create(
        date=TODAY,
        instrument=spx,
        strategy=macro,
        signal=Signal.objects.create(instrument=spx, strategy=macro, date=TODAY, score=D("0.5")),
        quantity=D("2"),
        score=D("0.5"),
        rationale={"score": "0.5"},
        what_if={
            "var_95_before": "1000.00",
            "var_95_after": "2500.00",
            "limits_before": [],
            "limits_after": [],
        },
    )


def test_a_viewer_sees_no_write_control_and_cannot_post_one(pending):
    viewer = browser(staff("viewer"))
    alert = RiskAlert.objects.create(
        limit=RiskLimit.objects.create(name="Fund VaR 95%", metric="var_95", limit=D("1")),
        date=TODAY,
        value=D("2"),
        utilization=D("2"),
    )
    pages = {
        "/admin/": ("Acknowledge", "Approve", 'name="decision"'),
        "/admin/trading/tradeproposal/": ('name="action"', "Approve selected"),
        f"/admin/trading/tradeproposal/{pending.pk}/change/": ('name="decision"',),
        "/admin/risk/riskalert/": ('name="action"',),
        "/admin/portfolio/position/": ('name="action"', "Mark selected"),
        "/admin/portfolio/instrument/": ("addlink", 'name="action"'),
        "/admin/risk/risklimit/": ("addlink", 'name="action"'),
        "/admin/ops/pipelinerun/": ('name="action"',),
        "/admin/briefing/morningpack/": ('name="action"',),
    }
    for url, controls in pages.items():
        page = viewer.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        for control in controls:
            assert control not in html, (url, control)
    decide = f"/admin/trading/tradeproposal/{pending.pk}/decide/"
    assert viewer.post(decide, {"decision": "approve"}).status_code == 403
    assert viewer.post(f"/admin/risk/riskalert/{alert.pk}/acknowledge/").status_code == 403
    viewer.post(
        "/admin/trading/tradeproposal/",
        {"action": "approve_at_last_price", "_selected_action": [pending.pk]},
    )
    viewer.post("/admin/risk/riskalert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    assert viewer.get("/admin/portfolio/instrument/add/").status_code == 403
    pending.refresh_from_db()
    alert.refresh_from_db()
    assert (pending.status, alert.status) == ("pending", "open")
    assert not Trade.objects.exists()


def test_the_pm_decides_from_the_proposal_page_with_the_apis_rules(pending):
    pm = browser(staff("pm"))
    page = f"/admin/trading/tradeproposal/{pending.pk}/change/"
    shown = pm.get(page).content.decode()
    assert 'value="approve"' in shown and "1,000.00 → 2,500.00" in shown  # the what-if, in BRL
    decide = f"/admin/trading/tradeproposal/{pending.pk}/decide/"

    # A size sent with "approve" is refused, not dropped (which would book the proposed 2).
    sized = pm.post(decide, {"decision": "approve", "quantity": "3"}, follow=True)
    assert "Quantity: not part of approve." in sized.content.decode()

    blank = pm.post(decide, {"decision": "reject", "reason": "  ", "next": page}, follow=True)
    assert "Say why the proposal is rejected." in blank.content.decode()
    odd = pm.post(decide, {"decision": "modify", "size": "1.5"}, follow=True)
    assert "1.5 is not a multiple of ESH4&#x27;s lot size 1." in odd.content.decode()
    signed = pm.post(decide, {"decision": "modify", "size": "-3"}, follow=True)
    assert "without a sign, in the proposal&#x27;s direction (buy)" in signed.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending" and not Trade.objects.exists()

    # The size is in the proposal's direction (a buy): 3 more, not a sale.
    done = pm.post(decide, {"decision": "modify", "size": "3", "next": "/admin/"}, follow=True)
    assert done.redirect_chain[-1][0] == "/admin/"
    assert "Modified and approved: bought 3 ESH4 at 5,000" in done.content.decode()
    trade = Trade.objects.get()
    assert (trade.quantity, trade.price, trade.booked_by) == (D("3"), D("5000"), "staff-pm")

    again = pm.post(decide, {"decision": "approve"}, follow=True).content.decode()
    # 18:00 UTC in the suite's clock is 15:00 in São Paulo.
    assert "buy 2 (modified): already modified by staff-pm at 2024-03-15 15:00 BRT" in again
    assert Trade.objects.count() == 1


def test_a_foreign_next_is_not_followed(pending):
    pm = browser(staff("pm"))
    decide = f"/admin/trading/tradeproposal/{pending.pk}/decide/"
    answer = pm.post(
        decide, {"decision": "reject", "reason": "no", "next": "https://evil.example/"}
    )
    assert answer["Location"] == f"/admin/trading/tradeproposal/{pending.pk}/change/"
    assert pm.get(decide).status_code == 405
    assert trading.TradeProposal.objects.get(pk=pending.pk).status == "rejected"
