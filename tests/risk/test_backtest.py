"""VaR backtesting (DESIGN.md "VaR backtesting") on a constructed series: 250 risk
snapshots with VaR 99% = 100.00 and VaR 95% = 60.00, each followed by a business day whose
fund P&L is +10.00, except 6 days (two of them in a row) with −150.00: 6 exceptions at 99%
and at 95%. The likelihood ratios are computed here from the formulas."""

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from core.calendar import business_days_ending
from portfolio.models import PortfolioSnapshot
from risk import engine
from risk.models import RiskSnapshot
from tests.conftest import TODAY

DAYS = business_days_ending(TODAY, 251)  # 250 snapshots, each with its next day
LOSS_DAYS = {10, 50, 51, 100, 200, 220}  # indexes of the next days that lose 150


def backtest_history(losses: set[int]) -> None:
    """The 250 snapshots (VaR 99% 100.00, 95% 60.00) and their next days' P&L: +10.00,
    but −150.00 on the next day of each snapshot index in `losses`."""
    RiskSnapshot.objects.bulk_create(
        RiskSnapshot(
            date=day,
            nav=Decimal("1000000"),
            window=250,
            var_95=Decimal("60.00"),
            var_99=Decimal("100.00"),
            exposures={},
            dv01_by_currency={},
            limits=[],
        )
        for day in DAYS[:-1]
    )
    PortfolioSnapshot.objects.bulk_create(
        PortfolioSnapshot(
            date=day,
            nav=Decimal("1000000"),
            pnl=Decimal("-150.00") if k - 1 in losses else Decimal("10.00"),
            flow=Decimal("0"),
            daily_return=Decimal("0"),
            gross_exposure=Decimal("0"),
            net_exposure=Decimal("0"),
            positions=0,
        )
        for k, day in enumerate(DAYS)
    )


@pytest.fixture
def history(db: None) -> None:
    backtest_history(LOSS_DAYS)


def kupiec_by_hand(t: int, x: int, p: float) -> float:
    return -2 * ((t - x) * math.log(1 - p) + x * math.log(p)) + 2 * (
        (t - x) * math.log(1 - x / t) + x * math.log(x / t)
    )


def test_the_backtest_by_the_formulas(history: Any, api_client_for: Any) -> None:
    answer = api_client_for("viewer").get("/api/risk/backtest/")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["observations"], body["exceptions"], body["expected"]) == (250, 6, "2.500000")
    lr = kupiec_by_hand(250, 6, 0.01)  # 3.5553…
    assert Decimal(body["kupiec"]["lr"]) == Decimal(repr(lr)).quantize(Decimal("0.000001"))
    assert float(body["kupiec"]["p_value"]) == pytest.approx(math.erfc(math.sqrt(lr / 2)), abs=1e-6)
    # Transitions of the 250 indicators: 6 exceptions, one pair in a row (50, 51):
    # n01 = 5 (a quiet day then an exception), n11 = 1, n10 = 5 (none ends the series), n00 = 238.
    n00, n01, n10, n11 = 238, 5, 5, 1
    pi, pi0, pi1 = 6 / 249, n01 / (n00 + n01), n11 / (n10 + n11)
    independence = -2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)) + 2 * (
        n00 * math.log(1 - pi0)
        + n01 * math.log(pi0)
        + n10 * math.log(1 - pi1)
        + n11 * math.log(pi1)
    )
    assert float(body["christoffersen"]["lr"]) == pytest.approx(independence, abs=1e-6)
    assert body["traffic_light"] == "yellow" and body["traffic_light_days"] == 250
    exceptions = [k for k, day in enumerate(body["days"]) if day["exception"]]
    assert exceptions == sorted(LOSS_DAYS)
    assert body["days"][10] == {
        "date": DAYS[10].isoformat(),
        "var": "100.00",
        "pnl": "-150.00",
        "exception": True,
    }


def test_the_basel_zones_change_at_5_and_10() -> None:
    assert [engine.traffic_light(x) for x in (0, 4, 5, 9, 10, 30)] == [
        "green",
        "green",
        "yellow",
        "yellow",
        "red",
        "red",
    ]
    # No exception at all: Kupiec's second term is ln 1 = 0.
    lr, _ = engine.kupiec(np.zeros(250, dtype=bool), 0.99)
    assert lr == pytest.approx(-2 * 250 * math.log(0.99))


@pytest.mark.parametrize(
    ("query", "field"),
    [({"confidence": "0.9"}, "confidence"), ({"start": "2023-01-02", "end": "2023-01-31"}, None)],
)
def test_bad_queries_and_no_snapshots_are_400(
    history: Any, api_client_for: Any, query: dict[str, str], field: str | None
) -> None:
    answer = api_client_for("viewer").get("/api/risk/backtest/", query)
    assert answer.status_code == 400, answer.content
    if field:
        assert field in answer.json()
    else:
        hint = "`manage.py backfill_risk_snapshots --start 2023-01-02 --end 2023-01-31`"
        assert hint in answer.content.decode()
