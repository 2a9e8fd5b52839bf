"""Risk decomposition (DESIGN.md "Risk decomposition"): component VaR worked out by hand,
adding up to VaR, and the API on the risk tests' book.

By hand: 4 positions in 4 instruments, exposures e = (100, 200, −50, 300) (price positions:
P&L = e × move), 20 scenarios. Every move is +0.001 except
    scenario 3:  (−0.10, −0.05, +0.02, −0.01)  → S = −10 − 10 − 1 − 3 = −24
    scenario 7:  (−0.02, −0.04, −0.04, −0.02)  → S = −2 − 8 + 2 − 6  = −14
    the others: S = 0.1 + 0.2 − 0.05 + 0.3 = 0.55.
VaR 95%: h = (20 − 1) × 0.05 = 0.95, between the lowest (scenario 3, weight 0.05) and the
second lowest (scenario 7, weight 0.95): VaR = −(0.05 × −24 + 0.95 × −14) = 1.2 + 13.3 = 14.5.
Components −(0.05 × P&L_3 + 0.95 × P&L_7):
    position 0: −(0.05 × −10 + 0.95 × −2) = 0.5 + 1.9  =  2.40
    position 1: −(0.05 × −10 + 0.95 × −8) = 0.5 + 7.6  =  8.10
    position 2: −(0.05 × −1 + 0.95 × +2)  = 0.05 − 1.9 = −1.85
    position 3: −(0.05 × −3 + 0.95 × −6)  = 0.15 + 5.7 =  5.85     sum 14.50
Strategies A = positions 0, 1 and B = 2, 3. Incremental VaR is the VaR minus the VaR
without the strategy (Jorion: positive when the strategy adds risk). Without A, S is −4 in
scenarios 3 and 7 and +0.25 elsewhere: VaR −(0.05 × −4 + 0.95 × −4) = 4, incremental
14.5 − 4 = +10.5. Without B, S is −20, −10 and 0.3: VaR 0.05 × 20 + 0.95 × 10 = 10.5,
incremental 14.5 − 10.5 = +4. Both add risk: each makes the book's VaR larger.
"""

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from risk import engine

MOVES = np.full((20, 4), 0.001)
MOVES[3] = [-0.10, -0.05, 0.02, -0.01]
MOVES[7] = [-0.02, -0.04, -0.04, -0.02]
EXPOSURE = np.array([100.0, 200.0, -50.0, 300.0])
COLUMN = np.arange(4)


def test_component_var_by_hand() -> None:
    scenarios, weights = engine.var_scenarios(MOVES @ EXPOSURE, 0.95)
    assert scenarios.tolist() == [3, 7] and weights == pytest.approx([0.05, 0.95])
    var, components = engine.component_var(MOVES, COLUMN, EXPOSURE, 0.95)
    assert var == pytest.approx(14.5) == engine.historical_var(MOVES @ EXPOSURE, 0.95)
    assert components == pytest.approx([2.40, 8.10, -1.85, 5.85])
    assert components.sum() == pytest.approx(var, abs=1e-12)
    cents = engine.cents_adding_up(components, var)
    assert cents.tolist() == [240, 810, -185, 585] and cents.sum() == 1450
    shares = cents / 1450
    assert shares == pytest.approx([0.165517, 0.558621, -0.127586, 0.403448], abs=1e-6)


def test_incremental_var_is_the_var_minus_the_var_without_the_strategy() -> None:
    groups, incremental = engine.incremental_var(
        MOVES, COLUMN, EXPOSURE, np.array(["A", "A", "B", "B"]), 0.95
    )
    assert groups.tolist() == ["A", "B"]
    assert incremental == pytest.approx([10.5, 4.0])
    without_a = engine.historical_var(MOVES[:, 2:] @ EXPOSURE[2:], 0.95)
    assert incremental[0] == pytest.approx(14.5 - without_a)


def test_a_hedge_has_a_negative_incremental_var() -> None:
    """Strategy L holds +100 of instrument 0, strategy H −50 of it (a half hedge). The book
    is +50: S = −5 (scenario 3), −1 (scenario 7), +0.05 elsewhere, VaR 0.05 × 5 + 0.95 × 1
    = 1.2. Without H (+100): VaR 0.05 × 10 + 0.95 × 2 = 2.4, so H's incremental VaR is
    1.2 − 2.4 = −1.2 (it takes risk away). Without L (−50): S = +5, +1 and −0.05 in the 18
    other scenarios, the two lowest both −0.05: VaR 0.05, L's incremental 1.2 − 0.05 = 1.15."""
    groups, incremental = engine.incremental_var(
        MOVES[:, :1], np.array([0, 0]), np.array([100.0, -50.0]), np.array(["L", "H"]), 0.95
    )
    assert groups.tolist() == ["H", "L"]
    assert incremental == pytest.approx([-1.2, 1.15])


def test_rounded_components_still_add_up() -> None:
    # Three equal thirds of 1.00: 0.34 + 0.33 + 0.33, the leftover cent to one of them.
    assert engine.cents_adding_up(np.array([1, 1, 1]) / 3, 1.0).tolist() == [34, 33, 33]
    # Two positions in one column (strategies sharing an instrument) each keep their part.
    var, components = engine.component_var(
        MOVES[:, :1], np.array([0, 0]), np.array([60.0, 40.0]), 0.95
    )
    assert var == pytest.approx(-(0.05 * -10 + 0.95 * -2)) and components == pytest.approx(
        [0.6 * var, 0.4 * var]
    )


def test_the_api_adds_up_to_the_live_var(book: Any, api_client_for: Any) -> None:
    client = api_client_for("viewer")
    live = client.get("/api/risk/live/?window=20").json()
    for by in ("position", "strategy", "asset_class", "currency"):
        answer = client.get("/api/risk/decomposition/", {"by": by, "window": 20})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["var"] == live["var"]["0.99"] and body["confidence"] == 0.99
        assert sum(Decimal(r["component_var"]) for r in body["rows"]) == Decimal(body["var"])
        shares = [Decimal(r["component_var"]) / Decimal(body["var"]) for r in body["rows"]]
        assert [Decimal(r["share"]) for r in body["rows"]] == [
            s.quantize(Decimal("0.000001")) for s in shares
        ]
    positions = client.get("/api/risk/decomposition/?window=20").json()
    assert {r["key"] for r in positions["rows"]} == {
        "INDJ24/MACRO",
        "ESH4/MACRO",
        "ESH4/RV",
        "USDBRL/MACRO",
        "DI1F27/MACRO",
    }
    assert [r["strategy"] for r in positions["incremental"]] == ["MACRO", "RV"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"by": "desk"}, "by"),
        ({"confidence": "1"}, "confidence"),
        ({"confidence": "0.5"}, "confidence"),
        ({"confidence": "nan"}, "confidence"),
        ({"window": "5"}, "window"),
    ],
)
def test_bad_queries_are_400_naming_the_field(
    book: Any, api_client_for: Any, query: dict[str, str], field: str
) -> None:
    answer = api_client_for("viewer").get("/api/risk/decomposition/", query)
    assert answer.status_code == 400 and field in answer.json(), answer.content
