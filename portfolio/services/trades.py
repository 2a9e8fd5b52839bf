"""Trades into the ledger and the positions they change, all or nothing, audited."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core import inputs
from core.bulk import bulk_update_rows
from core.calendar import today
from core.errors import Conflict, RowErrors
from core.formatting import jsonable, number
from core.rows import RowErrorMap
from core.signals import data_changed

from ..ledger import (
    ZERO,
    BookedTrade,
    Holdings,
    Terms,
    TradeLeg,
    size_local,
)
from ..models import HOLDING_FIELDS, MARK_FIELDS, AuditRecord, Instrument, Position, Strategy, Trade
from ..selectors import FxHistory, book_marked, close_due, last_mark
from .audit import model_state
from .live_day import (
    Closes,
    DayStart,
    hold,
    holdings_of,
    lock_instruments,
    pnl_day,
    remark,
)


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


# What a trade changes on a position: written back, and recorded in the audit trail.
_POSITION_STATE = (*HOLDING_FIELDS, "closed_at", *MARK_FIELDS)


def _position_state(position: Position) -> dict[str, Any]:
    return jsonable({name: getattr(position, name) for name in ("id", *_POSITION_STATE)})


def leg(request: TradeRequest, fx_rate: Decimal) -> TradeLeg:
    """A trade request as the position's day books it, at X(c, trade date)."""
    return TradeLeg(request.quantity, request.price, fx_rate, request.fees)


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
    quote = closes.quote(instrument.pk, pnl_day(request.trade_date), request.price)
    notional, dv01 = (v * fx_rate for v in size_local(instrument.terms, request.quantity, quote))
    too_large = inputs.size_problem(float(notional), float(dv01))
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
    for name, problem in (
        ("quantity", inputs.quantity_problem(request.quantity)),
        ("price", inputs.price_problem(request.price)),
        ("fees", inputs.fees_problem(request.fees)),
    ):
        if problem:
            problems[name] = [problem]
    day_problem = inputs.date_problem(request.trade_date) or inputs.weekend_problem(
        request.trade_date
    )
    if day_problem:
        problems["trade_date"] = [day_problem]
    return problems


def _matured_problems(
    request: TradeRequest, instrument: Instrument, source: str, valuation: dt.date | None
) -> dict[str, list[str]]:
    """A contract is not traded from its (business-day) maturity on; only the end of day's
    expiry books there, closing what is still open at the final settlement. Nor is it
    once the book is valued past its maturity (a trade dated before it, booked late): its
    positions were settled then, and one booked now would stay open in a dead contract."""
    expires = instrument.expires_on
    if expires is None or source == Trade.Source.EXPIRY:
        return {}
    if valuation is not None and request.trade_date < expires <= valuation:
        return {
            "trade_date": [
                f"{instrument.symbol} matured on {expires}, and the book, valued on "
                f"{valuation}, has settled its positions: a trade in it can no longer be "
                "booked, whatever its date."
            ]
        }
    if request.trade_date < expires:
        return {}
    chain = f" of the {instrument.root} chain" if instrument.root else ""
    return {
        "trade_date": [
            f"{instrument.symbol} matured on {expires}: it cannot be traded on or after that "
            f"day (its open positions are closed at the final settlement by that day's end "
            f"of day). Before the maturity, roll a position into a later contract{chain} "
            "with POST /api/positions/{id}/roll/; from then on, trade the later contract."
        ]
    }


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
        self.marked = book_marked()  # the close it was marked to, if it ever was
        self.valuation = self.marked or last_mark() or close_due()
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
            if instrument is not None:
                problems.update(_matured_problems(request, instrument, self.source, self.marked))
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
        trade = self.closes.di1.booked_at(instrument.pk, leg(request, fx_rate), day)
        self.day_start.keep_aside(position, request.trade_date, trade, terms)
        booking = holdings_of(position).booked(terms, trade)
        booked_on = self._apply_effect(position, booking.held, booking.trade, request, trade, terms)
        if day < position.pnl_date:  # back-dated: its day's start holds it already
            self.day_start.roll(position, position.pnl_date)
            remark(position, terms, self.closes)
        self._record(
            request, booked_on, before, fx_rate, booking.realized, booking.trade.realized_fx_base
        )
        return inputs.size_problem(float(booked_on.notional_base), float(booked_on.dv01_base))

    def _apply_effect(
        self,
        position: Position,
        held: Holdings,
        booked: BookedTrade,
        request: TradeRequest,
        trade: TradeLeg,
        terms: Terms,
    ) -> Position:
        """Write what a booked trade leaves (`held`) on the position; the position it leaves
        open (a new one, holding the remainder, when it crossed zero)."""
        if not (booked.local.crossed_zero or held.quantity == 0):
            hold(position, held)
            remark(position, terms, self.closes)
            return position
        hold(position, held._replace(quantity=ZERO, avg_cost=ZERO, cost_base=ZERO))
        position.closed_at = request.trade_date
        remark(position, terms, self.closes)
        del self.open_positions[(position.instrument_id, position.strategy_id)]
        if not booked.local.crossed_zero:
            return position
        opened = self._new_position(request, trade.fx_rate)
        self.day_start.keep_aside(opened, request.trade_date, trade, terms)  # starts empty
        hold(opened, held._replace(realized=ZERO))
        remark(opened, terms, self.closes)
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


