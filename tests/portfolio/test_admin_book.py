"""The admin's positions list is the book /api/book/ serves: the same rows by default
(open, and closed on the valuation date), each with its P&L of that day, and a totals row
whose day P&L is the API's."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from portfolio import services
from tests.factories import PASSWORD, PriceFactory, StrategyFactory
from tests.shown import shown_book

pytestmark = pytest.mark.django_db

THU, FRI = dt.date(2024, 3, 14), dt.date(2024, 3, 15)


def trade(strategy: str, quantity: str, price: str, day: dt.date) -> None:
    request = services.TradeRequest("INDJ24", strategy, D(quantity), D(price), day)
    services.trades_book(requests=[request], actor="pm", source="api")


def test_the_positions_list_totals_the_days_pnl_as_the_api_does(ibov, macro):
    StrategyFactory(code="RV")
    StrategyFactory(code="OLD")
    day = dt.date(2024, 3, 12)
    services.capital_flow_create(date=day, amount=D("1000000.00"), actor="ops")
    trade("OLD", "1", "126000", dt.date(2024, 3, 12))
    trade("OLD", "-1", "126500", dt.date(2024, 3, 13))  # closed before the book's day
    PriceFactory(instrument=ibov, date=THU, price=D("127000"))
    trade("MACRO", "5", "126800", THU)
    trade("RV", "-2", "127100", THU)
    services.mark_to_market(as_of=THU, actor="ops")
    trade("MACRO", "-5", "126900", FRI)  # closed today, the book still at Thursday's close
    # MACRO: 5 × (127,000 − 126,800) = 1,000 on Thursday, then 5 × (126,900 − 127,000) =
    # −500 for the sale at Thursday's close: 500. RV: −2 × (127,000 − 127,100) = 200.
    report = shown_book()
    assert report["totals"]["daily_pnl"] == "700.00"

    user = User.objects.create_user("pm-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="pm"))
    client = Client()
    client.force_login(user)
    page = client.get("/admin/portfolio/position/").content.decode()
    totals = page[page.index('<tr class="pms-totals">') :]
    totals = totals[: totals.index("</tr>")]
    assert "Total (2)" in totals and "700.00" in totals  # MACRO (closed today) and RV
    assert '<span class="num">closed 2024-03-15</span>' in page
    # The dashboard's day is the same figure, by strategy too, and its NAV is dated at the
    # valuation date (the trade of Friday does not move it).
    dashboard = client.get("/admin/").content.decode()
    assert "NAV (BRL) · 2024-03-14" in dashboard
    assert 'id="kpi-open-positions">1</div>' in dashboard  # RV; MACRO closed today
    day = dashboard[dashboard.index('id="kpi-return-day"') :]
    assert "P&amp;L 700.00 · " in day[: day.index("</div></div>") + 12]
    assert '<td>MACRO</td><td class="num">500.00</td>' in dashboard
    assert '<td>RV</td><td class="num">200.00</td>' in dashboard
    everything = client.get("/admin/portfolio/position/?status=all").content.decode()
    assert "Total (3)" in everything  # OLD's day is long past: it adds 0.00 to the day
    rows = everything[everything.index('<tr class="pms-totals">') :]
    assert "700.00" in rows[: rows.index("</tr>")]
