"""The fund's accounts worked by hand (DESIGN.md "The fund's accounts: cash, fees and the
quota" and "Mark-to-market, NAV, daily P&L"): every figure below is derived in the comments
from those formulas, never read from the code's output.

Notation as DESIGN's: `S_t = NAV_{t−1} + flow_t` the start-of-day capital, `F_{t−1}` the funded
holdings' value at the previous close, `cash_t = S_t − F_{t−1}`, `c_t` the day's CDI,
`H_t = B × Π(1 + h × c_s)` the hurdle quota, `P̂` the provision carried, `paid_t` a
redemption's share of it, `G_t` the gross NAV, `PF_t` the provision at the close. Money is
rounded half up to the cent, quotas and units to 8 places; `H` is not rounded.
"""

import datetime as dt
from decimal import Decimal as D
from typing import Any, NamedTuple

import pytest
import time_machine

from core.calendar import business_days
from portfolio import services
from portfolio.accounts import Accounts, DayInputs, Flow, TermsInForce, account_day, convert
from portfolio.models import AuditRecord, CapitalFlow, PortfolioSnapshot, Trade
from tests.concurrency import at_once
from tests.factories import InstrumentFactory

# --- A 12-day fund ----------------------------------------------------------------------------
#
# Twelve B3 business days, Mon 17 Jun to Tue 2 Jul 2024; Fri 28 Jun (day 10) is the last
# business day of June, a payment date of the performance fee.
#
# Terms from day 1: Q0 = 1.00000000; management fee a = 2% a year (a/252 of S_t a day);
# performance fee p = 20% over h = 100% of the CDI, paid in June and December; cash earns
# y = 100% of the CDI; no financing spread.
# CDI: c = 0.000400 a day on days 1 to 5, 0.000420 from day 6 (the step).
# Flows: day 1 subscribes 10,000,000.00; day 2 subscribes 1,000,000 units; day 3 redeems
# 1,500,000.00.
# Holdings, both bought on day 1 (BRL, so X = 1):
#   FUT  a future (margined), 20 contracts at 125,000, multiplier 1: P&L 20 × ΔP.
#   EQ   an equity bought outright (funded), 10,000 shares at 40.00: P&L 10,000 × ΔP, and its
#        market value 10,000 × P is not cash from the next day on.
# Closes, day 1 to 12 (the positions rise, fall on days 4–6, recover on days 7–10):
#   FUT 125,500 126,000 126,200 124,000 122,500 122,000 123,500 125,000 126,500 127,000
#       126,800 127,200
#   EQ  40.50 40.80 41.00 39.50 38.20 38.00 38.90 39.60 40.40 40.70 40.50 40.60

DAYS = business_days(dt.date(2024, 6, 17), dt.date(2024, 7, 2))
# fmt: off
FUTURE_CLOSES = ["125500", "126000", "126200", "124000", "122500", "122000",
                 "123500", "125000", "126500", "127000", "126800", "127200"]
EQUITY_CLOSES = ["40.50", "40.80", "41.00", "39.50", "38.20", "38.00",
                 "38.90", "39.60", "40.40", "40.70", "40.50", "40.60"]
# fmt: on
CDI = ["0.000400"] * 5 + ["0.000420"] * 7
FLOWS: dict[int, dict[str, D]] = {
    1: {"amount": D("10000000.00")},
    2: {"units": D("1000000")},
    3: {"amount": D("-1500000.00")},
}


class Day(NamedTuple):
    """A day's figures as the fund's snapshot stores them."""

    flow: str
    positions_pnl: str
    cash: str
    carry: str
    management_fee: str
    performance_fee: str
    performance_paid: str
    performance_provision: str
    units: str
    quota: str
    nav: str


