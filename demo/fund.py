"""A seeded, reproducible demo fund: a Brazilian global-macro fund in BRL.

Markets are simulated with a few common factors (global risk, Brazil, US rates, Europe,
commodities) so that the instruments move with realistic volatilities and correlations.
"""

import bisect
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise

import numpy as np

from core.calendar import anbima_days, anbima_days_between, business_days
from portfolio import di1
from portfolio.ledger import to_cents


def first_business_day(year: int, month: int) -> dt.date:
    """The first national (ANBIMA) business day of a month, a DI1's maturity: DI1F27 matures
    on 2027-01-04, New Year's Day being a holiday and the 2nd and 3rd a weekend."""
    first = dt.date(year, month, 1)
    return anbima_days_between(first, first + dt.timedelta(days=10))[0]


# Factors: global risk-on, Brazil local, US rates, Europe, commodities.
FACTORS = ("risk", "brazil", "us_rates", "europe", "commodity")


@dataclass(frozen=True)
class DemoInstrument:
    symbol: str
    name: str
    asset_class: str
    currency: str
    quote_type: str
    start: float  # first quote (price, or yield in percent)
    vol: float  # annual relative vol (price) or daily bp vol (yield)
    loadings: dict[str, float]
    multiplier: str = "1"
    dv01: str = "0"
    lot_size: str = "1"
    strategy: str = ""
    settlement: str = "margined"
    pricing: str = "linear"
    maturity: dt.date | None = None
    root: str = ""

    @property
    def places(self) -> int:
        """The decimals of its quotes: a DI1's rate has three, as B3 quotes it."""
        return 3 if self.pricing == "di1" else 6

    def trades_on(self, day: dt.date) -> bool:
        """Whether it can be traded (and is quoted) on `day`: until the day before its
        maturity, if it has one."""
        return self.maturity is None or day < self.maturity


def di1_future(
    year: int, start: float, vol: float, loadings: dict[str, float], dv01: str
) -> DemoInstrument:
    """B3's DI1 future maturing on the first business day of January of `year` (code F),
    quoted in its rate (percent a year) and valued by its unit price (`pricing = di1`).
    `dv01` is the fixed DV01 a linear yield instrument needs (the instrument's rules ask
    for one); a DI1's own is its PU's, which falls to nothing at maturity."""
    return DemoInstrument(
        f"DI1F{year % 100:02d}",
        f"DI1 Jan/{year}",
        "rates",
        "BRL",
        "yield",
        start,
        vol,
        loadings,
        "100000",  # the PU at maturity
        dv01,
        strategy="BRL_RATES",
        pricing="di1",
        maturity=first_business_day(year, 1),
        root="DI1",
    )


