"""Mark-to-market of the open book: set-based, audited."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from core.bulk import bulk_update_rows
from core.calendar import today
from core.errors import Conflict
from core.signals import data_changed

from ..ledger import ZERO, Terms, is_stale, mark_figures
from ..models import MARK_FIELDS, Position
from ..selectors import fx_rates_on, last_mark, latest_prices
from .audit import audit_record
from .trades import DayStart, lock_instruments


@dataclass
class MarkResult:
    as_of: dt.date
    positions_updated: int = 0
    stale: list[str] = field(default_factory=list)
    missing_fx: list[str] = field(default_factory=list)
    total_unrealized_pnl: Decimal = ZERO


_MTM_READ = (
    "pk",
    "instrument_id",
    "quantity",
    "avg_cost",
    "cost_base",
    "unrealized_pnl_base",
    "realized_pnl_base",
    "pnl_date",
    "sod_pnl_base",
)


@transaction.atomic
def mark_to_market(
    *, as_of: dt.date, actor: str, position_ids: Iterable[int] | None = None
) -> MarkResult:
    """Mark open positions to the latest price on or before `as_of`, set-based.

    Positions priced before `as_of` are marked at that older price and reported stale;
    positions with no price at all, or whose currency has no FX rate, keep their last mark
    and are reported too (stale, missing_fx) — never silently skipped. The book only moves
    forward: a date before its last mark is a Conflict. A position's first mark on a new
    day starts the day at the previous business day's close (`DayStart`).
    """
    if as_of > today():
        raise ValidationError({"date": [f"{as_of} is in the future."]})
    positions = Position.objects.filter(closed_at__isnull=True)
    if position_ids is not None:
        positions = positions.filter(pk__in=list(position_ids))
    instruments = lock_instruments(pk__in=positions.values("instrument_id"))
    mark = last_mark()
    if mark is not None and as_of < mark:
        raise Conflict(
            f"The book is marked as of {mark}: it is never marked back to {as_of}. A past "
            f"date is computed from the timeline: `manage.py run_pipeline eod --date {as_of}`."
        )
    day_start = DayStart(instruments)
    rows = list(positions.values_list(*_MTM_READ))
    prices = latest_prices(as_of, instruments)
    fx_rates = fx_rates_on(as_of, {i.currency for i in instruments.values()})
    terms = {pk: Terms.of(i) for pk, i in instruments.items()}

    result = MarkResult(as_of=as_of)
    stale: set[str] = set()
    missing_fx: set[str] = set()
    updates = []
    for pk, instrument_id, quantity, avg_cost, cost, unrealized, realized, pnl_date, sod in rows:
        instrument = instruments[instrument_id]
        priced = prices.get(instrument_id)
        fx_rate = fx_rates.get(instrument.currency)
        if is_stale(priced[0] if priced else None, as_of):
            stale.add(instrument.symbol)
        if fx_rate is None:
            missing_fx.add(instrument.currency)
        if priced is None or fx_rate is None:
            result.total_unrealized_pnl += unrealized
            continue
        sod, pnl_date = day_start.rolled(
            as_of, instrument_id, quantity, avg_cost, cost, unrealized, realized, pnl_date, sod
        )
        price_date, price = priced
        figures = mark_figures(terms[instrument_id], quantity, avg_cost, price, fx_rate, cost)
        daily = figures.unrealized_pnl_base + realized - sod
        updates.append(
            (
                pk,
                price,
                price_date,
                fx_rate,
                figures.notional_base,
                figures.market_value_base,
                figures.unrealized_pnl_base,
                daily,
                figures.dv01_base,
                figures.fx_pnl_base,
                pnl_date,
                sod,
            )
        )
        result.total_unrealized_pnl += figures.unrealized_pnl_base
    result.positions_updated = bulk_update_rows(Position, MARK_FIELDS, updates)
    data_changed.send(sender=Position, event="book")
    result.stale, result.missing_fx = sorted(stale), sorted(missing_fx)
    audit_record(
        actor=actor,
        action="book.mark_to_market",
        after={
            "as_of": as_of,
            "positions_updated": result.positions_updated,
            "stale": result.stale,
            "missing_fx": result.missing_fx,
            "total_unrealized_pnl": result.total_unrealized_pnl,
        },
    )
    return result
