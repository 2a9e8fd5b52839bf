"""Trades into the ledger and the positions they change, all or nothing, audited."""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core import inputs
from core.bulk import bulk_update_rows
from core.calendar import previous_business_day, today
from core.errors import RowErrors
from core.formatting import jsonable
from core.signals import data_changed

from ..ledger import ZERO, Terms, book_trade, mark_figures, value_at
from ..models import MARK_FIELDS, AuditRecord, Instrument, Position, Strategy, Trade
from ..selectors import FxHistory, fx_rates_on, latest_prices
from .audit import model_state
from .market_data import RowErrorMap


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


def lock_instruments(**filters: Any) -> dict[int, Instrument]:
    """Lock instruments in id order (no deadlocks): trades and marks of one instrument queue."""
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


class DayStart:
    """The start-of-day roll, the one rule of trades and marks alike.

    On a new P&L date `day`, a position's start-of-day value becomes its unrealized +
    realized P&L at the close of the business day before `day` (the latest close and FX
    rate on or before it), so that its daily P&L is the move of `day` however long ago it
    was last marked, as in the fund's timeline. Without such a close (no price or FX rate
    yet) it is the value at its last mark.
    """

    def __init__(self, instruments: Mapping[int, Instrument], closes: Closes | None = None):
        self.instruments = instruments
        self.closes = closes or Closes(instruments)

    def _closes_before(self, day: dt.date) -> Closing:
        return self.closes.on(previous_business_day(day))

    def value(
        self,
        day: dt.date,
        instrument_id: int,
        quantity: Decimal,
        avg_cost: Decimal,
        cost_base: Decimal,
        realized: Decimal,
        current: Decimal,
    ) -> Decimal:
        """The start-of-day value on `day` of a position (quantity, avg_cost, cost_base,
        realized) whose value at its last mark is `current`."""
        prices, fx_rates = self._closes_before(day)
        instrument = self.instruments[instrument_id]
        close, fx_rate = prices.get(instrument_id), fx_rates.get(instrument.currency)
        if close is None or fx_rate is None:
            return current
        terms = Terms.of(instrument)
        return value_at(terms, quantity, avg_cost, realized, close[1], fx_rate, cost_base)

    def rolled(
        self,
        day: dt.date,
        instrument_id: int,
        quantity: Decimal,
        avg_cost: Decimal,
        cost_base: Decimal,
        unrealized: Decimal,
        realized: Decimal,
        pnl_date: dt.date,
        sod: Decimal,
    ) -> tuple[Decimal, dt.date]:
        """(start-of-day value, P&L date) of a position on `day`: rolled to `day` when its
        P&L date is earlier, else as it is."""
        if day <= pnl_date:
            return sod, pnl_date
        current = unrealized + realized
        start = self.value(day, instrument_id, quantity, avg_cost, cost_base, realized, current)
        return start, day

    def roll(self, position: Position, day: dt.date) -> None:
        """Start `day` on `position` if its P&L date is earlier."""
        position.sod_pnl_base, position.pnl_date = self.rolled(
            day,
            position.instrument_id,
            position.quantity,
            position.avg_cost,
            position.cost_base,
            position.unrealized_pnl_base,
            position.realized_pnl_base,
            position.pnl_date,
            position.sod_pnl_base,
        )


def _open_position(
    instrument: Instrument, strategy: Strategy, request: TradeRequest, fx_rate: Decimal
) -> Position:
    # A new position is marked at its trade price until the next mark-to-market.
    return Position(
        instrument=instrument,
        strategy=strategy,
        quantity=ZERO,
        avg_cost=ZERO,
        last_price=request.price,
        price_date=request.trade_date,
        fx_rate=fx_rate,
        pnl_date=request.trade_date,
        sod_pnl_base=ZERO,
        opened_at=request.trade_date,
    )


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


