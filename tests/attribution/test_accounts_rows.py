"""Attribution's accounts rows, CASH, MANAGEMENT_FEE and PERFORMANCE_FEE, and the
performance net and gross of fees (DESIGN.md "The fund's accounts", API.md
`/api/attribution/` and `/api/performance/?basis=`), on the fund of
tests/fixtures/attribution_fund.py given terms, a CDI series and one more day, every
figure worked out by hand below.

Terms from D0: management fee a = 2.52% a year (a / 252 = 0.0001 a day, on the capital at
the start of the day), performance fee p = 20% over 100% of the CDI, cash at 100% of the
CDI; no payment in March. CDI: 0.0004 on D0, D1, D2; 0.0005 on D3 and D4 = Mon Mar 18.
The tests live on D4's evening. Both futures are margined, so the cash is the whole
capital: cash_t = S_t = NAV_{t−1} + flow_t. Positions' P&L (the fixture's, and D4: ESH4
5080 → 5000, 1 × −80 × 50 × 5.05 = −20,200.00 for MACRO; INDJ24 102,000 → 101,000,
10 × −1,000 = −10,000.00 for RV):

      MACRO      RV        positions
  D0  0          0         0
  D1  25,500     10,000    35,500
  D2  24,500     −5,000    19,500
  D3  −4,800     15,000    10,200
  D4  −20,200    −10,000   −30,200

The accounts, day by day (carry = cents(S × CDI), mgmt = cents(S × 0.0001), hurdle quota
H_t = H_{t−1} × (1 + CDI_t) from H = Q0 = 1, G = NAV_{t−1} + P̂_{t−1} + flow + positions +
carry − mgmt, PF = cents(0.2 × max(0, G − U × H)), NAV = G − PF, pf = PF − P̂_{t−1}):
  D0  flow 10,000,000 at Q0 = 1: U = 10,000,000 units. S = 10,000,000.00;
      carry 4,000.00; mgmt 1,000.00; H = 1.0004; G = 10,003,000.00 < U × H = 10,004,000:
      PF 0.00; NAV 10,003,000.00; quota 1.00030000; P&L 4,000 − 1,000 = 3,000.00.
  D1  S = 10,003,000.00; carry cents(4,001.20) = 4,001.20; mgmt cents(1,000.30) =
      1,000.30; H = 1.0004² = 1.00080016; G = 10,003,000 + 35,500 + 4,001.20 − 1,000.30 =
      10,041,500.90; U × H = 10,008,001.60; PF = cents(0.2 × 33,499.30) = 6,699.86;
      NAV 10,034,801.04; quota 1.00348010; pf 6,699.86;
      P&L 35,500 + 4,001.20 − 1,000.30 − 6,699.86 = 31,801.04.
  D2  flow 1,000,000 at 1.00348010: 996,531.96909435 units, U = 10,996,531.96909435.
      S = 11,034,801.04; carry cents(4,413.920416) = 4,413.92; mgmt cents(1,103.480104) =
      1,103.48; H = 1.00080016 × 1.0004 = 1.001200480064; G = 10,034,801.04 + 6,699.86 +
      1,000,000 + 19,500 + 4,413.92 − 1,103.48 = 11,064,311.34; U × H = 11,009,733.0865;
      PF = cents(0.2 × 54,578.2535) = 10,915.65; NAV 11,053,395.69; pf = 10,915.65 −
      6,699.86 = 4,215.79; P&L 19,500 + 4,413.92 − 1,103.48 − 4,215.79 = 18,594.65.
  D3  S = 11,053,395.69; carry cents(5,526.697845) = 5,526.70; mgmt cents(1,105.339569) =
      1,105.34; H = 1.001200480064 × 1.0005 = 1.001701080304032; G = 11,053,395.69 +
      10,915.65 + 10,200 + 5,526.70 − 1,105.34 = 11,078,932.70; U × H = 11,015,237.9530;
      PF = cents(0.2 × 63,694.7470) = 12,738.95; NAV 11,066,193.75; pf = 12,738.95 −
      10,915.65 = 1,823.30; P&L 10,200 + 5,526.70 − 1,105.34 − 1,823.30 = 12,798.06.
  D4  S = 11,066,193.75; carry cents(5,533.096875) = 5,533.10; mgmt cents(1,106.619375) =
      1,106.62; H = 1.001701080304032 × 1.0005 = 1.002201930844184; G = 11,066,193.75 +
      12,738.95 − 30,200 + 5,533.10 − 1,106.62 = 11,053,159.18; U × H = 11,020,745.5720;
      PF = cents(0.2 × 32,413.6080) = 6,482.72; NAV 11,046,676.46; pf = 6,482.72 −
      12,738.95 = −6,256.23 (the provision given back); P&L −30,200 + 5,533.10 − 1,106.62
      + 6,256.23 = −19,517.29.
"""