# Each day worked by hand from DESIGN's formulas.
# fmt: off
EXPECTED = [
    # Day 1, Mon 17 Jun. Subscription 10,000,000.00 at Q0 = 1: 10,000,000 units.
    #   positions: 20 × (125,500 − 125,000) + 10,000 × (40.50 − 40.00) = 10,000 + 5,000 = 15,000
    #   S = 0 + 10,000,000 = 10,000,000.00; F_0 = 0 (the equity is bought during the day)
    #   cash = 10,000,000.00; carry = 10,000,000 × 0.0004 = 4,000.00
    #   mgmt = 10,000,000 × 0.02 / 252 = 793.6507… → 793.65
    #   G = 0 + 0 − 0 + 10,000,000 + 15,000 + 4,000 − 793.65 = 10,018,206.35
    #   H = Q0 × 1.0004 = 1.0004; U × H = 10,004,000
    #   PF = 0.2 × (10,018,206.35 − 10,004,000) = 0.2 × 14,206.35 = 2,841.27; pf = 2,841.27
    #   NAV = 10,018,206.35 − 2,841.27 = 10,015,365.08; Q = NAV / U = 1.001536508 → 1.00153651
    Day("10000000.00", "15000.00", "10000000.00", "4000.00", "793.65", "2841.27", "0.00",
        "2841.27", "10000000.00000000", "1.00153651", "10015365.08"),
    # Day 2, Tue 18 Jun. 1,000,000 units at Q_1: amount 1,000,000 × 1.00153651 = 1,001,536.51.
    #   positions: 20 × 500 + 10,000 × 0.30 = 10,000 + 3,000 = 13,000
    #   S = 10,015,365.08 + 1,001,536.51 = 11,016,901.59; F_1 = 10,000 × 40.50 = 405,000
    #   cash = 10,611,901.59; carry = × 0.0004 = 4,244.760636 → 4,244.76
    #   mgmt = 11,016,901.59 × 0.02 / 252 = 874.3573 → 874.36
    #   G = 10,015,365.08 + 2,841.27 + 1,001,536.51 + 13,000 + 4,244.76 − 874.36 = 11,036,113.26
    #   H = 1.0004² = 1.00080016; U = 11,000,000; U × H = 11,008,801.76
    #   PF = 0.2 × 27,311.50 = 5,462.30; pf = 5,462.30 − 2,841.27 = 2,621.03
    #   NAV = 11,036,113.26 − 5,462.30 = 11,030,650.96; Q = 1.0027864509… → 1.00278645
    Day("1001536.51", "13000.00", "10611901.59", "4244.76", "874.36", "2621.03", "0.00",
        "5462.30", "11000000.00000000", "1.00278645", "11030650.96"),
    # Day 3, Wed 19 Jun. Redeems 1,500,000.00 at Q_2: 1,500,000 / 1.00278645 =
    #   1,495,831.9390933134… → −1,495,831.93909331 units; U = 9,504,168.06090669.
    #   paid = 5,462.30 × 1,495,831.93909331 / 11,000,000 = 742.7893… → 742.79
    #   positions: 20 × 200 + 10,000 × 0.20 = 4,000 + 2,000 = 6,000
    #   S = 11,030,650.96 − 1,500,000 = 9,530,650.96; F_2 = 408,000; cash = 9,122,650.96
    #   carry = × 0.0004 = 3,649.060384 → 3,649.06; mgmt = 9,530,650.96 × 0.02 / 252 = 756.4009
    #   → 756.40
    #   G = 11,030,650.96 + 5,462.30 − 742.79 − 1,500,000 + 6,000 + 3,649.06 − 756.40
    #     = 9,544,263.13
    #   H = 1.0004³ = 1.001200480064; U × H = 9,515,577.6251887…
    #   PF = 0.2 × 28,685.5048… = 5,737.1009… → 5,737.10; pf = 5,737.10 − (5,462.30 − 742.79)
    #   = 1,017.59
    #   NAV = 9,544,263.13 − 5,737.10 = 9,538,526.03; Q = 1.0036150422… → 1.00361504
    Day("-1500000.00", "6000.00", "9122650.96", "3649.06", "756.40", "1017.59", "742.79",
        "5737.10", "9504168.06090669", "1.00361504", "9538526.03"),
    # Day 4, Thu 20 Jun. The fall: 20 × (−2,200) + 10,000 × (−1.50) = −44,000 − 15,000 = −59,000
    #   S = 9,538,526.03; F_3 = 410,000; cash = 9,128,526.03; carry = 3,651.410412 → 3,651.41
    #   mgmt = 9,538,526.03 × 0.02 / 252 = 757.0259 → 757.03
    #   G = 9,538,526.03 + 5,737.10 − 59,000 + 3,651.41 − 757.03 = 9,488,157.51
    #   H = 1.0004⁴ = 1.0016009602560256; U × H = 9,519,383.856… > G: PF = 0.00
    #   pf = 0 − 5,737.10 = −5,737.10 (the provision is released)
    #   NAV = 9,488,157.51; Q = 0.99831541795… → 0.99831542
    Day("0.00", "-59000.00", "9128526.03", "3651.41", "757.03", "-5737.10", "0.00",
        "0.00", "9504168.06090669", "0.99831542", "9488157.51"),
    # Day 5, Fri 21 Jun. 20 × (−1,500) + 10,000 × (−1.30) = −30,000 − 13,000 = −43,000
    #   S = 9,488,157.51; F_4 = 395,000; cash = 9,093,157.51; carry = 3,637.263004 → 3,637.26
    #   mgmt = 753.02837… → 753.03
    #   G = 9,488,157.51 − 43,000 + 3,637.26 − 753.03 = 9,448,041.74
    #   H = 1.0004⁵ = 1.00200160064012801024; U × H = 9,523,191.61 > G: PF = 0, pf = 0
    #   NAV = 9,448,041.74; Q = 0.99409455719… → 0.99409456
    Day("0.00", "-43000.00", "9093157.51", "3637.26", "753.03", "0.00", "0.00",
        "0.00", "9504168.06090669", "0.99409456", "9448041.74"),
    # Day 6, Mon 24 Jun. The CDI steps to 0.00042. 20 × (−500) + 10,000 × (−0.20) = −12,000
    #   S = 9,448,041.74; F_5 = 382,000; cash = 9,066,041.74
    #   carry = 9,066,041.74 × 0.00042 = 3,807.7375308 → 3,807.74; mgmt = 749.8446 → 749.84
    #   G = 9,448,041.74 − 12,000 + 3,807.74 − 749.84 = 9,439,099.64
    #   H = 1.0004⁵ × 1.00042 = 1.0024224413…; U × H = 9,527,191.35 > G: PF = 0
    #   NAV = 9,439,099.64; Q = 0.99315369630… → 0.99315370
    Day("0.00", "-12000.00", "9066041.74", "3807.74", "749.84", "0.00", "0.00",
        "0.00", "9504168.06090669", "0.99315370", "9439099.64"),
    # Day 7, Tue 25 Jun. The recovery: 20 × 1,500 + 10,000 × 0.90 = 30,000 + 9,000 = 39,000
    #   S = 9,439,099.64; F_6 = 380,000; cash = 9,059,099.64; carry = 3,804.8218488 → 3,804.82
    #   mgmt = 9,439,099.64 × 0.02 / 252 = 749.1349 → 749.13
    #   G = 9,439,099.64 + 39,000 + 3,804.82 − 749.13 = 9,481,155.33
    #   H = 1.0004⁵ × 1.00042² = 1.0028434587…; U × H = 9,531,192.77 > G: PF = 0
    #   NAV = 9,481,155.33; Q = 0.99757866961… → 0.99757867
    Day("0.00", "39000.00", "9059099.64", "3804.82", "749.13", "0.00", "0.00",
        "0.00", "9504168.06090669", "0.99757867", "9481155.33"),
    # Day 8, Wed 26 Jun. 20 × 1,500 + 10,000 × 0.70 = 30,000 + 7,000 = 37,000
    #   S = 9,481,155.33; F_7 = 389,000; cash = 9,092,155.33; carry = 3,818.7052386 → 3,818.71
    #   mgmt = 752.4726 → 752.47
    #   G = 9,481,155.33 + 37,000 + 3,818.71 − 752.47 = 9,521,221.57
    #   H = 1.0004⁵ × 1.00042³ = 1.0032646529…; U × H = 9,535,195.87 > G: PF = 0
    #   NAV = 9,521,221.57; Q = 1.00179431897… → 1.00179432
    Day("0.00", "37000.00", "9092155.33", "3818.71", "752.47", "0.00", "0.00",
        "0.00", "9504168.06090669", "1.00179432", "9521221.57"),
    # Day 9, Thu 27 Jun. 20 × 1,500 + 10,000 × 0.80 = 30,000 + 8,000 = 38,000
    #   S = 9,521,221.57; F_8 = 396,000; cash = 9,125,221.57; carry = 3,832.5930594 → 3,832.59
    #   mgmt = 755.6525 → 755.65
    #   G = 9,521,221.57 + 38,000 + 3,832.59 − 755.65 = 9,562,298.51
    #   H = 1.0004⁵ × 1.00042⁴ = 1.0036860241…; U × H = 9,539,200.6538542…
    #   PF = 0.2 × 23,097.8561… = 4,619.5712… → 4,619.57 = pf
    #   NAV = 9,562,298.51 − 4,619.57 = 9,557,678.94; Q = 1.00563025387… → 1.00563025
    Day("0.00", "38000.00", "9125221.57", "3832.59", "755.65", "4619.57", "0.00",
        "4619.57", "9504168.06090669", "1.00563025", "9557678.94"),
    # Day 10, Fri 28 Jun: the payment date. 20 × 500 + 10,000 × 0.30 = 10,000 + 3,000 = 13,000
    #   S = 9,557,678.94; F_9 = 404,000; cash = 9,153,678.94; carry = 3,844.5451548 → 3,844.55
    #   mgmt = 758.5459 → 758.55
    #   G = 9,557,678.94 + 4,619.57 + 13,000 + 3,844.55 − 758.55 = 9,578,384.51
    #   H = 1.0004⁵ × 1.00042⁵ = 1.0041075722…; U × H = 9,543,207.1181288…
    #   PF = 0.2 × 35,177.3918… = 7,035.4783… → 7,035.48; pf = 7,035.48 − 4,619.57 = 2,415.91
    #   NAV = 9,578,384.51 − 7,035.48 = 9,571,349.03; Q = 1.00706857966… → 1.00706858
    #   PF > 0 on a payment date: the 7,035.48 are paid, P̂ = 0, B = Q_10 = 1.00706858.
    Day("0.00", "13000.00", "9153678.94", "3844.55", "758.55", "2415.91", "7035.48",
        "0.00", "9504168.06090669", "1.00706858", "9571349.03"),
    # Day 11, Mon 1 Jul. 20 × (−200) + 10,000 × (−0.20) = −4,000 − 2,000 = −6,000
    #   S = 9,571,349.03; F_10 = 407,000; cash = 9,164,349.03; carry = 3,849.0265926 → 3,849.03
    #   mgmt = 759.6309 → 759.63
    #   G = 9,571,349.03 + 0 (paid) − 6,000 + 3,849.03 − 759.63 = 9,568,438.43
    #   H = B × 1.00042 = 1.00706858 × 1.00042 = 1.0074915488036; U × H = 9,575,369.00 > G
    #   PF = 0; NAV = 9,568,438.43; Q = 1.00676233508… → 1.00676234
    Day("0.00", "-6000.00", "9164349.03", "3849.03", "759.63", "0.00", "0.00",
        "0.00", "9504168.06090669", "1.00676234", "9568438.43"),
    # Day 12, Tue 2 Jul. 20 × 400 + 10,000 × 0.10 = 8,000 + 1,000 = 9,000
    #   S = 9,568,438.43; F_11 = 405,000; cash = 9,163,438.43; carry = 3,848.6441406 → 3,848.64
    #   mgmt = 759.3999 → 759.40
    #   G = 9,568,438.43 + 9,000 + 3,848.64 − 759.40 = 9,580,527.67
    #   H = 1.00706858 × 1.00042² = 1.007914695254097512; U × H = 9,579,390.6547525…
    #   PF = 0.2 × 1,137.0152… = 227.4030… → 227.40 = pf (the hurdle from the new base B)
    #   NAV = 9,580,527.67 − 227.40 = 9,580,300.27; Q = 1.00801040223… → 1.00801040
    Day("0.00", "9000.00", "9163438.43", "3848.64", "759.40", "227.40", "0.00",
        "227.40", "9504168.06090669", "1.00801040", "9580300.27"),
]
# fmt: on

