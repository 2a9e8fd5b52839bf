"""Trades into the ledger and the positions they change, all or nothing, audited."""

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from core import inputs
from core.bulk import bulk_update_rows
from core.calendar import on_or_after, previous_business_day, today
from core.errors import Conflict, RowErrors
from core.formatting import jsonable
from core.rows import RowErrorMap
from core.signals import data_changed

from ..ledger import ZERO, BookedTrade, Terms, book_trade, mark_figures, value_at
from ..models import MARK_FIELDS, AuditRecord, Instrument, Position, Strategy, Trade
from ..selectors import FxHistory, close_due, fx_rates_on, last_mark, latest_prices
from .audit import model_state


@dataclass(frozen=True)
class TradeRequest:
    """A trade to book: instrument by symbol, strategy by code, signed quantity."""

    instrument: str
    strategy: str
    quantity: Decimal
    price: Decimal
    trade_date: dt.date
    fees: Decimal = ZERO
    note: str = ""
    confirm: bool = False  # accepts a price outside PMS_PRICE_BAND of the last close


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


# What a trade changes on a position: written back, and recorded in the audit trail.
_POSITION_STATE = (
    "quantity",
    "avg_cost",
    "cost_base",
    "realized_pnl_base",
    "closed_at",
    *MARK_FIELDS,
)


def _position_state(position: Position) -> dict[str, Any]:
    return jsonable({name: getattr(position, name) for name in ("id", *_POSITION_STATE)})


def _remark(position: Position, terms: Terms) -> None:
    """Recompute base figures and daily P&L at the position's current mark."""
    assert position.last_price is not None and position.fx_rate is not None
    figures = mark_figures(
        terms,
        position.quantity,
        position.avg_cost,
        position.last_price,
        position.fx_rate,
        position.cost_base,
    )
    position.notional_base = figures.notional_base
    position.market_value_base = figures.market_value_base
    position.unrealized_pnl_base = figures.unrealized_pnl_base
    position.fx_pnl_base = figures.fx_pnl_base
    position.dv01_base = figures.dv01_base
    position.daily_pnl_base = (
        position.unrealized_pnl_base + position.realized_pnl_base - position.sod_pnl_base
    )


Closing = tuple[dict[int, tuple[dt.date, Decimal]], dict[str, Decimal]]


class Closes:
    """The latest close of some instruments, and FX rate of their currencies, on or before
    a day: two queries per distinct day, on first use."""

    def __init__(self, instruments: Mapping[int, Instrument]):
        self.instruments = instruments
        self.days: dict[dt.date, Closing] = {}

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


def pnl_day(trade_date: dt.date) -> dt.date:
    """The business day whose P&L a trade is in: its date, or the next business day for
    one done on a holiday of the fund's calendar (foreign markets trade on it)."""
    return on_or_after(trade_date)


class Holdings(NamedTuple):
    """What a position holds at a moment: the state its next trade starts from."""

    quantity: Decimal
    avg_cost: Decimal
    cost_base: Decimal
    realized: Decimal

    def after(self, terms: Terms, request: TradeRequest, fx_rate: Decimal) -> "Holdings":
        """These holdings with one more trade booked on them (fees realized)."""
        booked = book_trade(
            terms,
            self.quantity,
            self.avg_cost,
            self.cost_base,
            request.quantity,
            request.price,
            fx_rate,
        )
        return Holdings(
            booked.local.quantity,
            booked.local.avg_cost,
            booked.cost_base,
            self.realized + booked.realized_base - request.fees,
        )


def holdings_of(position: Position) -> Holdings:
    return Holdings(
        position.quantity, position.avg_cost, position.cost_base, position.realized_pnl_base
    )


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

    def __init__(self, instruments: Mapping[int, Instrument], closes: Closes | None = None):
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
        prices, fx_rates = self.closes.on(previous_business_day(day))
        instrument = self.instruments[instrument_id]
        close, fx_rate = prices.get(instrument_id), fx_rates.get(instrument.currency)
        quote = close[1] if close is not None else mark[0]
        fx_rate = fx_rate if fx_rate is not None else mark[1]
        if quote is None or fx_rate is None:
            return held.realized
        return value_at(
            Terms.of(instrument),
            held.quantity,
            held.avg_cost,
            held.realized,
            quote,
            fx_rate,
            held.cost_base,
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
        self, position: Position, request: TradeRequest, fx_rate: Decimal, terms: Terms
    ) -> None:
        """Before a trade: keep what the position held before its day's trades, if that
        day is not before its P&L date (the day's start, for the mark that reaches it or
        marks it again), and add the trade to what it held before any later trade day (a
        trade booked out of date order)."""
        pending = pending_load(position.pending_days)
        day = pnl_day(request.trade_date)
        later = sorted(d for d in pending if d > day)
        if day >= position.pnl_date:
            pending.setdefault(day, pending[later[0]] if later else holdings_of(position))
        for d in later:
            pending[d] = pending[d].after(terms, request, fx_rate)
        position.next_pnl_date, position.pending_days = pending_dump(pending)


