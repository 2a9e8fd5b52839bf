"""The risk API: who may do what, bad input, and the contract's shapes."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from portfolio.models import AuditRecord
from risk import services
from risk.models import RiskAlert, RiskLimit, StressScenario
from tests.conftest import TODAY, queries_of
from tests.factories import InstrumentFactory
from tests.fixtures.risk_book import DAYS

Client = Callable[[str | None], APIClient]


def test_live_risk_answers_the_contract(book: Any, api_client_for: Client) -> None:
    response = api_client_for("viewer").get("/api/risk/live/?window=20&method=ewma")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "as_of",
        "nav",
        "method",
        "window",
        "window_used",
        "short_history",
        "var_unavailable",
        "var",
        "expected_shortfall",
        "exposures",
        "dv01_by_currency",
        "dv01_by_tenor",
        "drawdown",
        "limits",
        "missing_history",
        "cached",
        "cache_age_seconds",
    }
    assert (body["method"], body["window"], body["cached"]) == ("ewma", 20, False)
    assert (body["window_used"], body["short_history"], body["var_unavailable"]) == (
        20,
        False,
        None,
    )
    assert set(body["var"]) == set(body["expected_shortfall"]) == {"0.95", "0.99"}
    assert set(body["exposures"]) == {
        "gross",
        "net",
        "long",
        "short",
        "leverage",
        "by_asset_class",
        "by_currency",
        "by_strategy",
        "top_concentrations",
    }


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("method=montecarlo&window=20", "method", "Unknown method 'montecarlo'"),
        ("window=5", "window", "The window is 20 to 2520"),
        ("window=abc", "window", "valid integer"),
    ],
)
def test_live_risk_bad_input_is_400(
    book: Any, api_client_for: Client, query: str, field: str, message: str
) -> None:
    response = api_client_for("viewer").get(f"/api/risk/live/?{query}")
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_limits_are_written_by_risk_only_and_audited(db: None, api_client_for: Client) -> None:
    body = {"name": "Fund VaR", "metric": "var_99", "limit": "2500000"}
    for group in ("viewer", "pm", "ops"):
        assert api_client_for(group).post("/api/risk/limits/", body).status_code == 403
    risk = api_client_for("risk")
    created = risk.post("/api/risk/limits/", body, format="json")
    assert created.status_code == 201
    assert created.json() | {"id": 0} == {
        "id": 0,
        "name": "Fund VaR",
        "metric": "var_99",
        "scope_type": "",
        "scope_value": "",
        "scope": "fund",
        "limit": "2500000.000000",
        "warning_fraction": "0.8000",
        "is_active": True,
    }
    pk = created.json()["id"]
    patched = risk.patch(f"/api/risk/limits/{pk}/", {"warning_fraction": "0.9"}, format="json")
    assert patched.status_code == 200 and patched.json()["warning_fraction"] == "0.9000"
    assert list(AuditRecord.objects.order_by("id").values_list("action", "actor")) == [
        ("risklimit.create", "user-risk"),
        ("risklimit.update", "user-risk"),
    ]
    assert api_client_for("viewer").get("/api/risk/limits/").json()["count"] == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"limit": "-1"}, "limit", "Must be positive."),
        ({"limit": "0"}, "limit", "Must be positive."),
        ({"warning_fraction": "1.5"}, "warning_fraction", "less than or equal to 1"),
        ({"metric": "sharpe"}, "metric", "not a valid choice"),
        ({"scope_type": "strategy", "scope_value": "NOPE"}, "scope_value", "Unknown strategy"),
        ({"scope_type": "asset_class", "scope_value": "crypto"}, "scope_value", "Unknown asset"),
        ({"scope_value": "MACRO"}, "scope_value", "fund-wide limit has no scope_value"),
        ({"metric": "asset_class_gross"}, "scope_type", "scoped to an asset class"),
        (
            {"metric": "drawdown", "scope_type": "asset_class", "scope_value": "fx"},
            "scope_type",
            "fund-wide",
        ),
    ],
)
def test_bad_limits_are_400_and_change_nothing(
    db: None, api_client_for: Client, body: dict[str, str], field: str, message: str
) -> None:
    response = api_client_for("risk").post(
        "/api/risk/limits/",
        {"name": "L", "metric": "var_95", "limit": "1000", **body},
        format="json",
    )
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not RiskLimit.objects.exists() and not AuditRecord.objects.exists()


def test_a_limit_with_alerts_is_deactivated_not_deleted(book: Any, api_client_for: Client) -> None:
    risk = api_client_for("risk")
    unused = RiskLimit.objects.create(name="unused", metric="var_95", limit=Decimal(1))
    breached = RiskLimit.objects.create(name="dv01", metric="dv01", limit=Decimal(2000))
    RiskAlert.objects.create(limit=breached, date=TODAY, value=Decimal(2500), utilization=1)
    assert risk.delete(f"/api/risk/limits/{unused.pk}/").status_code == 204
    response = risk.delete(f"/api/risk/limits/{breached.pk}/")
    assert response.status_code == 409
    assert "deactivate it" in response.json()["detail"]
    assert RiskLimit.objects.filter(pk=breached.pk).exists()


def test_alerts_are_acknowledged_once_by_risk_or_pm(book: Any, api_client_for: Client) -> None:
    limit = RiskLimit.objects.create(name="dv01", metric="dv01", limit=Decimal(2000))
    alert = RiskAlert.objects.create(limit=limit, date=TODAY, value=Decimal(2500), utilization=1)
    url = f"/api/risk/alerts/{alert.pk}/acknowledge/"
    assert api_client_for("viewer").post(url, {}).status_code == 403
    assert api_client_for("ops").post(url, {}).status_code == 403
    for without in ({}, {"note": ""}, {"note": "   "}):
        refused = api_client_for("pm").post(url, without, format="json")
        assert refused.status_code == 400 and "note" in refused.json(), refused.content
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledged_at) == ("open", "", None)
    assert not AuditRecord.objects.filter(action="riskalert.acknowledge").exists()
    response = api_client_for("pm").post(url, {"note": "cutting DI"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["acknowledged_by"], body["note"]) == (
        "acknowledged",
        "user-pm",
        "cutting DI",
    )
    again = api_client_for("risk").post(url, {"note": "me too"}, format="json")
    assert again.status_code == 409
    assert "already acknowledged (by user-pm at 2024-03-15" in again.json()["detail"]
    assert AuditRecord.objects.filter(action="riskalert.acknowledge").count() == 1
    listed = api_client_for("viewer").get("/api/risk/alerts/?status=acknowledged").json()
    assert [a["id"] for a in listed["results"]] == [alert.pk]
    assert api_client_for("viewer").get("/api/risk/alerts/?status=open").json()["count"] == 0
    assert api_client_for("viewer").get("/api/risk/alerts/?status=bogus").status_code == 400


def test_alert_list_queries_do_not_grow(book: Any, api_client_for: Client) -> None:
    client = api_client_for("viewer")
    limits = [
        RiskLimit.objects.create(name=f"L{n}", metric="dv01", limit=Decimal(1)) for n in range(6)
    ]
    RiskAlert.objects.create(limit=limits[0], date=TODAY, value=2, utilization=2)
    one, _ = queries_of(client, "/api/risk/alerts/")
    for lim in limits[1:]:
        for day in DAYS[-3:]:
            RiskAlert.objects.create(limit=lim, date=day, value=2, utilization=2)
    many, answer = queries_of(client, "/api/risk/alerts/")
    assert answer.json()["count"] == 16 and many == one


def test_scenarios_and_stress_runs(book: Any, api_client_for: Client) -> None:
    shocks = [
        {"target_type": "asset_class", "target": "equity", "shock": "-0.10"},
        {"target_type": "asset_class", "target": "rates", "shock": "100", "quote_type": "yield"},
    ]
    assert (
        api_client_for("pm")
        .post("/api/risk/scenarios/", {"name": "x", "shocks": shocks}, format="json")
        .status_code
        == 403
    )
    created = api_client_for("risk").post(
        "/api/risk/scenarios/", {"name": "Equity down, DI up", "shocks": shocks}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["created_by"] == "user-risk"
    # Any group may run a stress: it changes nothing.
    by_id = api_client_for("viewer").post(
        "/api/risk/stress/", {"scenario": created.json()["id"]}, format="json"
    )
    inline = api_client_for("pm").post("/api/risk/stress/", {"shocks": shocks}, format="json")
    assert by_id.status_code == inline.status_code == 200
    # Equity −10%: −101,500 − 247,494 + 123,747; DI +100 bp: +250,000 → 24,753.00.
    assert by_id.json()["pnl"] == inline.json()["pnl"] == "24753.00"
    assert by_id.json()["name"] == "Equity down, DI up"
    assert len(inline.json()["by_position"]) == 5


def test_historical_scenario_replays_a_window(book: Any, api_client_for: Client) -> None:
    created = api_client_for("risk").post(
        "/api/risk/scenarios/",
        {"name": "Mar 13-15", "historical_start": "2024-03-13", "historical_end": "2024-03-15"},
        format="json",
    )
    assert created.status_code == 201
    run = api_client_for("viewer").post(
        "/api/risk/stress/", {"scenario": created.json()["id"]}, format="json"
    )
    assert run.json()["pnl"] == "-8217.75"  # worked out in test_risk


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "none"}, "Give shocks, or historical_start and historical_end."),
        (
            {
                "name": "both",
                "historical_start": "2024-01-02",
                "historical_end": "2024-01-05",
                "shocks": [{"target_type": "currency", "target": "USD", "shock": "0.1"}],
            },
            "not both",
        ),
        (
            {"name": "back", "historical_start": "2024-03-01", "historical_end": "2024-02-01"},
            "Must be after historical_start.",
        ),
        (
            {"name": "future", "historical_start": "2024-03-01", "historical_end": "2024-04-01"},
            "is in the future",
        ),
        (
            {
                "name": "usd",
                "shocks": [{"target_type": "currency", "target": "usd", "shock": "0.1"}],
            },
            "three-letter ISO code",
        ),
        (
            {
                "name": "wipe",
                "shocks": [{"target_type": "instrument", "target": "ESH4", "shock": "-1"}],
            },
            "above -1",
        ),
        (
            {
                "name": "mixed",
                "shocks": [{"target_type": "asset_class", "target": "rates", "shock": "1"}],
            },
            "holds price and yield instruments",
        ),
        ({"name": "empty", "shocks": []}, "at least one shock"),
    ],
)
def test_bad_scenarios_are_400(
    book: Any, api_client_for: Client, body: dict[str, Any], expected: str
) -> None:
    # `rates` holds DI1F27 (yield); a price-quoted bond future makes it mixed.
    InstrumentFactory.create(symbol="TYM4", asset_class="rates", currency="USD")
    response = api_client_for("risk").post("/api/risk/scenarios/", body, format="json")
    assert response.status_code == 400
    assert expected in str(response.json())
    assert not StressScenario.objects.exists()


def test_stress_request_needs_one_of_scenario_or_shocks(book: Any, api_client_for: Client) -> None:
    client = api_client_for("viewer")
    assert client.post("/api/risk/stress/", {}, format="json").status_code == 400
    assert client.post("/api/risk/stress/", {"scenario": 999}, format="json").status_code == 400


def test_a_young_fund_gets_the_window_its_history_fills(book: Any, api_client_for: Client) -> None:
    """21 days of quotes: window=250 runs on the 20 returns there are, and says so."""
    body = api_client_for("viewer").get("/api/risk/live/?window=250").json()
    assert (body["window"], body["window_used"], body["short_history"]) == (250, 20, True)
    assert body["var"] == api_client_for("viewer").get("/api/risk/live/?window=20").json()["var"]


def test_snapshots_list_by_date(timeline: Any, api_client_for: Client) -> None:
    services.risk_snapshot_take(actor="eod", window=20)
    client = api_client_for("viewer")
    [row] = client.get("/api/risk/snapshots/?start=2024-03-15&end=2024-03-15").json()["results"]
    assert (row["date"], row["nav"], row["window"]) == ("2024-03-15", "10000000.00", 20)
    assert (row["window_used"], row["var_unavailable"]) == (20, "")
    assert row["drawdown"] == {
        "as_of": "2024-03-15",
        "value": "0.000000",
        "peak_date": "2024-03-15",
    }
    assert row["exposures"]["gross"] == "15228410.00"
    assert client.get("/api/risk/snapshots/?end=2024-03-14").json()["count"] == 0
    assert client.get("/api/risk/snapshots/?start=nope").status_code == 400


def test_live_risk_of_an_empty_book(api_client_for):
    """No positions, no prices: VaR and ES are zero, nothing fails (it was a 500)."""
    answer = api_client_for("viewer").get("/api/risk/live/")
    assert answer.status_code == 200, answer.content[:300]
    body = answer.json()
    assert body["var"] == {"0.95": "0.00", "0.99": "0.00"}
    assert body["expected_shortfall"] == {"0.95": "0.00", "0.99": "0.00"}
    assert body["exposures"]["gross"] == "0.00" and body["limits"] == []
