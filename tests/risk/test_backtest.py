"""VaR backtesting (DESIGN.md "VaR backtesting") on a constructed series: 250 risk
snapshots with VaR 99% = 100.00 and VaR 95% = 60.00, each followed by a business day whose
fund P&L is +10.00, except 6 days (two of them in a row) with −150.00: 6 exceptions at 99%
and at 95%. The likelihood ratios are computed here from the formulas."""

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from risk import engine
from tests.fixtures.backtest import DAYS, LOSS_DAYS, backtest_history


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


def binomial_cdf_by_hand(x: int, n: int, p: float) -> float:
    """Σ_{k=0..x} C(n, k) p^k (1 − p)^(n − k), term by term: t_0 = (1 − p)^n, then
    t_k = t_{k−1} × (n − k + 1) / k × p / (1 − p) (the ratio of two binomial terms)."""
    term = (1 - p) ** n
    total = term
    for k in range(1, x + 1):
        term *= (n - k + 1) / k * p / (1 - p)
        total += term
    return total


@pytest.mark.parametrize(
    ("exceptions", "observations", "confidence", "cdf", "zone"),
    [
        # 95% on 250 days, 11 exceptions (12.5 expected): t_0 = 0.95^250 = 0.000003, then
        # 0.000035, 0.000233, 0.001012, 0.003288, 0.008515, 0.018299, 0.033572, 0.053671,
        # 0.075955, 0.096343, 0.110633: P = 0.401558 < 0.95, green.
        (11, 250, 0.95, 0.401558, "green"),
        # 99% on 100 days, 3 exceptions: 0.99^100 = 0.366032; 100 × 0.01 × 0.99^99 =
        # 0.369730; 4,950 × 0.01² × 0.99^98 = 0.184865; 161,700 × 0.01³ × 0.99^97 =
        # 0.060999: P = 0.981626, at least 0.95 and below 0.9999, yellow (the 250-day
        # table would say green).
        (3, 100, 0.99, 0.981626, "yellow"),
        # 99% on 250 days: 0.99^250 = 0.081059, then 0.204693, 0.257417, 0.214948,
        # 0.134071 (k = 4): P = 0.892188, green.
        (4, 250, 0.99, 0.892188, "green"),
        # ... + 0.066629 (k = 5): P = 0.958817, yellow.
        (5, 250, 0.99, 0.958817, "yellow"),
        # ... + 0.027482, 0.009676, 0.002969, 0.000806 (k = 9): P = 0.999750, yellow.
        (9, 250, 0.99, 0.999750, "yellow"),
        # ... + 0.000196 (k = 10): P = 0.999946 ≥ 0.9999, red.
        (10, 250, 0.99, 0.999946, "red"),
    ],
)
def test_the_traffic_light_is_the_binomial_rule(
    exceptions: int, observations: int, confidence: float, cdf: float, zone: str
) -> None:
    p = round(1 - confidence, 12)
    assert binomial_cdf_by_hand(exceptions, observations, p) == pytest.approx(cdf, abs=1e-6)
    assert engine.binomial_cdf(exceptions, observations, p) == pytest.approx(cdf, abs=1e-6)
    assert engine.traffic_light(exceptions, observations, confidence) == zone


def test_the_traffic_light_is_of_the_confidence_asked(history: Any, api_client_for: Any) -> None:
    """The 6 exceptions of the history at 95% (12.5 expected): t_0 … t_6 = 0.000003,
    0.000035, 0.000233, 0.001012, 0.003288, 0.008515, 0.018299, P = 0.031385: green, where
    the 99% zone of the same days is yellow."""
    assert binomial_cdf_by_hand(6, 250, 0.05) == pytest.approx(0.031385, abs=1e-6)
    body = api_client_for("viewer").get("/api/risk/backtest/", {"confidence": "0.95"}).json()
    assert (body["observations"], body["exceptions"]) == (250, 6)
    assert (body["traffic_light"], body["traffic_light_days"]) == ("green", 250)


def test_fewer_than_250_observations_are_judged_on_what_there_is(
    db: None, api_client_for: Any
) -> None:
    """100 snapshots, 3 exceptions at 99%: P = 0.981626 on 100 days (above), yellow."""
    backtest_history({10, 40, 70}, days=DAYS[-101:])
    body = api_client_for("viewer").get("/api/risk/backtest/").json()
    assert (body["observations"], body["exceptions"]) == (100, 3)
    assert (body["traffic_light"], body["traffic_light_days"]) == ("yellow", 100)


def test_kupiec_without_exceptions() -> None:
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