def _open_position(
    instrument: Instrument,
    strategy: Strategy,
    request: TradeRequest,
    fx_rate: Decimal,
    valuation: dt.date,
    closes: Closes,
) -> Position:
    """A new position, on the P&L date of its trade or, traded after it, the book's
    valuation date; valued at the latest close and FX rate on or before that date (the
    trade's price and rate until its first close)."""
    day = min(pnl_day(request.trade_date), valuation)
    position = Position(
        instrument=instrument,
        strategy=strategy,
        quantity=ZERO,
        avg_cost=ZERO,
        last_price=request.price,
        price_date=request.trade_date,
        fx_rate=fx_rate,
        pnl_date=day,
        sod_pnl_base=ZERO,
        opened_at=request.trade_date,
    )
    prices, fx_rates = closes.on(day)
    close, rate = prices.get(instrument.pk), fx_rates.get(instrument.currency)
    if close is not None and rate is not None:
        position.price_date, position.last_price = close
        position.fx_rate = rate
    return position


def _size_and_band(
    request: TradeRequest, instrument: Instrument, fx: FxHistory, closes: Closes
) -> dict[str, list[str]]:
    """A trade's own size in base currency, and its price beside the last close."""
    fx_rate = fx.rate(instrument.currency, request.trade_date)
    assert fx_rate is not None
    quantity, rate = float(request.quantity), float(fx_rate)
    if instrument.quote_type == Instrument.QuoteType.YIELD:
        notional = quantity * float(instrument.multiplier) * rate
    else:
        notional = quantity * float(request.price) * float(instrument.multiplier) * rate
    too_large = inputs.size_problem(notional, quantity * float(instrument.dv01) * rate)
    if too_large:
        return {"quantity": [too_large]}
    last = closes.last_price(instrument.pk, request.trade_date)
    outlier = last and inputs.band_problem(instrument.quote_type, request.price, last)
    if outlier and not request.confirm:
        return {"price": [f"{outlier}: send confirm: true if it is right."]}
    return {}


def _request_problems(
    request: TradeRequest, instrument: Instrument | None, fx: FxHistory, known_strategy: bool
) -> dict[str, list[str]]:
    """What is wrong with one trade request on its own (field → messages)."""
    problems: dict[str, list[str]] = {}
    if instrument is None:
        problems["instrument"] = [f"Unknown instrument {request.instrument!r}."]
    elif not instrument.is_active:
        problems["instrument"] = [f"{request.instrument} is not active."]
    elif fx.rate(instrument.currency, request.trade_date) is None:
        problems["trade_date"] = [
            f"No {instrument.currency} FX rate on or before {request.trade_date}: "
            "load FX rates first."
        ]
    if not known_strategy:
        problems["strategy"] = [f"Unknown strategy {request.strategy!r}."]
    if request.quantity == 0:
        problems["quantity"] = ["A trade's quantity cannot be zero."]
    elif abs(request.quantity) > inputs.QUANTITY_MAX:
        problems["quantity"] = [f"At most {inputs.QUANTITY_MAX:,.0f} in one trade."]
    if not 0 < request.price <= inputs.PRICE_MAX:
        problems["price"] = [f"A trade's price is above 0 and at most {inputs.PRICE_MAX:,.0f}."]
    if not 0 <= request.fees <= inputs.FEES_MAX:
        problems["fees"] = [f"Fees are from 0 to {inputs.FEES_MAX:,.0f}."]
    day_problem = inputs.date_problem(request.trade_date) or inputs.weekend_problem(
        request.trade_date
    )
    if day_problem:
        problems["trade_date"] = [day_problem]
    return problems


