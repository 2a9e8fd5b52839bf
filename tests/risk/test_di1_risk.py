"""DI1 in risk (DESIGN.md "Dated instruments and DI1 futures"): full revaluation of the PU
in VaR, stress and the what-if, DV01 from the PU, the root chain's history for a young
contract, and DV01 by tenor (in the report and as a limit's scope).

The PU is written out here as B3 defines it, PU(y, n) = 100000 / (1 + y/100)^(n/252), not
read from `portfolio.di1`, so each figure is checked against the formula itself."""

import datetime as dt
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest

from core.calendar import anbima_days, business_days_ending
from portfolio import di1, services
from portfolio.models import Instrument, Price
from risk.engine import Shock
from risk.models import RiskLimit
from risk.selectors import WhatIf, decomposition, risk_compute, stress_run
from tests.conftest import TODAY
from tests.factories import Di1Factory, InstrumentFactory, StrategyFactory
from tests.shown import shown_risk

CENT = Decimal("0.01")


def pu(rate: Any, days: int) -> Any:
    """B3's unit price, unrounded: of Decimals in Decimal, of numpy floats in floats."""
    years = Decimal(days) / 252 if isinstance(rate, Decimal) else days / 252
    return 100000 / (1 + rate / 100) ** years


def rate(k: int) -> Decimal:
    """A zig-zag curve point: 10.40 + 0.03 × ((7k mod 11) − 5), in percent a year."""
    return Decimal("10.40") + Decimal("0.03") * ((7 * k) % 11 - 5)


def contract(symbol: str, maturity: dt.date, root: str = "DI1") -> Instrument:
    return Di1Factory.create(symbol=symbol, maturity=maturity, root=root)


def quote(instrument: Instrument, days: list[dt.date], rates: list[Decimal]) -> None:
    Price.objects.bulk_create(
        Price(instrument=instrument, date=day, price=value)
        for day, value in zip(days, rates, strict=True)
    )


def hold(*positions: tuple[str, str]) -> None:
    """Book each (symbol, quantity) for MACRO on TODAY at its close, and mark the book."""
    StrategyFactory.create(code="MACRO")
    services.capital_flow_create(date=TODAY, amount=Decimal("10000000"), note="c", actor="t")
    closes = dict(Price.objects.filter(date=TODAY).values_list("instrument__symbol", "price"))
    services.trades_book(
        requests=[
            services.TradeRequest(
                instrument=symbol,
                strategy="MACRO",
                quantity=Decimal(quantity),
                price=closes[symbol],
                trade_date=TODAY,
            )
            for symbol, quantity in positions
        ],
        actor="t",
        source="api",
    )
    services.mark_to_market(as_of=TODAY, actor="t")


@pytest.fixture
def short_f27(db: None) -> dict[str, Any]:
    """Short 100 DI1F27 (maturity 2027-01-04, n = 703 business days from TODAY) over 21
    days of the zig-zag curve; its close today is rate(20) = 10.40 + 0.03 × (8 − 5) = 10.49."""
    days = business_days_ending(TODAY, 21)
    f27 = contract("DI1F27", dt.date(2027, 1, 4))
    rates = [rate(k) for k in range(21)]
    quote(f27, days, rates)
    hold(("DI1F27", "-100"))
    n = int(anbima_days(TODAY, f27.maturity))
    assert n == 703 and rates[-1] == Decimal("10.49")
    y = np.array([float(r) for r in rates])
    # Full revaluation of each day's move: −100 × (PU(10.49 + Δy_k) − PU(10.49)).
    pnl = -100 * (pu(y[-1] + np.diff(y), n) - pu(y[-1], n))
    return {"n": n, "rates": rates, "days": days, "pnl": pnl}


def test_var_revalues_a_di1_in_full(short_f27: dict[str, Any]) -> None:
    pnl = short_f27["pnl"]
    risk = risk_compute(window=20)
    np.testing.assert_allclose(risk.pnl, pnl, rtol=1e-12)
    assert risk.figures is not None
    var_95, var_99 = -np.quantile(pnl, 0.05), -np.quantile(pnl, 0.01)
    assert risk.figures.var[0.95] == pytest.approx(var_95, rel=1e-12)
    assert risk.figures.var[0.99] == pytest.approx(var_99, rel=1e-12)
    es_95 = -pnl[pnl <= -var_95].mean()
    assert risk.figures.expected_shortfall[0.95] == pytest.approx(es_95, rel=1e-12)
    report = shown_risk(window=20)
    assert report["var"]["0.95"] == str(Decimal(repr(float(var_95))).quantize(CENT))
    # Parametric: z × std(S, ddof = 1) of the same scenarios.
    parametric = risk_compute(window=20, method="parametric").figures
    assert parametric is not None
    z = NormalDist().inv_cdf(0.99)
    assert parametric.var[0.99] == pytest.approx(z * np.std(pnl, ddof=1), rel=1e-12)
    # Decomposition: one position, so its component is the whole historical VaR 99%.
    split = decomposition(by="position", confidence=0.99, window=20)
    assert [row.component_var for row in split.rows] == [split.var]
    assert split.var == Decimal(repr(float(var_99))).quantize(CENT)


