"""A young fund: less history than the risk window. It still gets its proposals, its risk
report (VaR over the window its history fills, or none below the floor, with the reason)
and its end of day.

The fund: `days` business days to TODAY of INDJ24 (BRL, ×1) closing 100,000 and 101,000 on
alternate days, capital 10,000,000.00 on the first, 10 INDJ24 bought on the first at
100,000 by MACRO (risk budget 1,000,000), and a signal of +0.5 on TODAY.
"""

from decimal import Decimal
from typing import Any

import pytest

from core.calendar import business_days_ending
from ops import pipelines
from portfolio import services
from portfolio.models import Price
from risk.models import RiskLimit, RiskSnapshot
from tests.conftest import TODAY
from tests.factories import StrategyFactory
from trading.models import Signal


def young_fund(days: int, ibov: Any) -> None:
    history = business_days_ending(TODAY, days)
    Price.objects.bulk_create(
        Price(instrument=ibov, date=day, price=Decimal(101000 if k % 2 else 100000))
        for k, day in enumerate(history)
    )
    macro = StrategyFactory.create(code="MACRO", risk_budget=Decimal("1000000"))
    services.capital_flow_create(date=history[0], amount=Decimal("10000000.00"), actor="ops")
    services.trades_book(
        requests=[
            services.TradeRequest("INDJ24", "MACRO", Decimal(10), Decimal(100000), history[0])
        ],
        actor="pm",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="ops")
    Signal.objects.create(instrument=ibov, strategy=macro, date=TODAY, score=Decimal("0.5"))
    RiskLimit.objects.create(name="VaR", metric="var_95", limit=Decimal("1000000"))
    RiskLimit.objects.create(name="Gross", metric="gross_leverage", limit=Decimal("3"))


def test_eighty_days_give_proposals_with_a_79_day_what_if(db, ibov, api_client_for):
    young_fund(80, ibov)
    answer = api_client_for("pm").post("/api/proposals/generate/", {}, format="json")
    assert answer.status_code == 200, answer.content
    [proposal] = answer.json()["proposals"]
    what_if = proposal["what_if"]
    assert (what_if["window"], what_if["window_used"], what_if["short_history"]) == (250, 79, True)
    assert what_if["unavailable"] is None and what_if["var_95_before"] is not None
    live = api_client_for("viewer").get("/api/risk/live/").json()
    assert (live["window"], live["window_used"], live["short_history"]) == (250, 79, True)
    assert live["var"]["0.95"] == what_if["var_95_before"]


@pytest.fixture
def ten_days(db: None, ibov: Any, settings: Any) -> None:
    settings.PMS_PIPELINE_RETRIES = 0
    young_fund(10, ibov)


def test_ten_days_give_a_risk_report_without_var(ten_days, api_client_for):
    answer = api_client_for("viewer").get("/api/risk/live/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["window"], body["window_used"], body["short_history"]) == (250, 9, True)
    assert body["var"] == body["expected_shortfall"] == {"0.95": None, "0.99": None}
    assert body["var_unavailable"] == (
        "9 daily returns of history to 2024-03-15; VaR needs at least 20 (PMS_RISK_MIN_WINDOW)."
    )
    # Mar 15 is k = 9 of the history, an odd day: 10 × 101,000 = 1,010,000.00 of notional,
    # 10,000.00 unrealized, NAV 10,010,000.00: gross leverage 1,010,000 / 10,010,000.
    assert (body["exposures"]["gross"], body["nav"]) == ("1010000.00", "10010000.00")
    limits = {row["name"]: (row["value"], row["status"]) for row in body["limits"]}
    assert limits == {"Gross": ("0.100899", "ok"), "VaR": (None, "unavailable")}


def test_ten_days_get_through_the_end_of_day(ten_days, api_client_for):
    run = pipelines.pipeline_run(pipeline="eod", date=TODAY, actor="scheduler")
    assert run.status == "succeeded", run.error
    snapshot = RiskSnapshot.objects.get(date=TODAY)
    assert (snapshot.var_95, snapshot.window_used) == (None, 9)
    assert "VaR needs at least 20" in snapshot.var_unavailable
    assert run.steps[2]["summary"].startswith("no VaR (9 daily returns of history")
    # Sizing needs 60 daily moves: the signal is skipped, with the reason, not an error.
    answer = api_client_for("pm").post("/api/proposals/generate/", {}, format="json")
    assert answer.status_code == 200
    assert answer.json()["skipped"] == [
        {
            "instrument": "INDJ24",
            "strategy": "MACRO",
            "reason": "fewer than 60 daily moves to 2024-03-15",
        }
    ]
