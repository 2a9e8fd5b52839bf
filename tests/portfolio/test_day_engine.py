"""One engine for a position's day (`portfolio.ledger.position_day`), and the fast forms
that mark many positions at once, checked against it over random trades and closes.

- The pure part (hypothesis): the figures of `mark_rule` (what a mark writes per
  position) are the owner functions' (`notional_local`, `pnl_local`, `dv01_local`,
  `to_cents`) composed by DESIGN.md's rules, and the mark's daily P&L, `U + R − start`, is
  `position_day`'s.
- The book against the timeline (seeded random days): trades booked through the live
  book and marked each evening leave, per instrument and strategy, the day P&L, quantity
  and average cost the timeline computes for that day from the ledger. On PostgreSQL:
  SQLite keeps a NUMERIC column as a float, so an average cost of more than 15
  significant digits (−5 at 4,900.37 then −8 at 5,010.71: 4,968.27153846153846…) comes
  back from the live row rounded, and the position's unrealized P&L can move by a cent.
"""

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio import services
from portfolio.ledger import (
    NOTHING,
    ZERO,
    Holdings,
    Terms,
    TradeLeg,
    dv01_local,
    mark_rule,
    notional_local,
    pnl_local,
    position_day,
    start_value,
    to_cents,
)
from portfolio.models import Position, PositionSnapshot, Price, Trade
from tests.factories import Di1Factory, FxRateFactory, StrategyFactory

TERMS = [
    Terms("price", D("50"), D("0")),  # an index future
    Terms("price", D("1"), D("0"), "funded"),  # an ETF bought outright
    Terms("yield", D("100000"), D("25")),  # a DI1 future
    Terms("price", D("1000"), D("0.35")),  # a bond future with a DV01
]
quotes = st.decimals(min_value=D("0.5"), max_value=D("20000"), places=4)
fx_rates = st.decimals(min_value=D("0.1"), max_value=D("8"), places=4)
quantities = st.integers(min_value=-300, max_value=300).filter(bool).map(D)
fees = st.decimals(min_value=D("0"), max_value=D("50"), places=2)
legs = st.builds(TradeLeg, quantities, quotes, fx_rates, fees)


def composed(terms: Terms, held: Holdings, quote: D, fx_rate: D) -> tuple[D, ...]:
    """A position's figures from the owner functions, by DESIGN.md's rules."""
    q, cost, cost_base = held.quantity, held.avg_cost, held.cost_base
    notional = to_cents(notional_local(terms, q, quote) * fx_rate)
    price_part = to_cents(pnl_local(terms, q, cost, quote) * fx_rate)
    dv01 = to_cents(dv01_local(terms, q) * fx_rate) if terms.dv01 else D("0.00")
    if terms.is_yield:  # the contract is worth its P&L
        return notional, price_part, price_part, dv01, ZERO
    if terms.is_funded:  # unrealized: market value − the cost paid, in base
        return notional, notional, notional - cost_base, dv01, notional - cost_base - price_part
    return notional, notional, price_part, dv01, ZERO


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TERMS),
    st.lists(legs, min_size=1, max_size=5),
    st.lists(legs, max_size=3),
    quotes,
    fx_rates,
    quotes,
    fx_rates,
)
def test_the_fast_forms_are_the_engines_day(terms, before, today, quote0, fx0, quote, fx):
    held = NOTHING
    for leg in before:
        held = held.after(terms, leg)
    start = start_value(terms, held, quote0, fx0)
    realized = held.realized
    for leg in today:  # the day's trades, one at a time, as the book books them
        booking = held.booked(terms, leg)
        assert booking.held.realized == held.realized + booking.realized
        assert booking.realized == booking.trade.realized_base - leg.fees
        held = booking.held
        realized += booking.realized
    day = position_day(terms, start, held, quote, fx)

    # The mark's fast form: the figures of `mark_rule`, daily P&L U + R − start.
    row = mark_rule(terms)(held.quantity, held.avg_cost, quote, fx, held.cost_base)
    assert held.realized == realized
    assert row == tuple(day.figures) == composed(terms, held, quote, fx)
    assert row[2] + held.realized - start == day.daily_pnl
    # The day's P&L is the move of the position's value from one close to the next.
    assert day.value == start_value(terms, held, quote, fx)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TERMS[:1] + TERMS[2:]), quantities, quotes, quotes, quotes, fx_rates)
