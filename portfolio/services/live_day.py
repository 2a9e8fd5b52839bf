"""The live book's day: the start of a position's day (`DayStart`), the days its trades
keep aside until a mark reaches them (`Position.pending_days`), its figures at its mark
(`remark`, through `portfolio.ledger.position_day`), and the locks that order the book's
trades and marks. Used by the trades (`trades.py`) and the mark (`marking.py`)."""

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from django.db import connection

from core.calendar import on_or_after, previous_business_day

from ..ledger import NOTHING, ZERO, Holdings, Quote, Terms, TradeLeg, position_day, start_value
from ..models import HOLDING_FIELDS, Instrument, Position
from ..selectors import Di1Index, fx_rates_on, latest_prices

# PostgreSQL advisory lock of the live book: marks hold it alone, trades together.
BOOK_LOCK = 0x504D53  # "PMS"


def book_lock(*, exclusive: bool) -> None:
    """Order trades and marks of the live book, whatever instruments they touch: a trade
    booked while a mark runs (of another instrument too) waits for it, and so sees the
    valuation date it set. Taken before any instrument's row lock, by every path (no
    deadlock). SQLite runs one writing transaction at a time already."""
    if connection.vendor == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [BOOK_LOCK])


def lock_instruments(**filters: Any) -> dict[int, Instrument]:
    """Lock instruments in id order (no deadlocks): trades and marks of one instrument
    queue. The book's shared lock first (`book_lock`)."""
    book_lock(exclusive=False)
    return {
        i.pk: i for i in Instrument.objects.select_for_update().filter(**filters).order_by("pk")
    }


def remark(position: Position, terms: Terms, closes: "Closes") -> None:
    """The position's figures and daily P&L at its current mark (its close, on its P&L
    date): its day (`position_day`) from its start-of-day value."""
    assert position.last_price is not None and position.fx_rate is not None
    quote = closes.quote(position.instrument_id, position.pnl_date, position.last_price)
    day = position_day(terms, position.sod_pnl_base, holdings_of(position), quote, position.fx_rate)
    figures = day.figures
    position.notional_base = figures.notional_base
    position.market_value_base = figures.market_value_base
    position.unrealized_pnl_base = figures.unrealized_pnl_base
    position.fx_pnl_base = figures.fx_pnl_base
    position.dv01_base = figures.dv01_base
    position.daily_pnl_base = day.daily_pnl


class Priced(Protocol):
    """What the day's start needs of an instrument: an `Instrument`, or a mark's row."""

    @property
    def currency(self) -> str: ...

    @property
    def terms(self) -> Terms: ...


Closing = tuple[dict[int, tuple[dt.date, Decimal]], dict[str, Decimal]]


class Closes:
    """The latest close of some instruments, and FX rate of their currencies, on or before
    a day: two queries per distinct day, on first use."""

    def __init__(self, instruments: Mapping[int, Priced]):
        self.instruments = instruments
        self.days: dict[dt.date, Closing] = {}
        self.di1 = Di1Index({pk: i.terms for pk, i in instruments.items()})

    def on(self, day: dt.date) -> Closing:
        if day not in self.days:
            currencies = {i.currency for i in self.instruments.values()}
            self.days[day] = (
                latest_prices(day, self.instruments),
                fx_rates_on(day, currencies),
            )
        return self.days[day]

    def last_price(self, instrument_id: int, day: dt.date) -> Decimal | None:
        close = self.on(day)[0].get(instrument_id)
        return None if close is None else close[1]

    def quote(self, instrument_id: int, day: dt.date, close: Decimal) -> Quote:
        """What a position is marked at on `day` when its instrument closed at `close`:
        the close itself, or a DI1's `Di1Quote` there."""
        return self.di1.mark(instrument_id, day, close)


def pnl_day(trade_date: dt.date) -> dt.date:
    """The business day whose P&L a trade is in: its date, or the next business day for
    one done on a holiday of the fund's calendar (foreign markets trade on it)."""
    return on_or_after(trade_date)


def holdings_of(position: Position) -> Holdings:
    return Holdings._make(getattr(position, name) for name in HOLDING_FIELDS)


def hold(position: Position, held: Holdings) -> None:
    """Write `held` on the position (`holdings_of`'s inverse)."""
    for name, value in zip(HOLDING_FIELDS, held, strict=True):
        setattr(position, name, value)


# The days after a position's P&L date that trades were booked on, each with what the
# position held before that day's trades: stored as JSON text (`Position.pending_days`).
Pending = dict[dt.date, Holdings]


def pending_load(text: str) -> Pending:
    if not text:
        return {}
    return {
        dt.date.fromisoformat(day): Holdings(*(Decimal(v) for v in held))
        for day, held in json.loads(text).items()
    }


