"""The risk engine on small arrays whose answers are worked out by hand."""

from typing import Any

import numpy as np
import pytest

from risk import engine

S = np.array([2.0, -3.0, 4.0, -5.0, 0.0, -1.0])  # sorted: -5, -3, -1, 0, 2, 4


def test_historical_var_and_es_at_a_sample_point() -> None:
    # a = 0.8: quantile(S, 0.2) at h = (6 − 1) × 0.2 = 1.0 → the 2nd smallest, −3.
    assert engine.historical_var(S, 0.8) == pytest.approx(3.0)
    # ES: the mean of the scenarios at or below −3: (−5 − 3) / 2 = −4.
    assert engine.historical_es(S, 0.8) == pytest.approx(4.0)


def test_historical_var_interpolates_linearly() -> None:
    # a = 0.9: h = 5 × 0.1 = 0.5 → −5 + 0.5 × (−3 − (−5)) = −4. Only −5 is at or below −4.
    assert engine.historical_var(S, 0.9) == pytest.approx(4.0)
    assert engine.historical_es(S, 0.9) == pytest.approx(5.0)


def test_parametric_var_and_es_are_normal() -> None:
    # mean −0.5; squares of deviations 6.25+6.25+20.25+20.25+0.25+0.25 = 53.5; /5 = 10.7.
    sigma = 10.7**0.5
    result = engine.var_es(S, "parametric", [0.95, 0.99])
    assert result.var[0.95] == pytest.approx(1.6448536269514722 * sigma)
    assert result.var[0.99] == pytest.approx(2.3263478740408408 * sigma)
    # ES = σ φ(z)/(1 − a); φ(1.6448536) = 0.10313564037537.
    assert result.expected_shortfall[0.95] == pytest.approx(sigma * 0.10313564037537 / 0.05)


def test_ewma_weights_the_latest_scenario_most() -> None:
    # Two scenarios [1, 2]: weights λ on the older, 1 on the latest.
    # σ² = (0.94 × 1 + 1 × 4) / 1.94 = 2.5463917525…
    assert engine.ewma_std(np.array([1.0, 2.0])) == pytest.approx((4.94 / 1.94) ** 0.5)
    result = engine.var_es(np.array([1.0, 2.0]), "ewma", [0.99])
    assert result.var[0.99] == pytest.approx(2.3263478740408408 * (4.94 / 1.94) ** 0.5)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown method 'monte_carlo'"):
        engine.var_es(S, "monte_carlo", [0.95])


def test_moves_are_returns_for_prices_and_bp_for_yields() -> None:
    levels = np.array([[100.0, 10.50], [110.0, 10.45], [99.0, 10.60]])
    moves = engine.instrument_moves(levels, np.array([False, True]))
    # 110/100 − 1 = 0.10; 99/110 − 1 = −0.10; (10.45 − 10.50) × 100 = −5 bp; then +15 bp.
    np.testing.assert_allclose(moves, [[0.10, -5.0], [-0.10, 15.0]])


def test_scenario_pnl_sums_positions_on_the_same_instrument() -> None:
    # Two positions on column 0 (notional 1,000 and −400), one yield position on column 1
    # with DV01 −30 per bp, so exposure +30 per bp.
    exposure = engine.position_exposure(
        np.array([1000.0, -400.0, 0.0]), np.array([0.0, 0.0, -30.0]), np.array([0, 0, 1], bool)
    )
    by_column = engine.column_exposure(np.array([0, 0, 1]), exposure, 2)
    np.testing.assert_allclose(by_column, [600.0, 30.0])
    moves = np.array([[0.10, -5.0], [-0.10, 15.0]])
    # 600 × 0.10 + 30 × (−5) = −90; 600 × (−0.10) + 30 × 15 = 390.
    np.testing.assert_allclose(engine.scenario_pnl(moves, by_column), [-90.0, 390.0])


def test_carried_levels_fill_gaps_up_to_the_limit() -> None:
    # Column 0 quoted on rows 0 and 2 (twice on row 2: the later quote wins); column 1 from
    # row 1 only.
    rows = np.array([0, 1, 2, 2, 3])
    columns = np.array([0, 1, 0, 0, 1])
    values = np.array([1.0, 5.0, 2.0, 3.0, 6.0])
    days = np.array([0, 1, 2, 3, 4])
    levels, complete, unbroken = engine.carried_levels(rows, columns, values, (4, 2), 1, days)
    np.testing.assert_allclose(levels[:, 0], [1.0, 1.0, 3.0, 3.0])
    np.testing.assert_allclose(levels[1:, 1], [5.0, 5.0, 6.0])
    assert np.isnan(levels[0, 1])
    assert complete.tolist() == [True, False]  # column 1 has no level on row 0
    assert unbroken.tolist() == [True, True]  # ... but none is missing since its first
    _, strict, strict_unbroken = engine.carried_levels(rows, columns, values, (4, 2), 0, days)
    assert strict.tolist() == [False, False]
    assert strict_unbroken.tolist() == [False, False]  # both carry a row: gaps
    # The latest date wins wherever it comes: here the first of the two quotes on row 2.
    dated, _, _ = engine.carried_levels(rows, columns, values, (4, 2), 1, np.array([0, 1, 9, 8, 3]))
    np.testing.assert_allclose(dated[:, 0], [1.0, 1.0, 2.0, 2.0])


