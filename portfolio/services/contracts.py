"""Dated contracts' life: a position rolled into a later contract of its chain, and the
end of day that closes what is still open in a matured one. Both book their trades through
`trades_book`, so its checks, locks and audit apply."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from core.calendar import today
from core.errors import Conflict, RowErrors

from ..ledger import ZERO
from ..models import Instrument, Position, Trade
from ..selectors import latest_prices
from .audit import audit_record
from .live_day import lock_instruments
from .trades import TradeRequest, opened_after, traded_since_check, trades_book

# A roll books two trades, the close (row 0) and the open (row 1): their errors are told by
# the roll's own fields, e.g. the open's price is `price_to`.
_ROLL_FIELDS = ({"price": "price_from"}, {"price": "price_to", "instrument": "to"})


def _roll_target_problem(held: Instrument, target: Instrument | None, to: str, day: dt.date) -> str:
    """Why `to` cannot receive a roll of a position in `held` on `day`; "" when it can."""
    if target is None:
        return f"Unknown instrument {to!r}."
    if target.pk == held.pk:
        return f"The position is in {to} already: roll it into another contract of its chain."
    if not held.root:
        return f"{held.symbol} has no root (contract chain): it has nothing to roll into."
    if target.root != held.root:
        root = target.root or "no root"
        return f"{to} is of {root}, not of {held.root}: a roll stays within its chain."
    expires = target.expires_on
    if expires is not None and expires <= day:
        return f"{to} matured on {expires}: roll into a contract that matures after {day}."
    return ""


def _roll_errors(errors: dict[int, dict[str, list[str]]]) -> dict[str, list[str]]:
    """The two trades' row errors under the roll's fields."""
    named: dict[str, list[str]] = {}
    for index, problems in errors.items():
        for field, messages in problems.items():
            said = named.setdefault(_ROLL_FIELDS[index].get(field, field), [])
            said.extend(m for m in messages if m not in said)  # both legs share a date
    return named


def _roll_legs(
    position: Position,
    to: str,
    price_from: Decimal,
    price_to: Decimal,
    day: dt.date,
    fees: Decimal,
    confirm: bool,
) -> list[TradeRequest]:
    """A roll's two trades: the position closed at `price_from` (with the roll's fees), its
    quantity opened in `to` at `price_to`."""
    held_symbol = position.instrument.symbol
    closing_leg = TradeRequest(
        instrument=held_symbol,
        strategy=position.strategy.code,
        quantity=-position.quantity,
        price=price_from,
        trade_date=day,
        fees=fees,
        note=f"Roll into {to}",
        confirm=confirm,
    )
    opening_leg = replace(
        closing_leg,
        instrument=to,
        quantity=position.quantity,
        price=price_to,
        fees=ZERO,
        note=f"Roll from {held_symbol}",
    )
    return [closing_leg, opening_leg]


@transaction.atomic
def position_roll(
    *,
    position: Position,
    to: str,
    price_from: Decimal,
    price_to: Decimal,
    trade_date: dt.date | None = None,
    fees: Decimal = ZERO,
    confirm: bool = False,
    actor: str,
    source: str = Trade.Source.API,
    unchanged_since: int | None = None,
) -> tuple[Position, Position]:
    """Close an open position at `price_from` and open its signed quantity in the contract
    `to` of the same chain (root) at `price_to`, in the same strategy, in one transaction,
    audited (`position.roll`). `fees` (base) are the roll's, booked on the closing trade.

    Both instruments are locked and the position read again, as a close does: of two rolls
    at once the second finds it closed (Conflict); with `unchanged_since`, one that traded
    after that trade is not rolled either. Returns (the closed position, the position the
    quantity is now held in)."""
    day = trade_date or today()
    held_symbol = position.instrument.symbol  # fixed: the instrument has trades
    locked = lock_instruments(symbol__in={held_symbol, to})
    position = Position.objects.select_related("instrument", "strategy").get(pk=position.pk)
    if position.closed_at is not None:
        raise Conflict(f"Position {position.pk} was closed on {position.closed_at}.")
    if unchanged_since is not None:
        traded_since_check(
            instrument=held_symbol, strategy=position.strategy.code, since=unchanged_since
        )
    if day < position.opened_at:
        raise ValidationError({"trade_date": [opened_after(position, day)]})
    target = next((i for i in locked.values() if i.symbol == to), None)
    problem = _roll_target_problem(position.instrument, target, to, day)
    if problem:
        raise ValidationError({"to": [problem]})
    requests = _roll_legs(position, to, price_from, price_to, day, fees, confirm)
    try:
        closing, opening = trades_book(requests=requests, actor=actor, source=source)
    except RowErrors as row_errors:
        raise ValidationError(_roll_errors(row_errors.errors)) from None
    positions = Position.objects.select_related("instrument", "strategy")
    closed, opened = positions.get(pk=closing.position_id), positions.get(pk=opening.position_id)
    audit_record(
        actor=actor,
        action="position.roll",
        obj=closed,
        before={"position": position.pk, "instrument": held_symbol, "quantity": position.quantity},
        after={"position": opened.pk, "instrument": to, "trades": [closing.pk, opening.pk]},
        note=f"{held_symbol} → {to} on {day}",
    )
    return closed, opened


@dataclass(frozen=True)
class Expiry:
    """What an expiry did: the trades that closed matured positions at their final
    settlement, and the matured contracts left open for want of a close to settle at."""

    trades: list[Trade]
    unpriced: list[str]


@transaction.atomic
def positions_expire(*, as_of: dt.date, actor: str) -> Expiry:
    """Close every open position whose contract matured on or before `as_of` (its
    `expires_on`, a business day) with a trade dated at the maturity, at the final
    settlement: the contract's last close on or before it (for a DI1 its rate, which the
    engine settles at PU 100,000). Source "expiry": the one booking a matured contract
    takes. Runs again harmlessly: closed positions are not open any more.

    A matured contract with no close is left open and named in `unpriced`: no price is
    made up for it."""
    # The raw maturity is never after the business day it moves to: this finds them all.
    held = Position.objects.filter(closed_at__isnull=True, instrument__maturity__lte=as_of)
    locked = lock_instruments(pk__in=set(held.values_list("instrument_id", flat=True)))
    expiring = {
        pk: i.expires_on for pk, i in locked.items() if i.expires_on and i.expires_on <= as_of
    }
    # Read again under the locks: a close booked meanwhile is seen.
    positions = list(
        Position.objects.filter(closed_at__isnull=True, instrument_id__in=expiring)
        .select_related("instrument", "strategy")
        .order_by("pk")
    )
    by_day: dict[dt.date, set[int]] = defaultdict(set)
    for pk, day in expiring.items():
        by_day[day].add(pk)
    settlements = {
        pk: close
        for day, ids in by_day.items()
        for pk, (_, close) in latest_prices(day, ids).items()
    }
    requests = [
        TradeRequest(
            instrument=p.instrument.symbol,
            strategy=p.strategy.code,
            quantity=-p.quantity,
            price=settlements[p.instrument_id],
            trade_date=expiring[p.instrument_id],
            note=f"Expiry: final settlement of {p.instrument.symbol}",
        )
        for p in positions
        if p.instrument_id in settlements
    ]
    unpriced = sorted({p.instrument.symbol for p in positions} - {r.instrument for r in requests})
    if not requests:
        return Expiry(trades=[], unpriced=unpriced)
    trades = trades_book(requests=requests, actor=actor, source=Trade.Source.EXPIRY)
    return Expiry(trades=trades, unpriced=unpriced)