class _Booking:
    """One batch of trades applied to the positions they change, in memory, then saved
    in a few statements.

    The book's valuation date (its last mark) does not move: a trade dated after it
    changes the quantities at once, valued at the close the book is marked to, and keeps
    the start of its own day aside for the mark that reaches it (`DayStart.keep_aside`).
    An earlier-dated trade starts its day on the position as the mark would.
    """

    def __init__(self, requests: Sequence[TradeRequest], *, actor: str, source: str):
        self.requests, self.actor, self.source = requests, actor, source
        self.instruments = lock_instruments(symbol__in={r.instrument for r in requests})
        self.by_symbol = {i.symbol: i for i in self.instruments.values()}
        self.closes = Closes(self.instruments)
        self.day_start = DayStart(self.instruments, self.closes)
        self.strategies = {
            s.code: s for s in Strategy.objects.filter(code__in={r.strategy for r in requests})
        }
        self.fx = FxHistory(
            {i.currency for i in self.instruments.values()},
            max((r.trade_date for r in requests), default=today()),
        )
        # The book's valuation date; an empty book's is the latest close due.
        self.valuation = last_mark() or close_due()
        self.open_positions: dict[tuple[int, int], Position] = {}
        self.touched: dict[int, Position] = {}  # existing positions, by id
        self.created: list[Position] = []  # new positions, in creation order
        self.trades: list[Trade] = []
        self.audits: list[tuple[Trade, dict[str, Any] | None, Position]] = []

    def check(self) -> None:
        """Every request's problems (RowErrors), then the open positions they trade."""
        requests = self.requests
        errors: RowErrorMap = {}
        for index, request in enumerate(requests):
            instrument = self.by_symbol.get(request.instrument)
            known = request.strategy in self.strategies
            problems = _request_problems(request, instrument, self.fx, known)
            if instrument is not None and not problems:
                problems.update(_size_and_band(request, instrument, self.fx, self.closes))
            if problems:
                errors[index] = problems
        if errors:
            raise RowErrors(errors)
        self.open_positions = {
            (p.instrument_id, p.strategy_id): p
            for p in Position.objects.filter(
                closed_at__isnull=True,
                instrument_id__in=[self.by_symbol[r.instrument].pk for r in requests],
                strategy_id__in=[self.strategies[r.strategy].pk for r in requests],
            )
        }

    def _new_position(self, request: TradeRequest, fx_rate: Decimal) -> Position:
        instrument = self.by_symbol[request.instrument]
        strategy = self.strategies[request.strategy]
        position = _open_position(
            instrument, strategy, request, fx_rate, self.valuation, self.closes
        )
        self.open_positions[(instrument.pk, strategy.pk)] = position
        self.created.append(position)
        return position

    def _position_for(self, request: TradeRequest, fx_rate: Decimal) -> Position:
        key = (self.by_symbol[request.instrument].pk, self.strategies[request.strategy].pk)
        position = self.open_positions.get(key)
        if position is None:
            return self._new_position(request, fx_rate)
        if position.pk is not None:
            self.touched[position.pk] = position
        return position

    def apply(self, request: TradeRequest) -> str | None:
        """Book one trade; why the position it leaves is too large, if it is."""
        instrument = self.by_symbol[request.instrument]
        terms = Terms.of(instrument)
        day = pnl_day(request.trade_date)
        fx_rate = self.fx.rate(instrument.currency, request.trade_date)
        assert fx_rate is not None
        position = self._position_for(request, fx_rate)
        before = _position_state(position) if position.pk is not None else None
        if position.pnl_date < day <= self.valuation:  # a day the book has valued
            self.day_start.roll(position, day)
        self.day_start.keep_aside(position, request, fx_rate, terms)
        booked = book_trade(
            terms,
            position.quantity,
            position.avg_cost,
            position.cost_base,
            request.quantity,
            request.price,
            fx_rate,
        )
        realized = booked.realized_base - request.fees
        position.realized_pnl_base += realized
        booked_on = self._apply_effect(position, booked, request, fx_rate, terms)
        if day < position.pnl_date:  # back-dated: its day's start holds it already
            self.day_start.roll(position, position.pnl_date)
            _remark(position, terms)
        self._record(request, booked_on, before, fx_rate, realized, booked.realized_fx_base)
        return inputs.size_problem(float(booked_on.notional_base), float(booked_on.dv01_base))

    def _apply_effect(
        self,
        position: Position,
        booked: BookedTrade,
        request: TradeRequest,
        fx_rate: Decimal,
        terms: Terms,
    ) -> Position:
        """Write a booked trade's quantities on the position; the position it leaves open
        (a new one when it crossed zero)."""
        effect = booked.local
        if not (effect.crossed_zero or effect.quantity == 0):
            position.quantity, position.avg_cost = effect.quantity, effect.avg_cost
            position.cost_base = booked.cost_base
            _remark(position, terms)
            return position
        position.quantity, position.avg_cost, position.cost_base = ZERO, ZERO, ZERO
        position.closed_at = request.trade_date
        _remark(position, terms)
        del self.open_positions[(position.instrument_id, position.strategy_id)]
        if not effect.crossed_zero:
            return position
        opened = self._new_position(request, fx_rate)
        self.day_start.keep_aside(opened, request, fx_rate, terms)  # its day starts empty
        opened.quantity, opened.avg_cost = effect.quantity, effect.avg_cost
        opened.cost_base = booked.cost_base
        _remark(opened, terms)
        return opened

    def _record(
        self,
        request: TradeRequest,
        position: Position,
        before: dict[str, Any] | None,
        fx_rate: Decimal,
        realized: Decimal,
        realized_fx: Decimal,
    ) -> None:
        trade = Trade(
            instrument=position.instrument,
            strategy=position.strategy,
            position=position,
            trade_date=request.trade_date,
            quantity=request.quantity,
            price=request.price,
            fees=request.fees,
            fx_rate=fx_rate,
            realized_pnl_base=realized,
            realized_fx_pnl_base=realized_fx,
            source=self.source,
            booked_by=self.actor,
            note=request.note,
        )
        self.trades.append(trade)
        self.audits.append((trade, before, position))

    def save(self) -> list[Trade]:
        # Existing positions first: one that closed frees its (instrument, strategy) slot
        # for the new position that the same batch may open.
        bulk_update_rows(
            Position,
            _POSITION_STATE,
            [
                (p.pk, *(getattr(p, name) for name in _POSITION_STATE))
                for p in self.touched.values()
            ],
        )
        Position.objects.bulk_create(self.created, batch_size=2000)
        Trade.objects.bulk_create(self.trades, batch_size=2000)
        data_changed.send(sender=Trade)
        AuditRecord.objects.bulk_create(
            [
                AuditRecord(
                    actor=self.actor,
                    action="trade.book",
                    object_type="Trade",
                    object_id=str(trade.pk),
                    before=before,
                    after={**_position_state(position), "trade": model_state(trade)},
                    note=trade.note,
                )
                for trade, before, position in self.audits
            ],
            batch_size=2000,
        )
        return self.trades