INSTRUMENTS = [
    # FX: price in the quote currency per unit of the base one.
    DemoInstrument(
        "USDBRL",
        "US dollar / Brazilian real spot",
        "fx",
        "BRL",
        "price",
        5.20,
        0.15,
        {"risk": -0.55, "brazil": -0.5},
        lot_size="1000",
        strategy="EM_FX",
    ),
    DemoInstrument(
        "EURBRL",
        "Euro / Brazilian real spot",
        "fx",
        "BRL",
        "price",
        5.60,
        0.14,
        {"risk": -0.45, "brazil": -0.45, "europe": 0.3},
        lot_size="1000",
        strategy="EM_FX",
    ),
    DemoInstrument(
        "EURUSD",
        "Euro / US dollar spot",
        "fx",
        "USD",
        "price",
        1.08,
        0.07,
        {"europe": 0.7, "us_rates": -0.2},
        lot_size="1000",
        strategy="G10_FX",
    ),
    DemoInstrument(
        "GBPUSD",
        "Sterling / US dollar spot",
        "fx",
        "USD",
        "price",
        1.27,
        0.08,
        {"europe": 0.6, "risk": 0.1},
        lot_size="1000",
        strategy="G10_FX",
    ),
    DemoInstrument(
        "USDJPY",
        "US dollar / yen spot",
        "fx",
        "JPY",
        "price",
        150.0,
        0.10,
        {"us_rates": 0.5, "risk": 0.2},
        lot_size="1000",
        strategy="G10_FX",
    ),
    DemoInstrument(
        "USDMXN",
        "US dollar / Mexican peso spot",
        "fx",
        "MXN",
        "price",
        17.5,
        0.12,
        {"risk": -0.6},
        lot_size="1000",
        strategy="EM_FX",
    ),
    DemoInstrument(
        "USDCLP",
        "US dollar / Chilean peso spot",
        "fx",
        "CLP",
        "price",
        900.0,
        0.13,
        {"risk": -0.45, "commodity": -0.35},
        lot_size="1000",
        strategy="EM_FX",
    ),
    DemoInstrument(
        "USDCNH",
        "US dollar / offshore yuan spot",
        "fx",
        "CNH",
        "price",
        7.20,
        0.05,
        {"risk": -0.3},
        lot_size="1000",
        strategy="EM_FX",
    ),
    # Brazilian rates: B3's DI1 futures, the curve from its short end (~14.9%) to its long
    # end (~13.5%); DI1F26 matures inside the demo's history and is rolled into DI1F27.
    di1_future(2026, 14.90, 6.0, {"brazil": 0.85, "risk": -0.2}, "4.0"),
    di1_future(2027, 14.70, 7.0, {"brazil": 0.85, "risk": -0.2}, "8.5"),
    di1_future(2028, 14.30, 9.0, {"brazil": 0.9, "risk": -0.2}, "16.0"),
    di1_future(2029, 14.00, 10.0, {"brazil": 0.9, "risk": -0.25}, "22.0"),
    di1_future(2031, 13.75, 11.0, {"brazil": 0.88, "risk": -0.25}, "31.0"),
    di1_future(2033, 13.50, 11.5, {"brazil": 0.85, "risk": -0.3}, "38.0"),
    # Global rates: swaps in yield (notional 1,000,000), bond futures by price.
    DemoInstrument(
        "USD_SOFR_2Y",
        "USD SOFR swap 2y",
        "rates",
        "USD",
        "yield",
        4.20,
        7.0,
        {"us_rates": 0.9},
        "1000000",
        "190",
        strategy="GLOBAL_RATES",
    ),
    DemoInstrument(
        "USD_SOFR_10Y",
        "USD SOFR swap 10y",
        "rates",
        "USD",
        "yield",
        3.90,
        6.5,
        {"us_rates": 0.85, "risk": 0.15},
        "1000000",
        "850",
        strategy="GLOBAL_RATES",
    ),
    DemoInstrument(
        "EUR_ESTR_10Y",
        "EUR ESTR swap 10y",
        "rates",
        "EUR",
        "yield",
        2.60,
        5.5,
        {"europe": 0.6, "us_rates": 0.5},
        "1000000",
        "880",
        strategy="GLOBAL_RATES",
    ),
    DemoInstrument(
        "TYZ6",
        "US 10y Treasury note future",
        "rates",
        "USD",
        "price",
        110.5,
        0.06,
        {"us_rates": -0.9},
        "1000",
        strategy="GLOBAL_RATES",
    ),
    DemoInstrument(
        "RXZ6",
        "Euro-Bund future",
        "rates",
        "EUR",
        "price",
        131.0,
        0.065,
        {"europe": -0.55, "us_rates": -0.5},
        "1000",
        strategy="GLOBAL_RATES",
    ),
    # Equity index futures.
    DemoInstrument(
        "INDZ6",
        "Ibovespa future",
        "equity",
        "BRL",
        "price",
        128000,
        0.22,
        {"risk": 0.6, "brazil": 0.5},
        strategy="EQUITY_MACRO",
    ),
    DemoInstrument(
        "ESZ6",
        "E-mini S&P 500 future",
        "equity",
        "USD",
        "price",
        5200,
        0.17,
        {"risk": 0.9},
        "50",
        strategy="EQUITY_MACRO",
    ),
    DemoInstrument(
        "NQZ6",
        "E-mini Nasdaq-100 future",
        "equity",
        "USD",
        "price",
        18200,
        0.22,
        {"risk": 0.85},
        "20",
        strategy="EQUITY_MACRO",
    ),
    DemoInstrument(
        "FESXZ6",
        "Euro Stoxx 50 future",
        "equity",
        "EUR",
        "price",
        4900,
        0.18,
        {"risk": 0.75, "europe": 0.3},
        "10",
        strategy="EQUITY_MACRO",
    ),
    DemoInstrument(
        "NKDZ6",
        "Nikkei 225 future (yen)",
        "equity",
        "JPY",
        "price",
        38500,
        0.21,
        {"risk": 0.7},
        "500",
        strategy="EQUITY_MACRO",
    ),
    DemoInstrument(
        "MFSZ6",
        "MSCI EM future",
        "equity",
        "USD",
        "price",
        1050,
        0.16,
        {"risk": 0.8, "commodity": 0.2},
        "50",
        strategy="EQUITY_MACRO",
    ),
    # Commodities.
    DemoInstrument(
        "CLF7",
        "WTI crude oil future",
        "commodity",
        "USD",
        "price",
        78.0,
        0.32,
        {"commodity": 0.8, "risk": 0.3},
        "1000",
        strategy="COMMODITIES",
    ),
    DemoInstrument(
        "GCG7",
        "Gold future",
        "commodity",
        "USD",
        "price",
        2300,
        0.15,
        {"commodity": 0.3, "us_rates": -0.4},
        "100",
        strategy="COMMODITIES",
    ),
    DemoInstrument(
        "HGH7",
        "Copper future",
        "commodity",
        "USD",
        "price",
        4.30,
        0.24,
        {"commodity": 0.6, "risk": 0.4},
        "25000",
        strategy="COMMODITIES",
    ),
    DemoInstrument(
        "ZSF7",
        "Soybean future (USD/bu)",
        "commodity",
        "USD",
        "price",
        11.8,
        0.20,
        {"commodity": 0.5},
        "5000",
        strategy="COMMODITIES",
    ),
    DemoInstrument(
        "KCH7",
        "Arabica coffee future (USD/lb)",
        "commodity",
        "USD",
        "price",
        2.10,
        0.33,
        {"commodity": 0.35, "brazil": 0.2},
        "37500",
        strategy="COMMODITIES",
    ),
    # Held outright (funded): their P&L includes the dollar's move on what they cost.
    DemoInstrument(
        "UST34",
        "US Treasury 4.25% Nov-2034, held outright (price per 100 face, 1,000 face a unit)",
        "rates",
        "USD",
        "price",
        98.5,
        0.07,
        {"us_rates": -0.9},
        "10",
        strategy="GLOBAL_RATES",
        settlement="funded",
    ),
    DemoInstrument(
        "IVV",
        "iShares Core S&P 500 ETF, held outright",
        "equity",
        "USD",
        "price",
        520,
        0.17,
        {"risk": 0.9},
        strategy="EQUITY_MACRO",
        settlement="funded",
    ),
    # Credit.
    DemoInstrument(
        "CDXIG",
        "CDX IG index (price)",
        "credit",
        "USD",
        "price",
        101.2,
        0.03,
        {"risk": 0.7},
        "10000",
        strategy="GLOBAL_RATES",
    ),
]

