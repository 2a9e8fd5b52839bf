"""The performance API: attribution and NAV over HTTP, bad input, query counts, admin."""

from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.test import Client

from portfolio import services
from tests.conftest import queries_of
from tests.factories import PASSWORD
from tests.fixtures.attribution_fund import D0, D3


@pytest.fixture
def built(attribution_fund):
    services.snapshots_build(start=D0, end=D3, actor="test")


def test_attribution_answers_the_contract(built, api_client_for):
    viewer = api_client_for("viewer")
    answer = viewer.get(
        "/api/attribution/",
        {"period": "custom", "by": "strategy", "start": "2024-03-13", "end": "2024-03-15"},
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert set(body) == {
        "period",
        "by",
        "start",
        "end",
        "total_pnl",
        "total_return",
        "linking",
        "rows",
        "cached",
        "cache_age_seconds",
    }
    assert (body["total_pnl"], body["linking"], body["cached"]) == ("65200.00", "carino", False)
    assert sum(D(row["pnl"]) for row in body["rows"]) == D(body["total_pnl"])
    assert abs(sum(D(row["contribution"]) for row in body["rows"]) - D(body["total_return"])) < D(
        "1e-12"
    )
    mtd = viewer.get("/api/attribution/", {"period": "mtd", "by": "currency"}).json()
    assert (mtd["start"], mtd["end"]) == ("2024-03-12", "2024-03-15")  # the history starts D0
    # as_of moves a named period's end back to the last snapshot on or before it.
    daily = viewer.get("/api/attribution/", {"period": "daily", "as_of": "2024-03-14"}).json()
    assert (daily["start"], daily["total_pnl"]) == ("2024-03-14", "19500.00")


@pytest.mark.parametrize(
    "query, field",
    [
        ({"period": "weekly"}, "period"),
        ({"by": "desk"}, "by"),
        ({"period": "custom", "start": "2024-03-13"}, "end"),
        ({"period": "custom", "start": "2024-03-15", "end": "2024-03-13"}, "start"),
        ({"period": "custom", "start": "13/03/2024", "end": "2024-03-15"}, "start"),
        ({"period": "ytd", "start": "2024-03-13"}, "period"),
        # Before the inception (D0 = Mar 12, the first capital flow) nothing exists.
        ({"period": "ytd", "as_of": "2024-01-05"}, "as_of"),
        ({"period": "custom", "start": "2024-03-11", "end": "2024-03-15"}, "start"),
    ],
)
def test_bad_attribution_queries_are_400(built, api_client_for, query, field):
    answer = api_client_for("viewer").get("/api/attribution/", query)
    assert answer.status_code == 400 and field in answer.data, answer.data
    if "2024-03-11" in query.values() or "2024-01-05" in query.values():
        assert "before the fund's inception 2024-03-12" in answer.data[field][0]


def test_attribution_query_count_does_not_grow(built, api_client_for):
    viewer = api_client_for("viewer")
    one_day, _ = queries_of(viewer, "/api/attribution/", {"period": "daily", "by": "instrument"})
    longer, _ = queries_of(viewer, "/api/attribution/", {"period": "itd", "by": "instrument"})
    assert longer == one_day


def test_nav_rows(built, api_client_for):
    viewer = api_client_for("viewer")
    rows = viewer.get("/api/nav/", {"start": "2024-03-13", "end": "2024-03-14"}).data["results"]
    assert [(r["date"], r["nav"], r["pnl"], r["flow"], r["return"]) for r in rows] == [
        ("2024-03-13", "10035500.00", "35500.00", "0.00", "0.0035500000000000"),
        ("2024-03-14", "11055000.00", "19500.00", "1000000.00", "0.0017670246024195"),
    ]
    assert viewer.get("/api/nav/", {"start": "yesterday"}).status_code == 400
    assert api_client_for(None).get("/api/nav/").status_code == 401
    snapshots = viewer.get("/api/position-snapshots/", {"date": "2024-03-15"}).data
    assert {(r["instrument"], r["daily_pnl_base"]) for r in snapshots["results"]} == {
        ("ESH4", "-4800.00"),
        ("INDJ24", "15000.00"),
    }


def test_admin_nav_history_has_its_chart(built):
    client = Client()
    client.force_login(User.objects.create_superuser("ops-admin", "o@example.com", PASSWORD))
    page = client.get("/admin/portfolio/portfoliosnapshot/")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "<polyline" in html
    assert "11,065,200.00" in html  # D3's NAV in the table
    assert client.get("/admin/portfolio/portfoliosnapshot/add/").status_code == 403