import datetime as dt
import math
from decimal import Decimal as D

import pytest
import time_machine
from django.core.exceptions import ValidationError

from attribution import selectors
from ops import verification
from portfolio import services
from portfolio.models import FxRate, Instrument, PortfolioSnapshot, PositionSnapshot, Price
from tests.fixtures.attribution_fund import D0, D1, D2, D3
from tests.shown import shown_attribution

D4 = dt.date(2024, 3, 18)
AFTER_D4_CLOSE = dt.datetime(2024, 3, 18, 22, 0, tzinfo=dt.UTC)  # 19:00 in São Paulo
DAYS = (D0, D1, D2, D3, D4)
CDI = ("0.0004", "0.0004", "0.0004", "0.0005", "0.0005")
CAPITAL = (  # S_t, the capital at the start of each day
    10_000_000.00,
    10_003_000.00,
    11_034_801.04,
    11_053_395.69,
    11_066_193.75,
)
CARRY = ("4000.00", "4001.20", "4413.92", "5526.70", "5533.10")
MANAGEMENT = ("1000.00", "1000.30", "1103.48", "1105.34", "1106.62")
PERFORMANCE = ("0.00", "6699.86", "4215.79", "1823.30", "-6256.23")
NAV = ("10003000.00", "10034801.04", "11053395.69", "11066193.75", "11046676.46")
# The fund's P&L (net) and before fees (gross: the positions' + the carry), day by day.
NET = (3_000.00, 31_801.04, 18_594.65, 12_798.06, -19_517.29)
# Gross: 0 + 4,000; 35,500 + 4,001.20; 19,500 + 4,413.92; 10,200 + 5,526.70;
# −30,200 + 5,533.10.
GROSS = (4_000.00, 39_501.20, 23_913.92, 15_726.70, -24_666.90)

# Over D0–D4: CASH 4,000 + 4,001.20 + 4,413.92 + 5,526.70 + 5,533.10 = 23,474.92;
# MANAGEMENT_FEE −(1,000 + 1,000.30 + 1,103.48 + 1,105.34 + 1,106.62) = −5,315.74;
# PERFORMANCE_FEE −(0 + 6,699.86 + 4,215.79 + 1,823.30 − 6,256.23) = −6,482.72 (the
# provision at D4: nothing paid); MACRO 25,500 + 24,500 − 4,800 − 20,200 = 25,000;
# RV 10,000 − 5,000 + 15,000 − 10,000 = 10,000. The fund: 35,000 + 23,474.92 − 5,315.74
# − 6,482.72 = 46,676.46 = NAV_4 11,046,676.46 − the flows 11,000,000.
ACCOUNTS_ROWS = {"CASH": "23474.92", "MANAGEMENT_FEE": "-5315.74", "PERFORMANCE_FEE": "-6482.72"}
TOTAL = "46676.46"
POSITIONS_ROWS = {  # each dimension's rows of the positions
    "strategy": {"MACRO": "25000.00", "RV": "10000.00"},
    "asset_class": {"equity": "35000.00"},
    "instrument": {"ESH4": "25000.00", "INDJ24": "10000.00"},
    "currency": {"BRL": "10000.00", "USD": "25000.00"},
}


def compounded(pnl, capital=CAPITAL):
    """Π(1 + pnl_t / S_t) − 1."""
    return math.prod(1 + p / s for p, s in zip(pnl, capital, strict=True)) - 1


@pytest.fixture
def fund(attribution_fund, spx: Instrument, ibov: Instrument):
    with time_machine.travel(AFTER_D4_CLOSE, tick=True):
        _build(spx, ibov)
        yield


