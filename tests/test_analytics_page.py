"""The admin's risk and performance page: the decomposition, the backtest with its chart
and the statistics are the API's figures; a part that cannot be computed says why."""

import re
from typing import Any

from django.contrib.auth.models import Group, User
from django.test import Client

from risk import selectors
from tests.factories import PASSWORD

URL = "/admin/analytics/"


def client(group: str | None = "viewer") -> Client:
    user = User.objects.create_user(f"{group}-user", password=PASSWORD, is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    browser = Client()
    browser.force_login(user)
    return browser


def test_the_decomposition_and_statistics_of_the_book(timeline: Any) -> None:
    page = client().get(URL, {"by": "strategy", "period": "itd"}).content.decode()
    live = selectors.decomposition(by="strategy")
    assert f"What drives VaR 99%: {live.var:,.2f} (live book, 20 days)" in page
    for row in live.rows:  # MACRO and RV, as the API has them
        assert f'<td>{row.key}</td><td class="num">{row.component_var:,.2f}' in page
    decomposition = page[page.index('id="decomposition"') :]
    assert decomposition.count("<tr><td>MACRO</td>") == 2  # a component, an incremental VaR
    # Since the capital (Feb 16): the positions bought at Mar 15's close have no P&L yet.
    assert "Performance ITD, 2024-02-16 to 2024-03-15 (21 days)" in page
    assert '<td>Fund</td><td class="num pos">0.00</td><td class="num">0.00%</td>' in page
    # No risk snapshot yet: the backtest says which command takes them.
    assert "Unavailable: No risk snapshot" in page and "backfill_risk_snapshots" in page


def test_the_backtest_and_its_chart(history: Any) -> None:
    page = client("risk").get(URL, {"confidence": "0.99"}).content.decode()
    assert "6 in 250 days (expected 2.5)" in page
    assert '<span class="pms-status pms-warning">yellow</span>' in page
    chart = page[page.index('<div id="backtest-chart">') :]
    assert chart.count('class="exception"') == 6 and chart.count('<rect class="hit"') == 250
    # Each exception on hover: its date and its loss beyond the VaR.
    listed = re.findall(r"(\d{4}-\d{2}-\d{2}) \(P&amp;L -([\d,.]+), VaR ([\d,.]+)\)", page)
    assert len(listed) == 6
    for day, loss, var in listed:
        assert f'data-date="{day}" data-value="loss {loss} beyond VaR {var} (exception)"' in chart
    # No fund (no capital flow): no statistics, and an empty book's VaR is 0.
    assert "Unavailable: The fund has no capital flow yet" in page
    assert "What drives VaR 99%: 0.00 (live book" in page


def test_unknown_choices_fall_back_and_a_user_outside_the_groups_is_refused(
    timeline: Any,
) -> None:
    answer = client().get(URL, {"period": "decade", "by": "desk", "confidence": "2"})
    page = answer.content.decode()
    assert answer.status_code == 200
    assert "Performance YTD" in page and '<option value="position" selected>' in page
    assert client(None).get(URL).status_code == 403
