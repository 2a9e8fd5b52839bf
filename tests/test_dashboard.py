"""The fund dashboard (the admin's front page): its figures worked out by hand, the same as
the API's, and its queries the same however large the book.

The fund: 10,000,000.00 subscribed on Mar 13, 2024; INDJ24 (BRL, ×1) closes 100,000 on
Mar 13, 101,000 on Mar 14 and 102,000 on Mar 15; strategy MACRO buys 10 INDJ24 at 100,000
on Mar 13. Day P&L (Mar 15) 10 × 1,000 = 10,000; NAV 10,000,000 + 20,000 = 10,020,000.
A redemption of 500,000.00 on Mar 14 takes NAV to 9,520,000.00.
"""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ops.models import PipelineRun
from portfolio import services
from portfolio.models import Instrument, Price, Strategy
from risk import services as risk_services
from risk.models import RiskAlert, RiskLimit
from risk.selectors import LimitValue
from tests.conftest import TODAY
from tests.factories import PASSWORD
from trading.models import Signal, TradeProposal

D1, D2 = dt.date(2024, 3, 13), dt.date(2024, 3, 14)


@pytest.fixture
def fund(ibov: Instrument, macro: Strategy) -> None:
    services.capital_flow_create(date=D1, amount=D("10000000"), note="seed", actor="t")
    services.capital_flow_create(date=D2, amount=D("-500000"), note="out", actor="t")
    for day, close in ((D1, "100000"), (D2, "101000"), (TODAY, "102000")):
        Price.objects.create(instrument=ibov, date=day, price=D(close))
    services.trades_book(
        requests=[services.TradeRequest("INDJ24", "MACRO", D("10"), D("100000"), D1)],
        actor="t",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="t")
    services.snapshots_build(start=D1, end=TODAY, actor="t")