STRATEGIES = [
    ("BRL_RATES", "Brazil rates", "Directional and curve trades in DI1 futures."),
    ("EM_FX", "EM FX", "BRL and Latin American currencies."),
    ("G10_FX", "G10 FX", "Developed-market currencies."),
    ("GLOBAL_RATES", "Global rates", "US and European rates and credit."),
    ("EQUITY_MACRO", "Equity macro", "Equity index futures."),
    ("COMMODITIES", "Commodities", "Energy, metals and softs."),
]

# Units of base (BRL) per unit of each currency, from the FX instruments' simulated paths.
FX_FROM_SPOT: dict[str, tuple[str, bool]] = {
    "USD": ("USDBRL", False),  # X(USD) = USDBRL
    "EUR": ("EURBRL", False),  # X(EUR) = EURBRL
    "JPY": ("USDJPY", True),  # X(JPY) = USDBRL / USDJPY
    "MXN": ("USDMXN", True),
    "CLP": ("USDCLP", True),
    "CNH": ("USDCNH", True),
}


# The share of a DI1 rate's gap to its level a day keeps: a half-life of about 5 weeks.
DI1_REVERSION = 0.98


def reverting(moves: np.ndarray, keep: float = DI1_REVERSION) -> np.ndarray:
    """A path from 0 (length len(moves) + 1) that takes each day's move and keeps `keep`
    of its gap to 0 from the day before (an AR(1)): it moves day to day but stays within
    about ±1% of its level for a daily move of 10 bp."""
    path = np.zeros(len(moves) + 1)
    for day, move in enumerate(moves, start=1):
        path[day] = keep * path[day - 1] + move
    return path