def pending_dump(pending: Pending) -> tuple[dt.date | None, str]:
    """(next_pnl_date, pending_days) of a position with these pending days."""
    text = json.dumps(
        {day.isoformat(): [str(v) for v in held] for day, held in sorted(pending.items())}
    )
    return (min(pending), text) if pending else (None, "")


class DayStart:
    """The start-of-day roll, the one rule of trades and marks alike.

    On a new P&L date `day`, a position's start-of-day value becomes what it held at the
    close of the business day before `day` (after the trades dated before `day`), valued
    at that close (the latest close and FX rate on or before it), so that its daily P&L is
    the move of `day` however long ago it was last marked, as in the fund's timeline.
    Without such a close (no price or FX rate yet) the holdings are valued at the
    position's last mark.
    """

    def __init__(self, instruments: Mapping[int, Priced], closes: Closes | None = None):
        self.instruments = instruments
        self.closes = closes or Closes(instruments)

    def value(
        self,
        day: dt.date,
        instrument_id: int,
        held: Holdings,
        mark: tuple[Decimal | None, Decimal | None],
    ) -> Decimal:
        """What `held` was worth at the close before `day` (at `mark`, the position's last
        (price, FX rate), where there is no close or rate)."""
        before = previous_business_day(day)
        prices, fx_rates = self.closes.on(before)
        instrument = self.instruments[instrument_id]
        close, fx_rate = prices.get(instrument_id), fx_rates.get(instrument.currency)
        quote = close[1] if close is not None else mark[0]
        fx_rate = fx_rate if fx_rate is not None else mark[1]
        if quote is None or fx_rate is None:
            return held.realized
        return start_value(
            instrument.terms, held, self.closes.quote(instrument_id, before, quote), fx_rate
        )

    def rolled(
        self,
        day: dt.date,
        instrument_id: int,
        held: Holdings,
        mark: tuple[Decimal | None, Decimal | None],
        pending: Pending,
    ) -> tuple[Decimal, Pending]:
        """(start-of-day value of `day`, the trade days left from it on) of a position
        that now holds `held`: what it held at the close before `day` is what it held
        before its first trade day on or after `day`, else what it holds now. Valued at
        the closes known now, so a late or corrected close is taken in by the next mark,
        re-marks of the same day included."""
        later = sorted(d for d in pending if d >= day)
        before = pending[later[0]] if later else held
        start = self.value(day, instrument_id, before, mark)
        return start, {d: pending[d] for d in later}

    def roll(self, position: Position, day: dt.date) -> None:
        """Start `day` on `position` (its P&L date is not later): its start-of-day value
        at the closes known now."""
        position.sod_pnl_base, pending = self.rolled(
            day,
            position.instrument_id,
            holdings_of(position),
            (position.last_price, position.fx_rate),
            pending_load(position.pending_days),
        )
        position.pnl_date = day
        position.next_pnl_date, position.pending_days = pending_dump(pending)

    def keep_aside(
        self, position: Position, trade_date: dt.date, trade: TradeLeg, terms: Terms
    ) -> None:
        """Before a trade: keep what the position held before its day's trades, if that
        day is not before its P&L date (the day's start, for the mark that reaches it or
        marks it again), and add the trade to what it held before any later trade day (a
        trade booked out of date order)."""
        pending = pending_load(position.pending_days)
        day = pnl_day(trade_date)
        later = sorted(d for d in pending if d > day)
        if day >= position.pnl_date:
            pending.setdefault(day, pending[later[0]] if later else holdings_of(position))
        for d in later:
            pending[d] = pending[d].after(terms, trade)
        position.next_pnl_date, position.pending_days = pending_dump(pending)


def di1_rebooked(
    terms: Terms, index: Di1Index, instrument_id: int, trades: list[Any], pending: list[dt.date]
) -> tuple[Holdings, Pending]:
    """What an open DI1 position holds, and held before each of its `pending` days, with
    the trades of its instrument and strategy (in trade order) booked again at the CDI
    corrections known now: a corrected close or CDI dated before a trade moves the unit
    value it pooled. A position that went flat or crossed zero starts again, as booking
    opens a new one."""
    held, before = NOTHING, {}
    for trade in trades:
        day = pnl_day(trade.trade_date)
        for waiting in (d for d in pending if d <= day and d not in before):
            before[waiting] = held
        leg = TradeLeg(trade.quantity, trade.price, trade.fx_rate, trade.fees)
        booked = held.booked(terms, index.booked_at(instrument_id, leg, day))
        held = booked.held
        if held.quantity == 0:
            held = NOTHING
        elif booked.trade.local.crossed_zero:
            held = held._replace(realized=ZERO)
    return held, {d: before.get(d, held) for d in pending}