def test_the_di1_dv01_per_contract_by_hand(db: None) -> None:
    # At 10% a year and 252 business days (one year) to maturity:
    #   PU(10.00) = 100000 / 1.10   = 90909.090909…
    #   PU(9.99)  = 100000 / 1.0999 = 90917.356123…
    #   DV01 = 100000 × (1/1.0999 − 1/1.10) = 100000 × 0.0001 / (1.0999 × 1.10)
    #        = 10 / 1.20989 = 8.265214… BRL per bp per contract
    dv01 = di1.dv01_per_contract(Decimal("10"), 252)
    assert dv01.quantize(Decimal("0.000001")) == Decimal("8.265214")
    assert dv01 == pytest.approx(Decimal(10) / Decimal("1.20989"), rel=Decimal("1e-20"))
    # A book short 100 of a contract 252 national business days away (2025-03-17), at 10%:
    # DV01 −100 × 8.265214 = −826.5214 → −826.52 per bp; its notional −100 × the settlement
    # PU, PU(10.00) to the cent: −100 × 90909.09 = −9,090,909.00.
    f25 = contract("DI1H25", dt.date(2025, 3, 17))
    assert anbima_days(TODAY, f25.maturity) == 252
    quote(f25, [TODAY], [Decimal("10.00")])
    hold(("DI1H25", "-100"))
    report = shown_risk(window=20)
    assert report["dv01_by_currency"] == {"BRL": "-826.52"}
    assert report["exposures"]["net"] == "-9090909.00"


def test_a_young_contract_borrows_its_root_chain(db: None) -> None:
    """DI1F26 has 5 returns of its own (6 closes); the window is 60. Its root's older
    contracts fill the 55 days before: DI1N25 (maturing 2025-07-01, the nearest before it)
    from the day it is quoted (row 30), and DI1F25 (2025-01-02) before that."""
    days = business_days_ending(TODAY, 61)
    f25, n25 = contract("DI1F25", dt.date(2025, 1, 2)), contract("DI1N25", dt.date(2025, 7, 1))
    f26 = contract("DI1F26", dt.date(2026, 1, 2))
    curve = {"F25": [rate(k) for k in range(61)], "N25": [rate(k + 3) for k in range(61)]}
    quote(f25, days, curve["F25"])
    quote(n25, days[30:], curve["N25"][30:])
    own = [rate(k + 5) + Decimal("0.20") for k in range(55, 61)]
    quote(f26, days[55:], own)
    hold(("DI1F26", "-50"))

    risk = risk_compute(window=60)
    assert risk.window_used == 60 and risk.missing_history == [] and risk.figures is not None
    # The bp moves DI1F26 is revalued under: F25's on rows 0-29 (N25 has no move before
    # row 30: its first close is on row 30), N25's on rows 30-54, its own on rows 55-59.
    bp = np.concatenate(
        [
            np.diff([float(r) for r in curve["F25"][:31]]),
            np.diff([float(r) for r in curve["N25"][30:56]]),
            np.diff([float(r) for r in own]),
        ]
    )
    n = int(anbima_days(TODAY, f26.maturity))
    y = float(own[-1])
    np.testing.assert_allclose(risk.pnl, -50 * (pu(y + bp, n) - pu(y, n)), rtol=1e-12)

    # Out of the chain its own 5 returns are all the history the book has: the window
    # shrinks to them, below the 20 a VaR needs.
    f26.root = ""
    f26.save()
    alone = risk_compute(window=60)
    assert alone.window_used == 5 and alone.figures is None
    assert alone.var_unavailable and alone.var_unavailable.startswith("5 daily returns")


@pytest.fixture
def curve_book(db: None, di1: Instrument) -> dict[str, Any]:
    """Long 200 of a contract 20 business days away (≤ 6 m), short 30 DI1F26 (454 days,
    τ = 1.80: the 2 y bucket), short 10 of the linear DI1F27 fixture (no maturity, DV01 25),
    long 5 of an equity (no DV01)."""
    j24, f26 = contract("DI1K24", dt.date(2024, 4, 15)), contract("DI1F26", dt.date(2026, 1, 2))
    equity = InstrumentFactory.create(symbol="BOVA11", multiplier=Decimal("1"))
    for instrument, close in ((j24, "10.40"), (f26, "10.80"), (di1, "10.50"), (equity, "120")):
        quote(instrument, [TODAY], [Decimal(close)])
    hold(("DI1K24", "200"), ("DI1F26", "-30"), ("DI1F27", "-10"), ("BOVA11", "5"))
    return {"j24": j24, "f26": f26}