def _build(spx: Instrument, ibov: Instrument) -> None:
    Price.objects.bulk_create(
        [
            Price(instrument=spx, date=D4, price=D("5000")),
            Price(instrument=ibov, date=D4, price=D("101000")),
        ]
    )
    FxRate.objects.create(currency="USD", date=D4, rate=D("5.05"))
    services.benchmark_rates_upsert(
        rows=[
            {"benchmark": "CDI", "date": day, "rate": D(rate)}
            for day, rate in zip(DAYS, CDI, strict=True)
        ],
        actor="test",
    )
    services.fund_terms_change(
        effective_from=D0, actor="test", management_fee=D("0.0252"), performance_fee=D("0.20")
    )
    services.snapshots_build(start=D0, end=D4, actor="test")


def test_the_snapshots_hold_the_accounts_worked_out_by_hand(fund):
    stored = PortfolioSnapshot.objects.order_by("date")
    assert list(
        stored.values_list("date", "carry", "management_fee", "performance_fee", "nav")
    ) == [
        (day, D(carry), D(management), D(performance), D(nav))
        for day, carry, management, performance, nav in zip(
            DAYS, CARRY, MANAGEMENT, PERFORMANCE, NAV, strict=True
        )
    ]


def carino(pnl, capital=CAPITAL, net=NET):
    """A row's Carino-linked contribution, by DESIGN's formula: Σ_t (k_t / k) pnl_t / S_t,
    k_t = ln(1 + r_t) / r_t on the fund's (net) daily returns, k = ln(1 + R) / R."""
    returns = [p / s for p, s in zip(net, capital, strict=True)]
    total = compounded(net)
    k = math.log1p(total) / total
    return sum(math.log1p(r) / r / k * p / s for r, p, s in zip(returns, pnl, capital, strict=True))


@pytest.mark.parametrize("by", list(selectors.DIMENSIONS))
def test_rows_add_up_to_the_funds_pnl_and_return_by_every_dimension(fund, api_client_for, by):
    body = api_client_for("viewer").get("/api/attribution/", {"period": "mtd", "by": by}).json()
    assert (body["start"], body["end"], body["total_pnl"]) == ("2024-03-12", "2024-03-18", TOTAL)
    rows = {row["key"]: row for row in body["rows"]}
    # The positions' keys first, then the accounts' three rows.
    assert list(rows) == [*POSITIONS_ROWS[by], *ACCOUNTS_ROWS]
    assert {key: row["pnl"] for key, row in rows.items()} == POSITIONS_ROWS[by] | ACCOUNTS_ROWS
    assert sum(D(row["pnl"]) for row in body["rows"]) == D(TOTAL)
    # The period's return is the fund's, net of fees: the days compounded by hand.
    assert float(body["total_return"]) == pytest.approx(compounded(NET), abs=1e-14)
    linked = sum(D(row["contribution"]) for row in body["rows"])
    assert abs(linked - D(body["total_return"])) < D("1e-12")
    for key, daily in (
        ("CASH", CARRY),
        ("MANAGEMENT_FEE", [f"-{m}" for m in MANAGEMENT]),
        ("PERFORMANCE_FEE", [str(-D(p)) for p in PERFORMANCE]),
    ):
        want = carino([float(p) for p in daily])
        assert float(rows[key]["contribution"]) == pytest.approx(want, abs=1e-14), key
    if by == "currency":
        # The accounts are in base currency: none of their P&L is a currency's move, and
        # the futures are margined, so no row has any.
        assert {row["fx_pnl"] for row in body["rows"]} == {"0.00"}


def test_an_accounts_row_that_is_zero_every_day_is_left_out(fund):
    # D0 alone: the provision is 0.00 (G 10,003,000 is under U × H 10,004,000), so there is
    # no performance fee row; the carry and the management fee are there.
    day_zero = shown_attribution(selectors.period_resolve("daily", as_of=D0), "strategy")
    assert {row["key"]: row["pnl"] for row in day_zero["rows"]} == {
        "MACRO": "0.00",
        "RV": "0.00",
        "CASH": "4000.00",
        "MANAGEMENT_FEE": "-1000.00",
    }
    assert day_zero["total_pnl"] == "3000.00"  # 4,000 − 1,000