@transaction.atomic
def trades_book(*, requests: Sequence[TradeRequest], actor: str, source: str) -> list[Trade]:
    """Book trades into the ledger and update their positions, all or nothing.

    Average cost, realized P&L and crossing zero follow DESIGN.md; realized P&L is
    converted at X(c, trade date) and fees (base) are subtracted. Trades are applied in
    trade-date order (ties in the given order). Row errors name the request's index.
    """
    booking = _Booking(requests, actor=actor, source=source)
    booking.check()
    errors: RowErrorMap = {}
    for index, request in sorted(enumerate(requests), key=lambda item: item[1].trade_date):
        too_large = booking.apply(request)
        if too_large:
            errors[index] = {
                "quantity": [f"The position after this trade is too large: {too_large}"]
            }
    if errors:
        raise RowErrors(errors)
    return booking.save()


def trade_book(*, request: TradeRequest, actor: str, source: str) -> Trade:
    """Book one trade; its errors by field (a ValidationError), as a single object's are."""
    try:
        [trade] = trades_book(requests=[request], actor=actor, source=source)
    except RowErrors as row_errors:
        raise ValidationError(row_errors.errors[0]) from None
    return trade


@transaction.atomic
def position_close(
    *,
    position: Position,
    price: Decimal,
    quantity: Decimal | None = None,
    trade_date: dt.date | None = None,
    fees: Decimal = ZERO,
    confirm: bool = False,
    actor: str,
    source: str = Trade.Source.API,
) -> Position:
    """Close all of an open position, or `quantity` (positive) of it, by booking a trade.

    The position is read again under its instrument's lock, as trades take it: of two
    closes at once the second finds it closed (Conflict), or sees what the first left."""
    lock_instruments(pk=position.instrument_id)
    position = Position.objects.select_related("instrument", "strategy").get(pk=position.pk)
    if position.closed_at is not None:
        raise Conflict(f"Position {position.pk} was closed on {position.closed_at}.")
    held = abs(position.quantity)
    amount = held if quantity is None else quantity
    if amount <= 0:
        raise ValidationError({"quantity": ["The quantity to close must be positive."]})
    if amount > held:
        raise ValidationError({"quantity": [f"Cannot close {amount}: the position holds {held}."]})
    sign = 1 if position.quantity > 0 else -1
    request = TradeRequest(
        instrument=position.instrument.symbol,
        strategy=position.strategy.code,
        quantity=-sign * amount,
        price=price,
        trade_date=trade_date or today(),
        fees=fees,
        confirm=confirm,
    )
    trade = trade_book(request=request, actor=actor, source=source)
    return Position.objects.select_related("instrument", "strategy").get(pk=trade.position_id)