def traded_since_check(*, instrument: str, strategy: str, since: int) -> None:
    """Conflict if `instrument` traded in `strategy` after trade `since` (the ledger's
    latest when a ticket was filled in): the ticket posted twice, or from a second tab,
    would trade a book that moved since. Called under the instrument's lock."""
    newer = (
        Trade.objects.filter(instrument__symbol=instrument, strategy__code=strategy, pk__gt=since)
        .order_by("-pk")
        .first()
    )
    if newer is not None:
        side = "bought" if newer.quantity > 0 else "sold"
        raise Conflict(
            f"{instrument} / {strategy} traded after this ticket was filled in: {side} "
            f"{abs(newer.quantity).normalize():f} at {newer.price.normalize():f} on "
            f"{newer.trade_date} by {newer.booked_by} (trade {newer.pk}). Nothing was "
            "booked: check the book, and submit again to trade all the same."
        )


@transaction.atomic
def trade_book(
    *, request: TradeRequest, actor: str, source: str, unchanged_since: int | None = None
) -> Trade:
    """Book one trade; its errors by field (a ValidationError), as a single object's are.
    With `unchanged_since` (a trade id), only if its instrument and strategy have not
    traded after that trade (`traded_since_check`)."""
    if unchanged_since is not None:
        lock_instruments(symbol=request.instrument)
        traded_since_check(
            instrument=request.instrument, strategy=request.strategy, since=unchanged_since
        )
    try:
        [trade] = trades_book(requests=[request], actor=actor, source=source)
    except RowErrors as row_errors:
        raise ValidationError(row_errors.errors[0]) from None
    return trade


def opened_after(position: Position, day: dt.date) -> str:
    """Why a close or roll of `position` cannot be dated `day`."""
    return (
        f"Position {position.pk} opened on {position.opened_at}: it cannot be closed or "
        f"rolled on {day}, before it was opened."
    )


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
    unchanged_since: int | None = None,
) -> Position:
    """Close all of an open position, or `quantity` (positive) of it, by booking a trade.

    The position is read again under its instrument's lock, as trades take it: of two
    closes at once the second finds it closed (Conflict), or sees what the first left.
    With `unchanged_since`, only if it has not traded after that trade."""
    lock_instruments(pk=position.instrument_id)
    position = Position.objects.select_related("instrument", "strategy").get(pk=position.pk)
    if position.closed_at is not None:
        raise Conflict(f"Position {position.pk} was closed on {position.closed_at}.")
    if unchanged_since is not None:
        traded_since_check(
            instrument=position.instrument.symbol,
            strategy=position.strategy.code,
            since=unchanged_since,
        )
    day = trade_date or today()
    if day < position.opened_at:
        raise ValidationError({"trade_date": [opened_after(position, day)]})
    held = abs(position.quantity)
    amount = held if quantity is None else quantity
    if amount <= 0:
        raise ValidationError({"quantity": ["The quantity to close must be positive."]})
    if amount > held:
        raise ValidationError(
            {"quantity": [f"Cannot close {number(amount)}: the position holds {number(held)}."]}
        )
    sign = 1 if position.quantity > 0 else -1
    request = TradeRequest(
        instrument=position.instrument.symbol,
        strategy=position.strategy.code,
        quantity=-sign * amount,
        price=price,
        trade_date=day,
        fees=fees,
        confirm=confirm,
    )
    trade = trade_book(request=request, actor=actor, source=source)
    return Position.objects.select_related("instrument", "strategy").get(pk=trade.position_id)