# The same days with a management fee of 3% from day 7: days 1 to 6 as above.
# fmt: off
EXPECTED_AT_3_PERCENT_FROM_DAY_7 = [
    # Day 7. S = 9,439,099.64 (day 6's NAV); cash and carry as before: 9,059,099.64, 3,804.82
    #   mgmt = 9,439,099.64 × 0.03 / 252 = 1,123.7023 → 1,123.70
    #   G = 9,439,099.64 + 39,000 + 3,804.82 − 1,123.70 = 9,480,780.76 < U × H (9,531,192.77)
    #   NAV = 9,480,780.76; Q = 0.99753925848… → 0.99753926
    Day("0.00", "39000.00", "9059099.64", "3804.82", "1123.70", "0.00", "0.00",
        "0.00", "9504168.06090669", "0.99753926", "9480780.76"),
    # Day 8. S = 9,480,780.76; cash = S − 389,000 = 9,091,780.76; carry = 3,818.5479192 → 3,818.55
    #   mgmt = 9,480,780.76 × 0.03 / 252 = 1,128.6644 → 1,128.66
    #   G = 9,480,780.76 + 37,000 + 3,818.55 − 1,128.66 = 9,520,470.65 < 9,535,195.87
    #   NAV = 9,520,470.65; Q = 1.00171530942… → 1.00171531
    Day("0.00", "37000.00", "9091780.76", "3818.55", "1128.66", "0.00", "0.00",
        "0.00", "9504168.06090669", "1.00171531", "9520470.65"),
    # Day 9. S = 9,520,470.65; cash = S − 396,000 = 9,124,470.65; carry = 3,832.277673 → 3,832.28
    #   mgmt = 1,133.3894 → 1,133.39
    #   G = 9,520,470.65 + 38,000 + 3,832.28 − 1,133.39 = 9,561,169.54
    #   PF = 0.2 × (9,561,169.54 − 9,539,200.6538542…) = 0.2 × 21,968.8861… = 4,393.78 = pf
    #   NAV = 9,556,775.76; Q = 1.00553522399… → 1.00553522
    Day("0.00", "38000.00", "9124470.65", "3832.28", "1133.39", "4393.78", "0.00",
        "4393.78", "9504168.06090669", "1.00553522", "9556775.76"),
    # Day 10, the payment date. S = 9,556,775.76; cash = S − 404,000 = 9,152,775.76
    #   carry = 3,844.1658192 → 3,844.17; mgmt = 9,556,775.76 × 0.03 / 252 = 1,137.7114 → 1,137.71
    #   G = 9,556,775.76 + 4,393.78 + 13,000 + 3,844.17 − 1,137.71 = 9,576,876.00
    #   PF = 0.2 × (9,576,876.00 − 9,543,207.1181288…) = 0.2 × 33,668.8818… = 6,733.78, paid
    #   pf = 6,733.78 − 4,393.78 = 2,340.00; NAV = 9,570,142.22; Q = 1.00694160274… → 1.00694160
    Day("0.00", "13000.00", "9152775.76", "3844.17", "1137.71", "2340.00", "6733.78",
        "0.00", "9504168.06090669", "1.00694160", "9570142.22"),
    # Day 11. S = 9,570,142.22; cash = S − 407,000 = 9,163,142.22; carry = 3,848.5197324 → 3,848.52
    #   mgmt = 1,139.3026 → 1,139.30; G = 9,570,142.22 − 6,000 + 3,848.52 − 1,139.30
    #   = 9,566,851.44; H = 1.00694160 × 1.00042 = 1.007364515472, U × H = 9,574,161.65 > G
    #   NAV = 9,566,851.44; Q = 1.00659535676… → 1.00659536
    Day("0.00", "-6000.00", "9163142.22", "3848.52", "1139.30", "0.00", "0.00",
        "0.00", "9504168.06090669", "1.00659536", "9566851.44"),
    # Day 12. S = 9,566,851.44; cash = S − 405,000 = 9,161,851.44; carry = 3,847.9776048 → 3,847.98
    #   mgmt = 1,138.9109 → 1,138.91; G = 9,566,851.44 + 9,000 + 3,847.98 − 1,138.91
    #   = 9,578,560.51; H = 1.00694160 × 1.00042² = 1.00778760856849824
    #   PF = 0.2 × (9,578,560.51 − 9,578,182.8015342…) = 0.2 × 377.7084… = 75.54 = pf
    #   NAV = 9,578,484.97; Q = 1.00781940182… → 1.00781940
    Day("0.00", "9000.00", "9161851.44", "3847.98", "1138.91", "75.54", "0.00",
        "75.54", "9504168.06090669", "1.00781940", "9578484.97"),
]
# fmt: on