def simulate_markets(days: int, seed: int) -> dict[str, np.ndarray]:
    """Quote paths (length `days`) per instrument, from correlated factor shocks."""
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((days - 1, len(FACTORS)))
    paths: dict[str, np.ndarray] = {}
    for spec in INSTRUMENTS:
        load = np.array([spec.loadings.get(f, 0.0) for f in FACTORS])
        idio = math.sqrt(max(1.0 - float(load @ load), 0.05))
        shocks = factors @ load + idio * rng.standard_normal(days - 1)
        if spec.pricing == "di1":  # a point of the curve: it moves, and reverts to its level
            paths[spec.symbol] = spec.start + reverting(shocks * spec.vol / 100.0)
        elif spec.quote_type == "yield":
            moves = np.concatenate([[0.0], np.cumsum(shocks * spec.vol / 100.0)])
            paths[spec.symbol] = np.maximum(spec.start + moves, 0.05)
        else:
            daily = spec.vol / math.sqrt(252)
            log_moves = np.concatenate([[0.0], np.cumsum(shocks * daily - daily**2 / 2)])
            paths[spec.symbol] = spec.start * np.exp(log_moves)
    return paths


def fx_paths(paths: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    usdbrl = paths["USDBRL"]
    return {
        currency: usdbrl / paths[symbol] if per_usd else paths[symbol]
        for currency, (symbol, per_usd) in FX_FROM_SPOT.items()
    }


def unit_values(
    paths: dict[str, np.ndarray], dates: list[dt.date]
) -> Callable[[DemoInstrument, int], float]:
    """`unit_value(spec, day)`: the BRL exposure of one contract of `spec` on `dates[day]`,
    its DV01 (per bp) for a yield instrument (a DI1's from its PU that day), its notional
    otherwise."""
    fx = fx_paths(paths)

    def unit_value(spec: DemoInstrument, day: int) -> float:
        x_rate = 1.0 if spec.currency == "BRL" else float(fx[spec.currency][day])
        if spec.pricing == "di1" and spec.maturity is not None:
            days = int(anbima_days(dates[day], spec.maturity))
            return max(float(di1.dv01s(paths[spec.symbol][day], days)), 0.01)
        if spec.quote_type == "yield":
            return float(spec.dv01) * x_rate
        return float(paths[spec.symbol][day]) * float(spec.multiplier) * x_rate

    return unit_value


# The CDI's annual rate (252-day basis) after each monetary-policy meeting, about every
# six weeks (30 business days): a hiking cycle from 10.40% to 14.90%, a pause, then cuts.
CDI_PATH = (
    0.1040, 0.1065, 0.1115, 0.1215, 0.1315, 0.1415, 0.1440, 0.1465, 0.1490,
    0.1490, 0.1490, 0.1490, 0.1490, 0.1465, 0.1440, 0.1415, 0.1390, 0.1365,
)  # fmt: skip


BACKTEST_DAYS = 250  # the Basel backtest's window: the demo takes one more risk snapshot


def cdi_rates(days: int) -> list[Decimal]:
    """The CDI's daily rate for `days` business days: (1 + annual)^(1/252) − 1, to 8
    decimals as B3 publishes the daily factor, stepping at each meeting of CDI_PATH."""
    return [
        quote((1 + CDI_PATH[min(day // 30, len(CDI_PATH) - 1)]) ** (1 / 252) - 1, 8)
        for day in range(days)
    ]


def quote(value: float, places: int = 6) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def demo_dates(end: dt.date, years: int = 2) -> list[dt.date]:
    """The business days of the `years` to `end` (from 28 February when `end` is a 29th)."""
    start = end.replace(year=end.year - years, day=min(end.day, 28) if end.month == 2 else end.day)
    return business_days(start, end)


@dataclass(frozen=True)
class DemoTrade:
    symbol: str
    strategy: str
    day_index: int
    quantity: Decimal
    roll_into: str = ""  # the closing leg of a roll: the contract it rolls into
    rolled_in: bool = False  # the opening leg of a roll (booked by the roll)


# The launch capital, and the book the exposure targets of `plan_trades` are set for on it:
# a larger book spreads the same risk over more, smaller positions.
LAUNCH_CAPITAL = Decimal("1000000000.00")
SIZED_FOR_POSITIONS = 40
# Past this many positions most are a single lot, the smallest a position can be: the
# book grows with its positions again, and the capital with it.
SINGLE_LOT_POSITIONS = 5000


def position_scale(n_positions: int) -> float:
    """The share of the exposure targets each position of an `n_positions` book takes: 1
    up to SIZED_FOR_POSITIONS, then less, so that the fund's gross, VaR and daily P&L stay
    those of a fund of its capital (1,000 sleeve positions at 25 times the 40 positions'
    size made a daily loss larger than the NAV)."""
    return min(1.0, SIZED_FOR_POSITIONS / n_positions)


def capital_scale(n_positions: int) -> int:
    """How many times LAUNCH_CAPITAL (and the later flows) an `n_positions` book needs."""
    return max(1, -(-n_positions // SINGLE_LOT_POSITIONS))


# The fund's terms, a Brazilian macro fund's usual: 2% a year of management fee, 20% of
# the gain over 100% of the CDI paid at the end of June and December, its cash earning
# 100% of the CDI, and a quota of 1.00000000 at launch.
TERMS = {
    "initial_quota": Decimal("1"),
    "management_fee": Decimal("0.02"),
    "performance_fee": Decimal("0.20"),
    "hurdle": Decimal("1"),
    "payment_months": [6, 12],
    "cash_yield": Decimal("1"),
    "financing_spread": Decimal("0"),
}


def capital_flows(dates: list[dt.date], n_positions: int) -> list[tuple[dt.date, Decimal, str]]:
    """The launch capital, a subscription midway and a redemption two months before the
    end: (date, amount, note), sized for the book."""
    scale = capital_scale(n_positions)
    return [
        (dates[0], LAUNCH_CAPITAL * scale, "Launch capital"),
        (dates[len(dates) // 2], Decimal("150000000.00") * scale, "Subscription"),
        (dates[-40], Decimal("-80000000.00") * scale, "Redemption"),
    ]


def plan_trades(
    pairs: list[tuple[DemoInstrument, str]],
    days: int,
    unit_value: Callable[[DemoInstrument, int], float],
    seed: int,
    scale: float = 1.0,
) -> list[DemoTrade]:
    """Open, add to and trim each position; close and reopen one in five along the way.

    `unit_value(spec, day)` is the BRL exposure of one contract (notional or DV01); each
    position's exposure target is drawn, then `scale`d (`position_scale`), at least a lot.
    """
    rng = np.random.default_rng(seed + 1)
    trades = []
    for n, (spec, strategy) in enumerate(pairs):
        lot = Decimal(spec.lot_size)
        # Exposure targets: 10–60mm BRL notional, or 20–150k BRL per bp for yield instruments.
        target = rng.uniform(20e3, 150e3) if spec.quote_type == "yield" else rng.uniform(10e6, 60e6)
        target *= scale
        sign = 1 if rng.random() < 0.6 else -1
        opened, added, trimmed = sorted(rng.choice(np.arange(5, days - 5), 3, replace=False))

        def lots(
            exposure: float, day: int, lot: Decimal = lot, spec: DemoInstrument = spec
        ) -> Decimal:
            return max(
                lot, (Decimal(exposure / unit_value(spec, day)) / lot).to_integral_value() * lot
            )

        first = lots(target * 0.6, opened)
        second = lots(target * 0.4, added)
        trim = min(lots(target * 0.25, trimmed), first + second - lot)
        trades += [
            DemoTrade(spec.symbol, strategy, opened, sign * first),
            DemoTrade(spec.symbol, strategy, added, sign * second),
            DemoTrade(spec.symbol, strategy, trimmed, -sign * trim),
        ]
        if n % 5 == 4:  # closed out late, and the view reversed
            close_day = min(trimmed + 3, days - 2)
            rest = first + second - trim
            trades.append(
                DemoTrade(
                    spec.symbol, strategy, close_day, -sign * (rest + lots(target * 0.3, close_day))
                )
            )
    return trades


def live_instruments(end: dt.date) -> list[DemoInstrument]:
    """The instruments still traded on `end`: those that have matured by then held
    positions only until they were rolled (`roll_trades`)."""
    return [spec for spec in INSTRUMENTS if spec.trades_on(end)]


def strategies_for(n_positions: int, end: dt.date) -> list[tuple[str, str, str]]:
    """The six desks, and as many sleeves beside them as it takes to hold `n_positions`
    (one position per instrument still traded on `end` and strategy): (code, name,
    description)."""
    needed = -(-n_positions // len(live_instruments(end))) - len(STRATEGIES)
    sleeves = [
        (f"SLEEVE{n:03d}", f"Sleeve {n}", "A scaled sleeve for benchmarks.")
        for n in range(1, needed + 1)
    ]
    return STRATEGIES + sleeves


ROLL_DAYS_BEFORE = 3  # a position in a contract about to mature rolls these days before


def matured_before(end: dt.date) -> dict[str, DemoInstrument]:
    """The contracts that have matured by `end`, by the symbol of the next contract of
    their root (the one they roll into) when that one is still traded on `end`."""
    chains: dict[str, list[DemoInstrument]] = {}
    for spec in sorted(INSTRUMENTS, key=lambda s: s.maturity or dt.date.max):
        if spec.root and spec.maturity:
            chains.setdefault(spec.root, []).append(spec)
    return {
        later.symbol: earlier
        for chain in chains.values()
        for earlier, later in pairwise(chain)
        if not earlier.trades_on(end) and later.trades_on(end)
    }


def roll_trades(
    plan: list[DemoTrade],
    dates: list[dt.date],
    unit_value: Callable[[DemoInstrument, int], float],
    seed: int,
    scale: float,
) -> list[DemoTrade]:
    """For each planned position in a contract whose root's previous contract matures
    inside `dates`, a position in that previous contract, opened early in its life in the
    same direction and rolled into it ROLL_DAYS_BEFORE business days before its maturity:
    closed, and the same quantity bought (or sold) in the next contract the same day."""
    rng = np.random.default_rng(seed + 2)
    previous = matured_before(dates[-1])
    opened: dict[tuple[str, str], Decimal] = {}
    for trade in plan:  # each position's direction: its first trade's
        opened.setdefault((trade.symbol, trade.strategy), trade.quantity)
    rolls = []
    for (symbol, strategy), first in opened.items():
        spec = previous.get(symbol)
        if spec is None or spec.maturity is None:
            continue
        roll = bisect.bisect_left(dates, spec.maturity) - ROLL_DAYS_BEFORE
        if roll < 15:  # matured too early in the history to be held before
            continue
        day = int(rng.integers(5, roll - 5))
        lots = Decimal(rng.uniform(20e3, 150e3) * scale * 0.6 / unit_value(spec, day))
        quantity = max(Decimal(spec.lot_size), lots.to_integral_value()).copy_sign(first)
        rolls.append(DemoTrade(spec.symbol, strategy, day, quantity))
        rolls += [
            DemoTrade(spec.symbol, strategy, roll, -quantity, roll_into=symbol),
            DemoTrade(symbol, strategy, roll, quantity, rolled_in=True),
        ]
    return rolls


def book_plan(
    paths: dict[str, np.ndarray], n_positions: int, seed: int, dates: list[dt.date]
) -> list[DemoTrade]:
    """The trades that build the demo's `n_positions` positions over `dates`: each
    instrument still traded at the end in its own desk first, then in the other
    strategies, each sized to its share of the fund's risk; and the positions held before
    in a contract that matured and were rolled into them (`roll_trades`)."""
    live = live_instruments(dates[-1])
    own = [(spec, spec.strategy) for spec in live]
    other = [
        (spec, code)
        for code, _, _ in strategies_for(n_positions, dates[-1])
        for spec in live
        if code != spec.strategy
    ]
    unit_value, scale = unit_values(paths, dates), position_scale(n_positions)
    plan = plan_trades((own + other)[:n_positions], len(dates), unit_value, seed, scale)
    return plan + roll_trades(plan, dates, unit_value, seed, scale)


def fees_for(notional_base: Decimal) -> Decimal:
    """Demo execution costs: 0.2 bp of notional."""
    return to_cents(abs(notional_base) * Decimal("0.00002"))


SIGNAL_LOOKBACK = 20  # days of trend behind a demo signal


def signal_scores(paths: dict[str, np.ndarray], day: int) -> dict[str, Decimal]:
    """A trend model's scores on `day` for each instrument: the last 20 days' move in
    units of its expected 20-day volatility, halved and capped to [−1, 1]. For a yield
    instrument a fall in yield is the long position's gain, so it scores positive."""
    scores = {}
    for spec in INSTRUMENTS:
        path = paths[spec.symbol]
        if spec.quote_type == "yield":
            move = -(path[day] - path[day - SIGNAL_LOOKBACK]) * 100 / spec.vol
            trend = move / math.sqrt(SIGNAL_LOOKBACK)
        else:
            move = math.log(path[day] / path[day - SIGNAL_LOOKBACK])
            trend = move / (spec.vol * math.sqrt(SIGNAL_LOOKBACK / 252))
        scores[spec.symbol] = Decimal(f"{max(-1.0, min(1.0, trend / 2)):.2f}")
    return scores


@dataclass(frozen=True)
class DemoLimit:
    """A risk limit of the demo fund, set for the book the demo builds: `headroom` times the
    largest figure the book showed over the risk snapshots' year (its own metric, or
    `basis`), rounded up to two significant figures, and at least `floor` (times NAV for
    an amount) for a book with nothing in the limit's scope. Units as in
    risk.models.RiskLimit."""

    name: str
    metric: str
    headroom: float
    floor: float
    scope_type: str = ""
    scope_value: str = ""
    basis: str = ""  # "" (the limit's own metric), "var_99" (the fund's) or "max_drawdown"


# A quarter or more above the year's peak, so that the book runs within its limits; the
# 99% VaR's, the binding one, a tenth: a warning on the days the book takes about as much
# risk as it has all year.
RISK_LIMITS = [
    DemoLimit("Fund VaR 95%", "var_95", 1.25, 0.001),
    DemoLimit("Fund VaR 99%", "var_99", 1.1, 0.0015),
    DemoLimit("Fund ES 99%", "es_99", 1.25, 0.002),
    DemoLimit("Gross leverage", "gross_leverage", 1.25, 0.5),
    DemoLimit("Net leverage", "net_leverage", 1.5, 0.2),
    DemoLimit("Largest position", "concentration", 1.5, 0.1),
    DemoLimit("Rates gross notional", "asset_class_gross", 1.25, 0.5, "asset_class", "rates"),
    DemoLimit("Brazil rates VaR 95%", "var_95", 1.25, 0.0005, "strategy", "BRL_RATES"),
    DemoLimit("Brazil rates DV01", "dv01", 1.25, 0.00001, "strategy", "BRL_RATES"),
    # A day's loss of twice the 99% VaR stops the book; the drawdown limit is twice the
    # deepest drawdown the fund has had.
    DemoLimit("Daily loss", "daily_loss", 2.0, 0.003, basis="var_99"),
    DemoLimit("Drawdown", "drawdown", 2.0, 0.03, basis="max_drawdown"),
]
LIMIT_SAMPLE_DAYS = 10  # the closes a limit is sized on: one every other week of the year

# Metrics that are ratios (to NAV, or of the NAV index); the others are amounts in BRL.
RATIO_METRICS = {"gross_leverage", "net_leverage", "concentration", "drawdown"}


def limit_level(spec: DemoLimit, figure: Decimal, nav: Decimal) -> Decimal:
    """The limit `spec` sets on a book whose figure is `figure` (its NAV `nav`)."""
    floor = Decimal(str(spec.floor)) * (1 if spec.metric in RATIO_METRICS else nav)
    level = max(Decimal(str(spec.headroom)) * abs(figure), floor)
    exponent = level.adjusted() - 1  # two significant figures, rounded up
    rounded = level.scaleb(-exponent).to_integral_value(ROUND_CEILING).scaleb(exponent)
    return rounded.quantize(Decimal(1)) if exponent > 0 else rounded


BRL_SELL_OFF = str(round(1 / 0.9 - 1, 4))  # BRL −10%: one foreign unit buys 11.11% more BRL


def stress_scenarios(dates: list[dt.date], paths: dict[str, np.ndarray]) -> list[dict[str, object]]:
    """Two shock scenarios and the worst 10-day BRL sell-off of the history, replayed."""
    brl = [{"target_type": "currency", "target": c, "shock": BRL_SELL_OFF} for c in FX_FROM_SPOT]
    brl += [
        {"target_type": "instrument", "target": s, "shock": BRL_SELL_OFF}
        for s in ("USDBRL", "EURBRL")
    ]
    brl += [
        {"target_type": "instrument", "target": spec.symbol, "shock": "200"}
        for spec in live_instruments(dates[-1])
        if spec.root == "DI1"
    ]
    usdbrl = paths["USDBRL"]
    start = int(np.argmax(usdbrl[10:] / usdbrl[:-10]))
    return [
        {
            "name": "BRL -10% with DI +200bp",
            "description": "The real loses 10% against every currency; DI1 yields +200 bp.",
            "shocks": brl,
        },
        {
            "name": "Global equity -15%",
            "description": "Every equity index future falls 15%.",
            "shocks": [{"target_type": "asset_class", "target": "equity", "shock": "-0.15"}],
        },
        {
            "name": "Worst 10-day BRL sell-off, replayed",
            "description": "The largest 10-day rise of USDBRL in the stored history.",
            "historical_start": dates[start],
            "historical_end": dates[start + 10],
        },
    ]
