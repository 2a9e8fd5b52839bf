"""Stress on screen: a stored or ad-hoc scenario run on the live book shows the numbers of
POST /api/risk/stress/, its bad shocks are refused naming what is wrong, the page is the
risk officer's; and the scenario form edits shocks as rows checked by the service's rules."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from risk import services
from risk.models import StressScenario
from tests.factories import desk

STRESS = "/admin/risk/stressscenario/run/"
SHOCKS = [
    {"target_type": "asset_class", "target": "equity", "shock": "-0.10"},
    {"target_type": "asset_class", "target": "rates", "shock": "100", "quote_type": "yield"},
]


def as_rows(shocks: list[dict[str, str]], name: str = "shocks") -> dict[str, str]:
    """Shocks as the page's rows post them."""
    return {
        f"{name}-{index}-{field}": value
        for index, shock in enumerate(shocks)
        for field, value in shock.items()
    }


def by_position(result: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(r["instrument"], r["strategy"], r["pnl"]) for r in result["by_position"]}


def test_a_stored_scenario_shows_the_apis_figures(book: Any, api_client_for: Any) -> None:
    scenario = services.scenario_create(actor="risk", name="Equity down, DI up", shocks=SHOCKS)
    api = api_client_for("risk").post("/api/risk/stress/", {"scenario": scenario.pk}, format="json")
    page = desk("risk").get(STRESS, {"scenario": scenario.pk})
    assert page.status_code == 200
    result = page.context["result"]
    assert result == api.json()
    # Equity −10%: INDJ24 10 × 101,500 × −0.1 = −101,500; ESH4 2 × 4,940 × 50 × 5.01 × −0.1 =
    # −247,494 (MACRO) and +123,747 (RV, short 1); DI1F27 short 100 × 25 × 100 bp = +250,000.
    assert result["pnl"] == "24753.00"
    html = page.content.decode()
    assert '<span id="stress-total" class="num pos">24,753.00</span>' in html
    rows = page.context["rows"]
    shown = [(r["instrument"], r["strategy"], r["quantity"], r["pnl"]) for r in rows]
    assert shown == [  # the worst first
        ("ESH4", "MACRO", "2", "-247,494.00"),
        ("INDJ24", "MACRO", "10", "-101,500.00"),
        ("USDBRL", "MACRO", "100,000", "0.00"),
        ("ESH4", "RV", "-1", "123,747.00"),
        ("DI1F27", "MACRO", "-100", "250,000.00"),
    ]


def test_ad_hoc_shocks_show_the_apis_figures(book: Any, api_client_for: Any) -> None:
    shocks = [{"target_type": "currency", "target": "USD", "shock": "0.05"}]
    api = api_client_for("risk").post("/api/risk/stress/", {"shocks": shocks}, format="json")
    page = desk("risk").get(STRESS, {"run": "1", **as_rows(shocks)})
    result = page.context["result"]
    assert by_position(result) == by_position(api.json())
    # USD +5% moves the USD price instruments: ESH4 2 × 4,940 × 50 × 5.01 × 0.05 = 123,747 and
    # −61,873.50 for the short 1: 61,873.50.
    assert result["pnl"] == api.json()["pnl"] == "61873.50"
    assert "61,873.50" in page.content.decode()


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        (
            as_rows([{"target_type": "instrument", "target": "NOPE", "shock": "0.1"}]),
            "shock 0: target: Unknown instrument &#x27;NOPE&#x27;.",
        ),
        (
            as_rows([{"target_type": "currency", "target": "usd", "shock": "0.1"}]),
            "shock 0: target: A currency is a three-letter ISO code in capitals, e.g. USD.",
        ),
        (
            as_rows([{"target_type": "instrument", "target": "ESH4", "shock": "-1"}]),
            "shock 0: shock: A relative move must be above -1 (-100%) and at most 10.",
        ),
        (
            as_rows([{"target": "ESH4", "shock": "ten"}]),
            "shock 0: target_type: One of instrument, asset_class, currency.",
        ),
        ({}, "Choose a stored scenario, or type at least one shock."),
    ],
)
def test_bad_shocks_are_refused_saying_what_is_wrong(
    book: Any, asked: dict[str, str], message: str
) -> None:
    page = desk("risk").get(STRESS, {"run": "1", **asked})
    assert page.status_code == 200 and page.context["result"] is None
    assert message in page.content.decode()