@pytest.fixture(autouse=True)
def _after_the_twelve_days():
    """The fund's days are in the past: it is Wednesday 3 July 2024, 12:00 in São Paulo."""
    with time_machine.travel(dt.datetime(2024, 7, 3, 15, 0, tzinfo=dt.UTC), tick=True):
        yield


def test_the_twelve_days_are_b3_business_days_with_the_end_of_june_on_day_10():
    assert len(DAYS) == 12
    assert (DAYS[0], DAYS[9], DAYS[10], DAYS[11]) == (
        dt.date(2024, 6, 17),
        dt.date(2024, 6, 28),
        dt.date(2024, 7, 1),
        dt.date(2024, 7, 2),
    )


def _day_of_the_fund(number: int) -> None:
    """Day `number` (1 to 12) as the fund lives it: its flow, its trades, its closes and the
    CDI, then its eod's snapshot."""
    day = DAYS[number - 1]
    if number in FLOWS:
        services.capital_flow_create(date=day, **FLOWS[number], note=f"day {number}", actor="ops")
    if number == 1:
        services.trades_book(
            requests=[
                services.TradeRequest("FUT", "MACRO", D("20"), D("125000"), day),
                services.TradeRequest("EQ", "MACRO", D("10000"), D("40.00"), day),
            ],
            actor="pm",
            source=Trade.Source.API,
        )
    closes = {"FUT": FUTURE_CLOSES[number - 1], "EQ": EQUITY_CLOSES[number - 1]}
    services.prices_upsert(
        rows=[{"instrument": s, "date": day, "price": D(p)} for s, p in closes.items()],
        actor="ops",
    )
    services.benchmark_rates_upsert(
        rows=[{"benchmark": "CDI", "date": day, "rate": D(CDI[number - 1])}], actor="ops"
    )
    services.snapshots_build(start=day, end=day, actor="eod")