def test_a_fund_without_terms_or_cdi_has_only_its_positions_rows(attribution_fund):
    services.snapshots_build(start=D0, end=D3, actor="test")
    report = shown_attribution(selectors.period_resolve("mtd"), "instrument")
    # No CDI: the cash earned nothing; no terms: no fees. 45,200 + 20,000 = 65,200.
    assert [(row["key"], row["pnl"]) for row in report["rows"]] == [
        ("ESH4", "45200.00"),
        ("INDJ24", "20000.00"),
    ]
    assert report["total_pnl"] == "65200.00"


def test_gross_return_is_above_net_by_the_fees(fund, api_client_for):
    viewer = api_client_for("viewer")
    net = viewer.get("/api/performance/").json()
    gross = viewer.get("/api/performance/", {"basis": "gross"}).json()
    assert (net["basis"], gross["basis"]) == ("net", "gross")
    assert (net["start"], net["end"], net["days"]) == ("2024-03-12", "2024-03-18", 5)
    # Gross: the positions' 35,000 and the carry 23,474.92 = 58,474.92; net 46,676.46,
    # below it by the fees 5,315.74 + 6,482.72 = 11,798.46.
    assert (gross["pnl"], net["pnl"]) == ("58474.92", TOTAL)
    assert D(gross["pnl"]) - D(net["pnl"]) == D("11798.46")
    # Each basis compounds its own days over the same capital.
    assert float(net["return"]) == pytest.approx(compounded(NET), abs=1e-14)
    assert float(gross["return"]) == pytest.approx(compounded(GROSS), abs=1e-14)
    assert float(gross["return"]) > float(net["return"])
    # 1 + R (net) is the quota's move within its rounding: 1.00456003 at D4 from Q0 = 1.
    assert float(net["return"]) == pytest.approx(0.00456003, abs=1e-8)
    # The drawdown follows the basis: both peak at D3's close and fall on D4 only, by
    # that day's loss over its capital.
    for shown, loss in ((net, 19_517.29), (gross, 24_666.90)):
        drawdown = shown["max_drawdown"]
        assert (drawdown["peak"], drawdown["trough"]) == ("2024-03-15", "2024-03-18")
        assert float(drawdown["value"]) == pytest.approx(loss / 11_066_193.75, abs=1e-14)
    assert (net["worst_day"]["date"], gross["worst_day"]["date"]) == ("2024-03-18",) * 2
    # The CDI compounds the same on both: the benchmark does not move with the basis.
    assert net["benchmark_return"] == gross["benchmark_return"]
    # The strategies' rows are their P&L over the fund's capital on either basis.
    assert net["by_strategy"] == gross["by_strategy"]
    assert [(row["strategy"], row["pnl"]) for row in net["by_strategy"]] == [
        ("MACRO", "25000.00"),
        ("RV", "10000.00"),
    ]


def test_an_unknown_basis_is_a_400_naming_it(fund, api_client_for):
    answer = api_client_for("viewer").get("/api/performance/", {"basis": "foo"})
    assert answer.status_code == 400 and list(answer.data) == ["basis"], answer.data
    with pytest.raises(ValidationError) as error:
        selectors.performance_report(selectors.period_resolve("itd"), basis="foo")
    assert "basis" in error.value.message_dict


def test_the_total_is_the_funds_so_a_row_that_misses_part_of_it_shows(fund):
    # verify_system's check: the rows add up by every dimension, to one total.
    assert verification.attribution()[0] == verification.OK
    # A position's day that the fund's snapshot does not count (a snapshot edited by
    # hand): ESH4's D1 P&L 25,500.00 + 1.00. The total stays the fund's 46,676.46, and the
    # rows now add up to 46,677.46: the check fails, naming the dimension.
    PositionSnapshot.objects.filter(date=D1, instrument__symbol="ESH4").update(
        daily_pnl_base=D("25501.00")
    )
    report = selectors.attribution_report(selectors.period_resolve("mtd"), "strategy")
    assert report.total_pnl == D(TOTAL)
    assert sum(row.pnl for row in report.rows) == D("46677.46")
    status, detail = verification.attribution()
    assert status == verification.FAIL and "by strategy" in detail, detail