@transaction.atomic
def trades_book(*, requests: Sequence[TradeRequest], actor: str, source: str) -> list[Trade]:
    """Book trades into the ledger and update their positions, all or nothing.

    Average cost, realized P&L and crossing zero follow DESIGN.md; realized P&L is
    converted at X(c, trade date) and fees (base) are subtracted. Trades are applied in
    trade-date order (ties in the given order). Row errors name the request's index.
    """
    instruments = lock_instruments(symbol__in={r.instrument for r in requests})
    by_symbol = {i.symbol: i for i in instruments.values()}
    closes = Closes(instruments)
    day_start = DayStart(instruments, closes)
    strategies = {
        s.code: s for s in Strategy.objects.filter(code__in={r.strategy for r in requests})
    }
    fx = FxHistory(
        {i.currency for i in instruments.values()},
        max((r.trade_date for r in requests), default=today()),
    )
    errors: RowErrorMap = {}
    now = today()
    for index, request in enumerate(requests):
        problems: dict[str, list[str]] = {}
        instrument = by_symbol.get(request.instrument)
        if instrument is None:
            problems["instrument"] = [f"Unknown instrument {request.instrument!r}."]
        elif not instrument.is_active:
            problems["instrument"] = [f"{request.instrument} is not active."]
        elif fx.rate(instrument.currency, request.trade_date) is None:
            problems["trade_date"] = [
                f"No {instrument.currency} FX rate on or before {request.trade_date}: "
                "load FX rates first."
            ]
        if request.strategy not in strategies:
            problems["strategy"] = [f"Unknown strategy {request.strategy!r}."]
        if request.quantity == 0:
            problems["quantity"] = ["A trade's quantity cannot be zero."]
        elif abs(request.quantity) > inputs.QUANTITY_MAX:
            problems["quantity"] = [f"At most {inputs.QUANTITY_MAX:,.0f} in one trade."]
        if not 0 < request.price <= inputs.PRICE_MAX:
            problems["price"] = [f"A trade's price is above 0 and at most {inputs.PRICE_MAX:,.0f}."]
        if not 0 <= request.fees <= inputs.FEES_MAX:
            problems["fees"] = [f"Fees are from 0 to {inputs.FEES_MAX:,.0f}."]
        day_problem = inputs.date_problem(request.trade_date, latest=now)
        if day_problem:
            problems["trade_date"] = [day_problem]
        if instrument is not None and not problems:
            problems.update(_size_and_band(request, instrument, fx, closes))
        if problems:
            errors[index] = problems
    if errors:
        raise RowErrors(errors)

    open_positions = {
        (p.instrument_id, p.strategy_id): p
        for p in Position.objects.filter(
            closed_at__isnull=True,
            instrument_id__in=[by_symbol[r.instrument].pk for r in requests],
            strategy_id__in=[strategies[r.strategy].pk for r in requests],
        )
    }
    touched: dict[int, Position] = {}  # existing positions, by id
    created: list[Position] = []  # new positions, in creation order
    trades: list[Trade] = []
    audits: list[tuple[Trade, dict[str, Any] | None, Position]] = []
    for index, request in sorted(enumerate(requests), key=lambda item: item[1].trade_date):
        instrument, strategy = by_symbol[request.instrument], strategies[request.strategy]
        terms = Terms.of(instrument)
        fx_rate = fx.rate(instrument.currency, request.trade_date)
        assert fx_rate is not None
        key = (instrument.pk, strategy.pk)
        position = open_positions.get(key)
        before = _position_state(position) if position is not None else None
        if position is None:
            position = _open_position(instrument, strategy, request, fx_rate)
            open_positions[key] = position
            created.append(position)
        elif position.pk is not None:
            touched[position.pk] = position
        day_start.roll(position, request.trade_date)
        booked = book_trade(
            terms,
            position.quantity,
            position.avg_cost,
            position.cost_base,
            request.quantity,
            request.price,
            fx_rate,
        )
        effect = booked.local
        realized = booked.realized_base - request.fees
        position.realized_pnl_base += realized
        booked_on = position
        if effect.crossed_zero or effect.quantity == 0:
            position.quantity, position.avg_cost, position.cost_base = ZERO, ZERO, ZERO
            position.closed_at = request.trade_date
            _remark(position, terms)
            del open_positions[key]
            if effect.crossed_zero:
                booked_on = _open_position(instrument, strategy, request, fx_rate)
                booked_on.quantity, booked_on.avg_cost = effect.quantity, effect.avg_cost
                booked_on.cost_base = booked.cost_base
                _remark(booked_on, terms)
                open_positions[key] = booked_on
                created.append(booked_on)
        else:
            position.quantity, position.avg_cost = effect.quantity, effect.avg_cost
            position.cost_base = booked.cost_base
            _remark(position, terms)
        too_large = inputs.size_problem(float(booked_on.notional_base), float(booked_on.dv01_base))
        if too_large:
            errors[index] = {
                "quantity": [f"The position after this trade is too large: {too_large}"]
            }
        trade = Trade(
            instrument=instrument,
            strategy=strategy,
            position=booked_on,
            trade_date=request.trade_date,
            quantity=request.quantity,
            price=request.price,
            fees=request.fees,
            fx_rate=fx_rate,
            realized_pnl_base=realized,
            realized_fx_pnl_base=booked.realized_fx_base,
            source=source,
            booked_by=actor,
            note=request.note,
        )
        trades.append(trade)
        audits.append((trade, before, booked_on))

    if errors:
        raise RowErrors(errors)
    # Existing positions first: one that closed frees its (instrument, strategy) slot
    # for the new position that the same batch may open.
    bulk_update_rows(
        Position,
        _POSITION_STATE,
        [(p.pk, *(getattr(p, name) for name in _POSITION_STATE)) for p in touched.values()],
    )
    Position.objects.bulk_create(created, batch_size=2000)
    Trade.objects.bulk_create(trades, batch_size=2000)
    data_changed.send(sender=Trade, event="book")
    AuditRecord.objects.bulk_create(
        [
            AuditRecord(
                actor=actor,
                action="trade.book",
                object_type="Trade",
                object_id=str(trade.pk),
                before=before,
                after={**_position_state(position), "trade": model_state(trade)},
                note=trade.note,
            )
            for trade, before, position in audits
        ],
        batch_size=2000,
    )
    return trades


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
    """Close all of an open position, or `quantity` (positive) of it, by booking a trade."""
    if position.closed_at is not None:
        raise ValidationError({"detail": [f"Position {position.pk} is already closed."]})
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
    [trade] = trades_book(requests=[request], actor=actor, source=source)
    return Position.objects.select_related("instrument", "strategy").get(pk=trade.position_id)