@pytest.fixture
def twelve_days(macro):
    """The fund described above DAYS, built day by day as the eod builds it."""
    InstrumentFactory.create(symbol="FUT", asset_class="equity", settlement="margined")
    InstrumentFactory.create(symbol="EQ", asset_class="equity", settlement="funded")
    services.fund_terms_change(
        effective_from=DAYS[0],
        actor="ops",
        initial_quota=D("1"),
        management_fee=D("0.02"),
        performance_fee=D("0.20"),
        hurdle=D("1"),
        payment_months=[6, 12],
        cash_yield=D("1"),
        financing_spread=D("0"),
    )
    for number in range(1, 13):
        _day_of_the_fund(number)


FIGURES = Day._fields


def _stored(row: PortfolioSnapshot) -> dict[str, D]:
    return {name: getattr(row, name) for name in FIGURES}


def _as_decimals(day: Day) -> dict[str, D]:
    return {name: D(value) for name, value in day._asdict().items()}


def _snapshots() -> list[PortfolioSnapshot]:
    return list(PortfolioSnapshot.objects.order_by("date"))


def _assert_the_days(rows: list[PortfolioSnapshot], expected: list[Day]) -> None:
    """Every figure to the cent (8 places for units and quota), the fund's P&L as DESIGN
    writes it, and the NAV identity `NAV_t = NAV_{t−1} + flow_t + pnl_t` on every row."""
    for row, day in zip(rows, expected, strict=True):
        assert (row.date, _stored(row)) == (row.date, _as_decimals(day))
        # pnl_fund = positions' P&L + carry − management fee − performance fee
        fund_pnl = D(day.positions_pnl) + D(day.carry) - D(day.management_fee)
        assert row.pnl == fund_pnl - D(day.performance_fee)
    previous = PortfolioSnapshot.objects.filter(date__lt=rows[0].date).order_by("-date").first()
    nav, quota = (previous.nav, previous.quota) if previous else (D("0"), D("1"))
    for row in rows:
        assert row.nav == nav + row.flow + row.pnl
        # 1 + r_t = Q_t / Q_{t−1} within the quota's rounding (r_t = pnl_t / S_t): the units a
        # flow issues at Q_{t−1} neither dilute nor enrich the quota. Rounding the quota, the
        # flow's units and the cents moves it by less than 1e-8.
        assert abs(row.quota - quota * (1 + row.pnl / (nav + row.flow))) < D("1e-8")
        nav, quota = row.nav, row.quota