def test_shocks_add_up_and_currency_shocks_skip_yields() -> None:
    shocks = [
        engine.Shock("asset_class", "equity", -0.10),
        engine.Shock("currency", "USD", 0.05),
        engine.Shock("instrument", "DI1F27", 100.0),
        engine.Shock("asset_class", "rates", 50.0, quote_type="yield"),
    ]
    moves = engine.shock_vector(
        shocks,
        instrument=np.array(["ESH4", "DI1F27", "TYM4", "USD_SOFR"]),
        asset_class=np.array(["equity", "rates", "rates", "rates"]),
        currency=np.array(["USD", "BRL", "USD", "USD"]),
        is_yield=np.array([False, True, False, True]),
    )
    # ESH4: −10% + 5%; DI1F27: 100 + 50 bp; TYM4 (price, rates): only the USD move;
    # USD_SOFR (yield): 50 bp, the currency shock does not move yield instruments.
    np.testing.assert_allclose(moves, [-0.05, 150.0, 0.05, 50.0])


def test_exposures_in_cents_are_exact() -> None:
    notional = np.array([101_500_000, -123_747_000, 50_100_000, -1_000_000_000], dtype=np.int64)
    dv01 = np.array([0, 0, 0, -250_000], dtype=np.int64)
    result = engine.exposures(
        notional,
        dv01,
        asset_class=np.array(["equity", "equity", "fx", "rates"]),
        currency=np.array(["BRL", "USD", "BRL", "BRL"]),
        strategy=np.array(["A", "B", "A", "A"]),
    )
    total = result.total
    assert (total.long, total.short) == (151_600_000, -1_123_747_000)
    assert (total.gross, total.net) == (1_275_347_000, -972_147_000)

    def gross_net(groups: dict[str, Any]) -> dict[str, tuple[int, int]]:
        return {key: (e.gross, e.net) for key, e in groups.items()}

    assert gross_net(result.by_asset_class)["equity"] == (225_247_000, -22_247_000)
    assert gross_net(result.by_currency)["BRL"] == (1_151_600_000, -848_400_000)
    assert gross_net(result.by_strategy) == {
        "A": (1_151_600_000, -848_400_000),
        "B": (123_747_000, -123_747_000),
    }
    assert result.dv01_by_currency == {"BRL": -250_000}
    assert engine.top_concentrations(notional, 2).tolist() == [3, 1]


def test_borrowed_moves_take_the_first_donor_with_a_move_each_day() -> None:
    nan = np.nan
    own = np.array([nan, nan, nan, 4.0])
    donors = np.column_stack([[nan, 2.0, nan, 9.0], [1.0, 7.0, nan, 9.0]])  # nearest first
    # Day 0: only the second donor moved; day 1: the nearest did; day 2: none did; day 3:
    # its own move.
    np.testing.assert_array_equal(engine.borrowed_moves(own, donors), [1.0, 2.0, nan, 4.0])


def test_tenor_buckets_by_years_to_maturity() -> None:
    # τ = n / 252: 126 days is 0.5 (≤ 6 m), 127 the 1 y bucket, 252 × 10 is 10 y, one more
    # day beyond it > 10 y; an undated instrument is in `no maturity` whatever its days.
    days = np.array([20, 126, 127, 252, 253, 1260, 2520, 2521, 0])
    dated = np.array([True] * 8 + [False])
    labels = [engine.TENOR_BUCKETS[i] for i in engine.tenor_bucket(days, dated)]
    assert labels == ["≤ 6 m", "≤ 6 m", "1 y", "1 y", "2 y", "5 y", "10 y", "> 10 y", "no maturity"]
    buckets = engine.tenor_bucket(days, dated)
    dv01 = np.array([100, -50, 7, 0, 0, 0, 0, 0, -25], dtype=np.int64)
    rows = engine.dv01_by_tenor(buckets, dv01)
    assert rows == [("≤ 6 m", 50), ("1 y", 7), ("no maturity", -25)]
    assert sum(value for _, value in rows) == int(dv01.sum())