def pm() -> Client:
    user = User.objects.create_user("pm-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="pm"))
    client = Client()
    client.force_login(user)
    return client


def test_the_dashboard_shows_the_funds_figures(fund, api_client_for):
    page = pm().get("/admin/").content.decode()
    book = api_client_for("viewer").get("/api/book/").json()
    assert book["nav"] == "9520000.00"
    assert '<div class="value" id="kpi-nav">9,520,000.00</div>' in page
    # Day return: 10,000 on the NAV of Mar 14 (9,510,000): 0.105152…% → 0.11% (no terms,
    # no CDI: no carry, no fee)
    assert 'id="kpi-return-day">0.11%</div>' in page
    assert "P&amp;L 10,000.00" in page
    assert '<td>MACRO</td><td class="num">10,000.00</td>' in page  # by strategy: day
    assert "redemption 500,000" in page  # the flow marked on the NAV curve
    assert "subscription 10,000,000" in page


def test_the_dashboard_makes_the_same_queries_for_a_larger_book(fund, spx, usd):
    """More positions, strategies, alerts, pending proposals and pipeline runs: the same
    queries (one per panel, whatever it holds)."""
    client = pm()
    client.get("/admin/")  # warms the cached data sets

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/").status_code == 200
        return len(captured)

    few = queries()
    usd({D1: "5.00", D2: "5.00", TODAY: "5.00"})
    for day in (D1, D2, TODAY):
        Price.objects.create(instrument=spx, date=day, price=D("5000"))
    for k, code in enumerate(("RV", "EM", "G10")):
        Strategy.objects.create(code=code, name=code)
        services.trades_book(
            requests=[services.TradeRequest("ESH4", code, D("1"), D("5000"), D1)],
            actor="t",
            source="api",
        )
        strategy = Strategy.objects.get(code=code)
        limit = RiskLimit.objects.create(name=f"{code} VaR", metric="var_95", limit=D("1"))
        RiskAlert.objects.create(limit=limit, date=TODAY, value=D("2"), utilization=D("2"))
        TradeProposal.objects.create(
            date=TODAY,
            instrument=spx,
            strategy=strategy,
            signal=Signal.objects.create(instrument=spx, strategy=strategy, date=TODAY, score=1),
            quantity=D("1"),
            score=D("1"),
            rationale={},
            what_if={"var_95_before": "1", "var_95_after": "2", "limits_before": []},
        )
        day = D1 - dt.timedelta(days=7 * (k + 1))
        PipelineRun.objects.create(pipeline="eod", business_date=day, status="succeeded")
    services.mark_to_market(as_of=TODAY, actor="t")
    services.snapshots_build(start=D1, end=TODAY, actor="t")
    client.get("/admin/")
    page = client.get("/admin/").content.decode()
    assert page.count('class="pms-decision"') == 3 and "G10 VaR" in page
    assert queries() == few


def test_a_staff_user_outside_the_pms_groups_sees_no_figures(fund):
    outsider = User.objects.create_user("outsider", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(outsider)
    page = client.get("/admin/").content.decode()
    assert "ask an administrator to add you to one" in page
    assert "9,520,000" not in page and 'id="kpi-nav"' not in page


def test_the_positions_list_reads_as_a_pm_reads_it(fund, di1):
    """Open positions by default, a yield in percent, amounts with separators, a totals row.
    DI1F27 −100 at 10.50% (unchanged): notional −100 × 100,000 = −10,000,000, DV01 −100 × 25
    = −2,500 per bp; INDJ24 10 at 102,000: 1,020,000, unrealized 20,000.00."""
    for day in (D1, D2, TODAY):
        Price.objects.create(instrument=di1, date=day, price=D("10.50"))
    services.trades_book(
        requests=[services.TradeRequest("DI1F27", "MACRO", D("-100"), D("10.50"), TODAY)],
        actor="t",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="t")
    page = pm().get("/admin/portfolio/position/").content.decode()
    assert '<span class="num">10.5%</span>' in page  # DI1F27's last price, a yield
    assert '<span class="num">102,000</span>' in page  # INDJ24's
    assert '<span class="num">-10,000,000.00</span>' in page and "-2,500.00" in page
    assert "Unrealized P&amp;L (BRL)" in page and "DV01 (BRL per bp)" in page
    totals = page[page.index('<tr class="pms-totals">') :]
    totals = totals[: totals.index("</tr>")]
    assert "Total (2)" in totals and "-8,980,000" in totals and "20,000.00" in totals


def test_the_alerts_are_one_row_per_breach_acknowledged_with_a_note(fund):
    """A DV01 limit of 2,000 in breach Mar 13–15 (2,500, 3,000, 2,200: utilization 125%,
    150%, 110%) is one row: 3 days, 110% on the last, 150% the worst. Acknowledging needs a
    note: without one nothing changes."""
    dv01 = RiskLimit.objects.create(name="DV01", metric="dv01", limit=D("2000"))
    for day, value in ((D1, "2500"), (D2, "3000"), (TODAY, "2200")):
        risk_services.alerts_update(as_of=day, values=[LimitValue(dv01, D(value))])
    client = pm()
    page = client.get("/admin/").content.decode()
    assert "Alerts not resolved (1)" in page
    assert (
        '<td>2024-03-13<br>– 2024-03-15</td><td class="num">3</td>'
        '<td class="num">110%</td><td class="num">150%</td>'
    ) in page
    assert page.count(">Acknowledge</button>") == 1 and 'name="note" required' in page
    [alert] = RiskAlert.objects.all()
    url = f"/admin/risk/riskalert/{alert.pk}/acknowledge/"
    refused = client.post(url, {"note": "  ", "next": "/admin/"}, follow=True)
    assert "a note is required" in refused.content.decode()
    too_long = client.post(url, {"note": "x" * 401, "next": "/admin/"}, follow=True)
    assert "A note is at most 400 characters (it has 401)." in too_long.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("open", "")
    done = client.post(url, {"note": "cutting DI", "next": "/admin/"}, follow=True)
    assert f"Acknowledged alert {alert.pk}." in done.content.decode()
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.note) == (
        "acknowledged",
        "pm-user",
        "cutting DI",
    )
    assert "by pm-user: cutting DI" in done.content.decode()


def test_the_dashboard_shows_the_funds_accounts_net_of_fees_against_the_cdi(fees_fund):
    """The fund of tests/fixtures/fees_fund.py, its book marked to D4 = Tue Mar 5."""
    page = pm().get("/admin/").content.decode()
    assert '<div class="value" id="kpi-nav">1,013,283.53</div>' in page
    assert '<div class="value" id="kpi-quota">1.01328353</div>' in page
    # The day (D4), net of fees: P&L 10,000 + 401.98 − 100.50 − 1,980.20 = 8,321.28 on the
    # capital 1,004,962.25: 0.828019…% → 0.83%; the CDI 0.0004: 0.04%.
    assert 'id="kpi-return-day">0.83%</div>' in page
    assert 'P&amp;L 8,321.28 · <span id="kpi-cdi-day">CDI 0.04%</span>' in page
    # MTD (D2–D4): the quota from 1.00030000 to 1.01328353, 1.297964…% → 1.30%; P&L
    # 8,340.10 − 3,677.85 + 8,321.28 = 12,983.53; the CDI 1.0004³ − 1 = 0.120048…% → 0.12%.
    assert 'id="kpi-return-mtd">1.30%</div>' in page
    assert 'P&amp;L 12,983.53 · <span id="kpi-cdi-mtd">CDI 0.12%</span>' in page
    # YTD (D1–D4): from 1 to 1.01328353, 1.33%; P&L 300.00 + 12,983.53 = 13,283.53; the
    # CDI 1.0004⁴ − 1 = 0.160096…% → 0.16%.
    assert 'id="kpi-return-ytd">1.33%</div>' in page
    assert 'P&amp;L 13,283.53 · <span id="kpi-cdi-ytd">CDI 0.16%</span>' in page
    # D4's cash (its capital, all margined), the provision accrued since D2, the units.
    assert 'id="accounts-cash">1,004,962.25</td>' in page
    assert 'id="accounts-provision">2,920.64</td>' in page
    assert 'id="accounts-units">1,000,000.00000000</td>' in page
    accrued = page[page.index('id="accounts-accrued"') :]
    accrued = accrued[: accrued.index("</table>")]
    # Day D4; MTD D2 + D3 + D4; YTD adds D1.
    #   carry       401.98   400.12 + 403.46 + 401.98 = 1,205.56   + 400.00 = 1,605.56
    #   management  100.50   100.03 + 100.86 + 100.50 = 301.39     + 100.00 = 401.39
    #   performance 1,980.20 1,959.99 − 1,019.55 + 1,980.20 = 2,920.64   + 0 = 2,920.64
    cells = '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>'
    assert "<td>Cash (carry at the CDI)</td>" + cells.format("401.98", "1,205.56", "1,605.56") in (
        accrued
    )
    assert "<td>Management fee</td>" + cells.format("100.50", "301.39", "401.39") in accrued
    assert "<td>Performance fee</td>" + cells.format("1,980.20", "2,920.64", "2,920.64") in (
        accrued
    )
    # P&L by strategy: MACRO's day 10 × 1,000 and MTD 10,000 − 5,000 + 10,000; the day's
    # carry and fees in rows of their own, so the day adds up to the fund's 8,321.28.
    table = page[page.index('id="pnl-by-strategy"') :]
    table = table[: table.index("</table>")]
    assert '<td>MACRO</td><td class="num">10,000.00</td><td class="num">15,000.00</td>' in table
    assert '<td>Cash (carry at the CDI)</td><td class="num">401.98</td>' in table
    assert '<td>Management fee</td><td class="num">-100.50</td>' in table
    assert '<td>Performance fee</td><td class="num">-1,980.20</td>' in table


def test_the_risk_card_shows_the_dv01_by_tenor(fund, di1):
    """DI1F27 −100 at 25 per bp and without a maturity: −2,500 per bp in `no maturity`."""
    Price.objects.create(instrument=di1, date=TODAY, price=D("10.50"))
    services.trades_book(
        requests=[services.TradeRequest("DI1F27", "MACRO", D("-100"), D("10.50"), TODAY)],
        actor="t",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="t")
    page = pm().get("/admin/").content.decode()
    table = page[page.index('id="dv01-by-tenor"') :]
    table = table[: table.index("</table>")]
    assert '<td>no maturity</td><td class="num">-2,500.00</td>' in table


def test_a_proposal_shows_only_the_limits_it_newly_breaches(fund, ibov, macro):
    """Gross leverage is in breach before and after the trade: the book's, not the trade's.
    Net leverage goes from ok to breach: the trade's. Only the latter is a new breach."""

    def limit(name: str, value: str, status: str) -> dict[str, str]:
        return {"name": name, "metric": "net_leverage", "limit": "1", "value": value,
                "status": status}  # fmt: skip

    proposal = TradeProposal.objects.create(
        date=TODAY,
        instrument=ibov,
        strategy=macro,
        signal=Signal.objects.create(instrument=ibov, strategy=macro, date=TODAY, score=1),
        quantity=D("2"),
        score=D("1"),
        rationale={},
        what_if={
            "var_95_before": "1000",
            "var_95_after": "1500",
            "limits_before": [limit("Gross leverage", "3", "breach"), limit("Net", "0.5", "ok")],
            "limits_after": [limit("Gross leverage", "3", "breach"), limit("Net", "2", "breach")],
        },
    )
    client = pm()
    page = client.get("/admin/").content.decode()
    assert 'new limit breaches: <span class="pms-new-breaches">Net</span>' in page
    listing = client.get("/admin/trading/tradeproposal/").content.decode()
    assert '<td class="field-new_breaches_shown">Net</td>' in listing
    own = client.get(f"/admin/trading/tradeproposal/{proposal.pk}/change/").content.decode()
    assert 'new limit breaches: <span class="pms-new-breaches">Net</span>' in own
    assert "<td>breach</td>" in own and "<td>ok → breach</td>" in own  # both rows, as they are