@pytest.mark.django_db
def test_twelve_days_of_the_fund_s_accounts_worked_by_hand(twelve_days):
    rows = _snapshots()
    assert [row.date for row in rows] == DAYS
    _assert_the_days(rows, EXPECTED)
    # Day 10 paid the provision: the hurdle's base is its quota from then on.
    assert rows[9].hurdle_quota == rows[9].quota == D("1.00706858")
    # The first day's hurdle grew from Q0 by the day's CDI: 1 × 1.0004.
    assert rows[0].hurdle_quota == D("1.0004")

    # The whole run walked again from the inception gives the same days as the eods did.
    services.snapshots_build(start=DAYS[0], end=DAYS[-1], actor="eod")
    _assert_the_days(_snapshots(), EXPECTED)


@pytest.mark.django_db
def test_the_api_shows_the_days_and_the_flows_conversions(twelve_days, api_client_for):
    viewer = api_client_for("viewer")
    answer = viewer.get("/api/nav/", {"start": str(DAYS[0]), "end": str(DAYS[-1])})
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert [row["date"] for row in rows] == [str(day) for day in DAYS]
    for row, day in zip(rows, EXPECTED, strict=True):
        assert {name: row[name] for name in FIGURES} == day._asdict()
        fund_pnl = (
            D(day.positions_pnl) + D(day.carry) - D(day.management_fee) - D(day.performance_fee)
        )
        assert row["pnl"] == f"{fund_pnl:.2f}"

    flows = viewer.get("/api/capital-flows/").json()["results"]
    shown = [(f["date"], f["entered"], f["amount"], f["units"], f["quota"]) for f in flows]
    assert shown == [
        # Day 1 at Q0: 10,000,000.00 / 1 = 10,000,000 units.
        (str(DAYS[0]), "amount", "10000000.00", "10000000.00000000", "1.00000000"),
        # Day 2 in units at Q_1: 1,000,000 × 1.00153651 = 1,001,536.51.
        (str(DAYS[1]), "units", "1001536.51", "1000000.00000000", "1.00153651"),
        # Day 3 at Q_2: −1,500,000 / 1.00278645 = −1,495,831.93909331.
        (str(DAYS[2]), "amount", "-1500000.00", "-1495831.93909331", "1.00278645"),
    ]