def test_dv01_by_tenor_adds_up_to_the_book(curve_book: dict[str, Any]) -> None:
    assert anbima_days(TODAY, dt.date(2024, 4, 15)) == 20
    assert anbima_days(TODAY, dt.date(2026, 1, 2)) == 454  # τ = 454 / 252 = 1.80 years
    # ≤ 6 m: 200 × (PU(10.39, 20) − PU(10.40, 20)) = 200 × 0.713299 = 142.66
    short_end = 200 * (pu(Decimal("10.39"), 20) - pu(Decimal("10.40"), 20))
    assert short_end.quantize(CENT) == Decimal("142.66")
    # 2 y: −30 × (PU(10.79, 454) − PU(10.80, 454))
    two_years = -30 * (pu(Decimal("10.79"), 454) - pu(Decimal("10.80"), 454))
    report = shown_risk(window=20)
    assert report["dv01_by_tenor"] == [
        {"bucket": "≤ 6 m", "dv01": "142.66"},
        {"bucket": "2 y", "dv01": str(two_years.quantize(CENT))},
        {"bucket": "no maturity", "dv01": "-250.00"},  # −10 × 25
    ]
    total = sum(Decimal(row["dv01"]) for row in report["dv01_by_tenor"])
    assert report["dv01_by_currency"] == {"BRL": str(total)}


def test_a_tenor_scoped_dv01_limit_breaches(
    curve_book: dict[str, Any], api_client_for: Any
) -> None:
    RiskLimit.objects.create(
        name="DV01 short end",
        metric="dv01",
        scope_type="tenor",
        scope_value="≤ 6 m",
        limit=Decimal("100"),
    )
    RiskLimit.objects.create(name="DV01 fund", metric="dv01", limit=Decimal("1000"))
    limits = {row["name"]: row for row in shown_risk(window=20)["limits"]}
    # |142.66| > 100 in its bucket; the fund's |net| is what the buckets add up to.
    assert limits["DV01 short end"]["value"] == "142.66"
    assert limits["DV01 short end"]["status"] == "breach"
    assert limits["DV01 short end"]["scope"] == "tenor:≤ 6 m"
    assert limits["DV01 fund"]["status"] == "ok"

    client = api_client_for("risk")
    body = {"name": "DV01 7y", "metric": "dv01", "scope_type": "tenor", "limit": "10"}
    unknown = client.post("/api/risk/limits/", {**body, "scope_value": "7 y"}, format="json")
    assert unknown.status_code == 400 and list(unknown.json()) == ["scope_value"]
    not_dv01 = client.post(
        "/api/risk/limits/",
        {**body, "metric": "var_95", "scope_value": "1 y"},
        format="json",
    )
    assert not_dv01.status_code == 400 and list(not_dv01.json()) == ["scope_type"]
    made = client.post("/api/risk/limits/", {**body, "scope_value": "10 y"}, format="json")
    assert made.status_code == 201, made.json()


def test_stress_revalues_a_di1_shock_in_full(short_f27: dict[str, Any]) -> None:
    n = short_f27["n"]
    # +100 bp on 10.49: −100 × (PU(11.49, 703) − PU(10.49, 703)), worked in Decimal.
    hand = -100 * (pu(Decimal("11.49"), n) - pu(Decimal("10.49"), n))
    assert hand.quantize(CENT) > 0  # short the PU: a rise in the rate gains
    result = stress_run(shocks=[Shock("instrument", "DI1F27", 100.0)])
    assert result["pnl"] == str(hand.quantize(CENT))
    by_class = stress_run(shocks=[Shock("asset_class", "rates", 100.0, "yield")])
    assert by_class["pnl"] == result["pnl"]
    # A historical window replays the rate's move between its ends at today's PU:
    # rate(0) → rate(10) is 10.40 − 0.15 → 10.40 − 0.03 (70 mod 11 = 4), +12 bp.
    days, rates = short_f27["days"], short_f27["rates"]
    assert (rates[0], rates[10]) == (Decimal("10.25"), Decimal("10.37"))
    window = stress_run(window=(days[0], days[10]))
    replayed = -100 * (pu(Decimal("10.61"), n) - pu(Decimal("10.49"), n))
    assert window["pnl"] == str(replayed.quantize(CENT))


def test_the_what_if_of_a_di1_trade_revalues_the_new_quantity(short_f27: dict[str, Any]) -> None:
    # Buying back 50 of the 100 short halves every scenario, so VaR 95% halves too.
    what_if = WhatIf(risk_compute())
    after = what_if.after(0, Decimal("50"), 0, 0)
    var_half = -np.quantile(short_f27["pnl"] / 2, 0.05)
    assert after["var_95_after"] == str(Decimal(repr(float(var_half))).quantize(CENT))
