"""Average cost and realized P&L, worked out by hand (DESIGN.md "Trades, positions…")."""

from decimal import Decimal as D

from portfolio.ledger import Terms, apply_trade, mark_figures

PRICE_X2 = Terms("price", D("2"), D("0"))
PRICE = Terms("price", D("1"), D("0"))
DI1 = Terms("yield", D("100000"), D("25"))


def test_long_open_then_add_averages_the_cost():
    opened = apply_trade(PRICE_X2, D("0"), D("0"), D("10"), D("100"))
    assert (opened.quantity, opened.avg_cost, opened.realized_local) == (D("10"), D("100"), D("0"))
    added = apply_trade(PRICE_X2, opened.quantity, opened.avg_cost, D("30"), D("120"))
    # (10 × 100 + 30 × 120) / 40 = 4,600 / 40 = 115
    assert (added.quantity, added.avg_cost, added.realized_local) == (D("40"), D("115"), D("0"))


def test_partial_close_of_a_long_realizes_and_keeps_the_cost():
    closed = apply_trade(PRICE_X2, D("40"), D("115"), D("-15"), D("130"))
    # −t × (p − C) × m = 15 × 15 × 2 = 450
    assert (closed.quantity, closed.avg_cost, closed.realized_local) == (
        D("25"),
        D("115"),
        D("450"),
    )
    assert not closed.crossed_zero


def test_short_then_buy_back_part_at_a_lower_price_gains():
    short = apply_trade(PRICE, D("0"), D("0"), D("-20"), D("50"))
    assert (short.quantity, short.avg_cost) == (D("-20"), D("50"))
    covered = apply_trade(PRICE, short.quantity, short.avg_cost, D("5"), D("45"))
    # −5 × (45 − 50) × 1 = 25
    assert (covered.quantity, covered.avg_cost, covered.realized_local) == (
        D("-15"),
        D("50"),
        D("25"),
    )


def test_adding_to_a_short_averages_the_cost():
    added = apply_trade(PRICE, D("-20"), D("50"), D("-30"), D("60"))
    # (−20 × 50 − 30 × 60) / −50 = −2,800 / −50 = 56
    assert (added.quantity, added.avg_cost) == (D("-50"), D("56"))


def test_crossing_zero_closes_all_and_opens_the_remainder_at_the_trade_price():
    crossed = apply_trade(PRICE, D("-15"), D("50"), D("25"), D("40"))
    # The whole short of 15 is bought back 10 lower: 150; 10 remain long at 40.
    assert crossed.crossed_zero
    assert (crossed.quantity, crossed.avg_cost, crossed.realized_local) == (
        D("10"),
        D("40"),
        D("150"),
    )


def test_closing_exactly_leaves_zero():
    closed = apply_trade(PRICE_X2, D("25"), D("115"), D("-25"), D("110"))
    # 25 × (110 − 115) × 2 = −250
    assert (closed.quantity, closed.avg_cost, closed.realized_local) == (D("0"), D("0"), D("-250"))
    assert not closed.crossed_zero


def test_yield_instrument_long_gains_when_the_yield_falls():
    reduced = apply_trade(DI1, D("100"), D("11.50"), D("-40"), D("11.30"))
    # t × dv01 × (p − C) × 100 = −40 × 25 × (−0.20) × 100 = 20,000
    assert (reduced.quantity, reduced.avg_cost, reduced.realized_local) == (
        D("60"),
        D("11.50"),
        D("20000"),
    )
    figures = mark_figures(DI1, D("60"), D("11.50"), D("11.20"), D("1"))
    # −q × dv01 × (y − C) × 100 = −60 × 25 × (−0.30) × 100 = 45,000; notional 60 × 100,000
    assert figures.unrealized_pnl_base == D("45000.00")
    assert figures.market_value_base == D("45000.00")
    assert figures.notional_base == D("6000000.00")
    assert figures.dv01_base == D("1500.00")


def test_yield_short_crossing_zero():
    crossed = apply_trade(DI1, D("-10"), D("12.00"), D("30"), D("12.10"))
    # A short gains when the yield rises: −(−10) × 25 × (12.10 − 12.00) × 100 = 2,500
    assert crossed.crossed_zero
    assert (crossed.quantity, crossed.avg_cost, crossed.realized_local) == (
        D("20"),
        D("12.10"),
        D("2500"),
    )


def test_price_figures_in_a_foreign_currency_round_to_the_cent_once():
    figures = mark_figures(
        Terms("price", D("50"), D("0")), D("3"), D("5000.333"), D("5010.10"), D("4.98765")
    )
    # notional 751,515 × 4.98765 = 3,757,575 − 9,281.21025 = 3,748,293.78975
    assert figures.notional_base == D("3748293.79")
    # unrealized 3 × 9.767 × 50 = 1,465.05; × 4.98765 = 7,325.25 − 18.0933675 = 7,307.1566325
    assert figures.unrealized_pnl_base == D("7307.16")


def test_a_short_without_dv01_has_a_dv01_of_zero_cents_not_minus_zero():
    figures = mark_figures(PRICE_X2, D("-7"), D("100"), D("101.25"), D("4.95"))
    # −7 × 101.25 × 2 × 4.95 = −7,016.625 → −7,016.63; −7 × 1.25 × 2 × 4.95 = −86.625 → −86.63
    assert (figures.notional_base, figures.unrealized_pnl_base) == (D("-7016.63"), D("-86.63"))
    assert str(figures.dv01_base) == "0.00"
    # A yield instrument's DV01 in base: −7 × 25 × 4.95 = −866.25
    assert mark_figures(DI1, D("-7"), D("11.30"), D("11.25"), D("4.95")).dv01_base == D("-866.25")