_ACCOUNTS = (*FIGURES, "pnl", "capital", "cdi", "hurdle_quota", "daily_return", "gross_return")


def _accounts_of(rows: list[PortfolioSnapshot]) -> list[dict[str, Any]]:
    return [{name: getattr(row, name) for name in ("date", *_ACCOUNTS)} for row in rows]


@pytest.mark.django_db
def test_a_new_management_fee_from_day_7_rebuilds_the_days_from_day_7_only(twelve_days):
    before = _accounts_of(_snapshots())
    services.fund_terms_change(effective_from=DAYS[6], actor="ops", management_fee=D("0.03"))
    rows = _snapshots()
    assert _accounts_of(rows[:6]) == before[:6]  # days 1 to 6 unchanged, every figure
    _assert_the_days(rows[:6], EXPECTED[:6])
    _assert_the_days(rows[6:], EXPECTED_AT_3_PERCENT_FROM_DAY_7)
    # The eod's walk from the inception reads the same terms, day by day.
    services.snapshots_build(start=DAYS[0], end=DAYS[-1], actor="eod")
    _assert_the_days(_snapshots(), EXPECTED[:6] + EXPECTED_AT_3_PERCENT_FROM_DAY_7)


# --- The engine's edge cases ------------------------------------------------------------------

DAY = dt.date(2024, 6, 20)
CDI_RATE = D("0.0004")


def _inputs(
    terms: TermsInForce, *flows: Flow, funded: str = "0", pnl: str = "0", pays: bool = False
) -> DayInputs:
    return DayInputs(DAY, list(flows), D(pnl), D(funded), CDI_RATE, terms, pays)


def test_a_redemption_pays_its_share_of_the_provision():
    terms = TermsInForce(performance_fee=D("0.2"))  # no management fee
    before = Accounts(
        nav=D("1012000.00"),
        units=D("1000000.00000000"),
        quota=D("1.01200000"),
        provision=D("3001.37"),
        hurdle_quota=D("1.004"),
    )
    day = account_day(before, _inputs(terms, Flow(units=D("-123456.78901234"))))
    # The units at Q_{t−1}: −123,456.78901234 × 1.012 = −124,938.27048… → −124,938.27
    assert (day.flow, day.close.units) == (D("-124938.27"), D("876543.21098766"))
    # paid = 3,001.37 × 123,456.78901234 / 1,000,000 = 370.5395… → 370.54
    assert day.performance_paid == D("370.54")
    # S = 1,012,000 − 124,938.27 = 887,061.73, all cash: carry 354.824692 → 354.82
    assert (day.capital, day.cash, day.carry) == (D("887061.73"), D("887061.73"), D("354.82"))
    # G = 1,012,000 + 3,001.37 − 370.54 − 124,938.27 + 0 + 354.82 − 0 = 890,047.38
    # H = 1.004 × 1.0004 = 1.0044016; U × H = 876,543.21098766 × 1.0044016 = 880,401.4035851…
    # PF = 0.2 × 9,645.9764… = 1,929.1952… → 1,929.20; NAV = 890,047.38 − 1,929.20 = 888,118.18
    assert (day.close.provision, day.close.nav) == (D("1929.20"), D("888118.18"))
    # pf = PF − (P̂ − paid) = 1,929.20 − (3,001.37 − 370.54) = 1,929.20 − 2,630.83 = −701.63
    assert day.performance_fee == D("-701.63")
    # Q = 888,118.18 / 876,543.21098766 = 1.0132052463… → 1.01320525
    assert day.close.quota == D("1.01320525")
    # The fund's P&L: 0 + 354.82 − 0 − (−701.63) = 1,056.45 = NAV − NAV_{t−1} − flow
    assert day.pnl == D("1056.45") == D("888118.18") - D("1012000.00") + D("124938.27")


def test_a_negative_cash_balance_is_financed_at_the_cdi_and_the_spread():
    # Cash earns half the CDI when positive; a negative balance pays the CDI + 2.52% / 252.
    terms = TermsInForce(cash_yield=D("0.5"), financing_spread=D("0.0252"))
    before = Accounts(D("1000000.00"), D("1000000"), D("1.00000000"), D("0"), D("1"))
    day = account_day(before, _inputs(terms, funded="1234567.89"))
    # cash = 1,000,000 − 1,234,567.89 = −234,567.89; carry = −234,567.89 × (0.0004 + 0.0001)
    # = −117.283945 → −117.28 (the cash yield applies to a positive balance only)
    assert (day.cash, day.carry) == (D("-234567.89"), D("-117.28"))
    assert (day.close.nav, day.pnl) == (D("999882.72"), D("-117.28"))
    # A positive balance of the same size: 234,567.89 × 0.5 × 0.0004 = 46.913578 → 46.91
    positive = account_day(before, _inputs(terms, funded="765432.11"))
    assert (positive.cash, positive.carry) == (D("234567.89"), D("46.91"))