def test_a_margined_days_pnl_without_trades_is_its_move(terms, q, cost, quote0, quote, fx):
    """Margined, no trade: the day is q's move from one close to the next, at the day's
    rate (each value rounded to the cent once, so the two agree within a cent)."""
    held = Holdings(q, cost, ZERO, ZERO)
    day = position_day(terms, start_value(terms, held, quote0, fx), held, quote, fx)
    assert abs(day.daily_pnl - pnl_local(terms, q, quote0, quote) * fx) <= D("0.01")


# --- The live book against the timeline ----------------------------------------------------

SEEDS = 10
DAYS = [dt.date(2024, 3, d) for d in (11, 12, 13, 14, 15)]
SYMBOLS = ("INDJ24", "ESH4", "DI1F27", "DI1J24")
START = {"INDJ24": D("100000"), "ESH4": D("5000"), "DI1F27": D("10.50"), "DI1J24": D("10.62")}


def _close(rng: random.Random, symbol: str, last: D) -> D:
    if symbol.startswith("DI1"):
        return (last + D(rng.randint(-8, 8)) / 100).quantize(D("0.01"))
    return (last * (1 + D(rng.randint(-150, 150)) / 10000)).quantize(D("0.25"))


def _trades(rng: random.Random, day: dt.date, closes: dict[str, D]) -> list:
    """A few trades of the day, at prices near the last close: adds, cuts and reversals."""
    requests = []
    for _ in range(rng.randint(1, 4)):
        symbol = rng.choice(SYMBOLS)
        strategy = rng.choice(("MACRO", "RV"))
        price = _close(rng, symbol, closes[symbol])
        quantity = D(rng.choice((-1, 1)) * rng.randint(1, 12))
        requests.append(services.TradeRequest(symbol, strategy, quantity, price, day))
    return requests


def _by_key(rows) -> dict[tuple[int, int], tuple[D, D, D]]:
    """Day P&L summed, and the open quantity and average cost, per instrument and strategy."""
    keys: dict[tuple[int, int], tuple[D, D, D]] = {}
    for instrument_id, strategy_id, daily, quantity, cost in rows:
        key = (instrument_id, strategy_id)
        pnl, held, avg = keys.get(key, (ZERO, ZERO, ZERO))
        keys[key] = (pnl + daily, held + quantity, cost if quantity else avg)
    return keys


@pytest.fixture
def b3_di1(db):
    """A DI1 valued as B3 settles it (`pricing = di1`), with the CDI of the week."""
    Di1Factory.create(symbol="DI1J24", maturity=dt.date(2024, 4, 1))
    rows = [{"benchmark": "CDI", "date": d, "rate": D("0.000401")} for d in DAYS[:3]]
    services.benchmark_rates_upsert(rows=rows, actor="ops")


@pytest.mark.postgres
@pytest.mark.parametrize("seed", range(SEEDS))
def test_the_books_days_are_the_timelines(seed, ibov, spx, di1, b3_di1, macro):
    StrategyFactory.create(code="RV")
    rng = random.Random(seed)
    services.capital_flow_create(date=DAYS[0], amount=D("10000000.00"), actor="ops")
    closes = dict(START)
    for day in DAYS:
        FxRateFactory(currency="USD", date=day, rate=D("4.9") + D(rng.randint(0, 30)) / 100)
        services.trades_book(
            requests=_trades(rng, day, closes), actor="pm", source=Trade.Source.API
        )
        closes = {s: _close(rng, s, closes[s]) for s in SYMBOLS}
        rows = [{"instrument": s, "date": day, "price": p} for s, p in closes.items()]
        services.prices_upsert(rows=rows, actor="ops")
        services.mark_to_market(as_of=day, actor="ops")
        live = Position.objects.filter(pnl_date=day).values_list(
            "instrument_id", "strategy_id", "daily_pnl_base", "quantity", "avg_cost"
        )
        services.snapshots_build(start=DAYS[0], end=day, actor="ops")
        timeline = PositionSnapshot.objects.filter(date=day).values_list(
            "instrument_id", "strategy_id", "daily_pnl_base", "quantity", "avg_cost"
        )
        assert _by_key(live) == _by_key(timeline), (seed, day)
    assert Price.objects.count() == len(DAYS) * len(SYMBOLS)