@pytest.mark.parametrize("group", ["pm", "viewer", "ops"])
def test_the_page_is_the_risk_officers(book: Any, group: str) -> None:
    client = desk(group)
    assert STRESS not in client.get("/admin/").content.decode()
    assert client.get(STRESS, {"run": "1", **as_rows(SHOCKS)}).status_code == 403
    assert f'href="{STRESS}"' in desk("risk").get("/admin/").content.decode()


def test_the_scenario_form_takes_shocks_as_rows(book: Any) -> None:
    risk = desk("risk")
    add = "/admin/risk/stressscenario/add/"
    form = risk.get(add).content.decode()
    assert 'name="shocks-0-target_type"' in form and "100 is +100 bp" in form
    bad = {"name": "Bad", **as_rows([{"target_type": "instrument", "target": "NOPE"}])}
    bad["shocks-0-shock"] = "0.1"
    answer = risk.post(add, bad)
    assert answer.status_code == 200 and not StressScenario.objects.exists()
    assert answer.context["adminform"].form.errors["shocks"] == [
        "shock 0: target: Unknown instrument 'NOPE'."
    ]
    # The rows as typed, a blank one between them skipped.
    rows = as_rows([SHOCKS[0], {"target": "", "shock": ""}, SHOCKS[1]])
    assert risk.post(add, {"name": "Equity down, DI up", **rows}).status_code == 302
    stored = StressScenario.objects.get()
    assert stored.created_by == "risk"
    assert [(s["target"], Decimal(s["shock"])) for s in stored.shocks] == [
        ("equity", Decimal("-0.1")),
        ("rates", Decimal("100")),
    ]
    page = risk.get(f"/admin/risk/stressscenario/{stored.pk}/change/").content.decode()
    assert 'name="shocks-1-target" value="rates"' in page
    assert f'href="{STRESS}?scenario={stored.pk}"' in page


def test_a_historical_scenario_replays_its_window(book: Any, api_client_for: Any) -> None:
    scenario = services.scenario_create(
        actor="risk",
        name="Mar 13-15",
        historical_start=dt.date(2024, 3, 13),
        historical_end=dt.date(2024, 3, 15),
    )
    api = api_client_for("risk").post("/api/risk/stress/", {"scenario": scenario.pk}, format="json")
    page = desk("risk").get(STRESS, {"scenario": scenario.pk})
    assert page.context["result"] == api.json()
    assert page.context["total"] == "-8,217.75"  # worked out in tests/risk/test_risk.py
    assert "The moves from 2024-03-13 to 2024-03-15, replayed." in page.content.decode()


def test_a_scenario_of_many_shocks_keeps_every_row(book: Any) -> None:
    """Rows are read back until the page's last: 210 shocks saved are 210 stored (a cap of
    200 once dropped the rest without a word)."""
    risk = desk("risk")
    many = [{"target_type": "asset_class", "target": "equity", "shock": "-0.001"}] * 210
    answer = risk.post("/admin/risk/stressscenario/add/", {"name": "Many", **as_rows(many)})
    assert answer.status_code == 302
    assert len(StressScenario.objects.get(name="Many").shocks) == 210


def test_shocks_that_add_up_past_minus_100_percent_are_refused(
    book: Any, api_client_for: Any
) -> None:
    """−60% on ESH4 and −60% on equities (ESH4's class) add up to −120%: a price below zero,
    refused on the page, by the API's stress and as a stored scenario."""
    wiped = [
        {"target_type": "instrument", "target": "ESH4", "shock": "-0.6"},
        {"target_type": "asset_class", "target": "equity", "shock": "-0.6"},
    ]
    page = desk("risk").get(STRESS, {"run": "1", **as_rows(wiped)})
    assert page.context["result"] is None
    assert "these take a price to zero or below: ESH4 (-120%)" in page.content.decode()
    client = api_client_for("risk")
    answer = client.post("/api/risk/stress/", {"shocks": wiped}, format="json")
    assert answer.status_code == 400 and "ESH4 (-120%)" in str(answer.json())
    body = {"name": "Wiped", "shocks": wiped}
    assert client.post("/api/risk/scenarios/", body, format="json").status_code == 400
    assert not StressScenario.objects.exists()
    # −40% and −50%: −90%, a price still above zero.
    fine = [{**wiped[0], "shock": "-0.4"}, {**wiped[1], "shock": "-0.5"}]
    assert client.post("/api/risk/stress/", {"shocks": fine}, format="json").status_code == 200