def test_a_payment_date_without_a_provision_pays_nothing_and_keeps_the_high_water_mark():
    terms = TermsInForce(performance_fee=D("0.2"))
    # The quota is 1.00 against a hurdle of 1.05 (a high-water mark not yet regained); 500.00
    # were provisioned on an earlier day within the period.
    before = Accounts(D("1000000.00"), D("1000000"), D("1.00000000"), D("500.00"), D("1.05"))
    day = account_day(before, _inputs(terms, pnl="-1000.00", pays=True))
    # G = 1,000,000 + 500 − 1,000 + 400 (carry: 1,000,000 × 0.0004) = 999,900.00
    # H = 1.05 × 1.0004 = 1.05042; U × H = 1,050,420 > G: PF = 0; pf = 0 − 500 = −500.00
    assert (day.close.provision, day.performance_fee, day.performance_paid) == (
        D("0.00"),
        D("-500.00"),
        D("0"),
    )
    assert day.close.nav == D("999900.00")
    # Nothing paid, so no reset: the hurdle keeps compounding from 1.05, not from Q = 0.9999.
    assert (day.close.quota, day.close.hurdle_quota) == (D("0.99990000"), D("1.05042"))
    # With a provision on the payment date the base resets to the quota: the same day with a
    # hurdle of 0.99 (H = 0.99 × 1.0004 = 0.990396): PF = 0.2 × (999,900 − 990,396) = 1,900.80.
    lower = before._replace(hurdle_quota=D("0.99"))
    paid = account_day(lower, _inputs(terms, pnl="-1000.00", pays=True))
    # pf = 1,900.80 − 500 = 1,400.80; NAV = 999,900 − 1,900.80 = 997,999.20; Q = 0.9979992
    assert (paid.performance_fee, paid.performance_paid) == (D("1400.80"), D("1900.80"))
    assert (paid.close.provision, paid.close.nav) == (D("0"), D("997999.20"))
    assert paid.close.hurdle_quota == paid.close.quota == D("0.99799920")


def test_a_flow_in_units_is_worth_its_units_at_the_previous_quota():
    quota = D("1.23456789")
    # 123,456.78901234 units × 1.23456789 = 152,415.78751713… → 152,415.79
    assert convert(Flow(units=D("123456.78901234")), quota) == (
        D("152415.79"),
        D("123456.78901234"),
        quota,
    )
    # 100,000.00 / 1.23456789 = 81,000.0007371000067… → 81,000.00073710 units
    assert convert(Flow(amount=D("100000.00")), quota) == (
        D("100000.00"),
        D("81000.00073710"),
        quota,
    )
    # In the day: the units flow adds its amount to the capital and its units to U.
    before = Accounts(D("1234567.89"), D("1000000"), quota, D("0"), quota)
    day = account_day(before, _inputs(TermsInForce(), Flow(units=D("123456.78901234"))))
    assert (day.flow, day.capital) == (D("152415.79"), D("1386983.68"))  # 1,234,567.89 + …
    assert day.close.units == D("1123456.78901234")


# --- Two redemptions at once ------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entered", ["amount", "units"])
def test_two_redemptions_at_once_never_redeem_more_units_than_outstanding(entered, api_client_for):
    """Each redeems 6,000,000 of the 10,000,000 units (at Q0 = 1, an amount of 6,000,000.00
    is 6,000,000 units): alone each is valid, together they would leave −2,000,000."""
    services.capital_flow_create(date=DAYS[0], amount=D("10000000.00"), actor="ops")
    clients = [api_client_for("ops") for _ in range(2)]
    body = {"date": str(DAYS[1]), entered: "-6000000", "note": "redemption"}
    answers = at_once(
        [lambda ops=ops: ops.post("/api/capital-flows/", body, format="json") for ops in clients]
    )
    assert sorted(a.status_code for a in answers) == [201, 400]
    [refused] = [a.json() for a in answers if a.status_code == 400]
    assert list(refused) == [entered]
    # 10,000,000 − 6,000,000 = 4,000,000 outstanding after the first: 6,000,000 is too many.
    assert "4000000" in refused[entered][0]
    assert list(CapitalFlow.objects.order_by("date").values_list("units", flat=True)) == [
        D("10000000.00000000"),
        D("-6000000.00000000"),
    ]
    assert AuditRecord.objects.filter(action="capital_flow.create").count() == 2
    assert not PortfolioSnapshot.objects.exists()
