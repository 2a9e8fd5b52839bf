"""Mark-to-market of the open book: set-based, audited."""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery

from core import inputs
from core.bulk import bulk_update_rows, collector_paused
from core.calendar import today
from core.errors import Conflict
from core.signals import data_changed

from ..ledger import ZERO, Terms, is_stale, mark_rule
from ..models import MARK_FIELDS, FxRate, Instrument, Position, Price
from ..selectors import ONE, base_currency, last_mark
from .audit import audit_record
from .trades import DayStart


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
    "next_pnl_date",
    "next_sod_pnl_base",
    "closed_at",
)
# A position closed by a trade dated after its P&L date, when a mark reaches that date:
# its day is the day it closed, started as kept aside.
_CLOSED_DAY = ("pnl_date", "sod_pnl_base", "daily_pnl_base", "next_pnl_date", "next_sod_pnl_base")
_TERMS = ("pk", "symbol", "currency", "quote_type", "multiplier", "dv01", "settlement")


def _lock_with_marks(as_of: dt.date, positions: QuerySet[Position]) -> dict[int, Any]:
    """The instruments of `positions`, locked in id order as trades lock them, each with
    its terms and its latest price (date, price) and FX rate on or before `as_of` (None
    where there is none; the base currency's rate is 1): one query."""
    prices = Price.objects.filter(instrument=OuterRef("pk"), date__lte=as_of).order_by("-date")
    rates = FxRate.objects.filter(currency=OuterRef("currency"), date__lte=as_of).order_by("-date")
    rows = (
        Instrument.objects.select_for_update()
        .filter(pk__in=positions.values("instrument_id"))
        .order_by("pk")
        .annotate(
            price_date=Subquery(prices.values("date")[:1]),
            price=Subquery(prices.values("price")[:1]),
            fx_rate=Subquery(rates.values("rate")[:1]),
        )
        .values_list(*_TERMS, "price_date", "price", "fx_rate", named=True)
    )
    base = base_currency()
    return {row.pk: row._replace(fx_rate=ONE) if row.currency == base else row for row in rows}


@collector_paused()
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

    Whatever the size of the book: one query locks the instruments and reads their marks,
    one reads the positions, one UPDATE writes them (`bulk_update_rows`), with the
    garbage collector paused.
    """
    if as_of > today():
        raise ValidationError({"date": [f"{as_of} is in the future."]})
    if inputs.business_day_problem(as_of):
        raise ValidationError({"date": [inputs.business_day_problem(as_of)]})
    positions = Position.objects.filter(
        Q(closed_at__isnull=True) | Q(next_pnl_date__lte=as_of)
    ).order_by()
    if position_ids is not None:
        positions = positions.filter(pk__in=list(position_ids))
    instruments = _lock_with_marks(as_of, positions)
    mark = last_mark()
    if mark is not None and as_of < mark:
        raise Conflict(
            f"The book is marked as of {mark}: it is never marked back to {as_of}. A past "
            f"date is computed from the timeline: `manage.py run_pipeline eod --date {as_of}`."
        )
    day_start = DayStart(instruments)

    result = MarkResult(as_of=as_of)
    held = instruments.values()
    result.stale = sorted({i.symbol for i in held if is_stale(i.price_date, as_of)})
    result.missing_fx = sorted({i.currency for i in held if i.fx_rate is None})
    # Per instrument, once: how its positions are marked, and its mark.
    marks = {
        pk: (mark_rule(Terms.of(i)), i.price, i.price_date, i.fx_rate)
        for pk, i in instruments.items()
        if i.price is not None and i.fx_rate is not None
    }
    updates, closed_today = [], []
    unrealized_total = ZERO
    for row in positions.values_list(*_MTM_READ):
        pk, instrument_id, quantity, avg_cost, cost, unrealized, realized, pnl_date, sod = row[:9]
        next_day, next_sod, closed_at = row[9:]
        if closed_at is not None:  # closed by a trade after its P&L date: that day is its last
            closed_today.append((pk, next_day, next_sod, realized - next_sod, None, None))
            continue
        mark_of = marks.get(instrument_id)
        if mark_of is None:  # no price or no FX rate: it keeps its last mark
            unrealized_total += unrealized
            continue
        figures_of, price, price_date, fx_rate = mark_of
        sod, pnl_date = day_start.rolled(
            as_of,
            instrument_id,
            quantity,
            avg_cost,
            cost,
            unrealized,
            realized,
            pnl_date,
            sod,
            (next_day, next_sod),
        )
        if next_day is not None and next_day <= pnl_date:
            next_day, next_sod = None, None
        notional, value, unrealized, dv01, fx_pnl = figures_of(
            quantity, avg_cost, price, fx_rate, cost
        )
        updates.append(
            (
                pk,
                price,
                price_date,
                fx_rate,
                notional,
                value,
                unrealized,
                unrealized + realized - sod,
                dv01,
                fx_pnl,
                pnl_date,
                sod,
                next_day,
                next_sod,
            )
        )
        unrealized_total += unrealized
    bulk_update_rows(Position, _CLOSED_DAY, closed_today)
    result.total_unrealized_pnl = unrealized_total
    result.positions_updated = bulk_update_rows(Position, MARK_FIELDS, updates)
    data_changed.send(sender=Position, event="book")
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


def positions_remark(*, earliest: Mapping[int, dt.date], actor: str) -> MarkResult | None:
    """Re-mark, at the book's valuation date, the open positions of the instruments whose
    close or FX rate was just written dated on or before it (`earliest`: the earliest date
    written, by instrument id). Run inside the write's transaction, so that no reader sees
    the new close beside the old mark."""
    valuation = last_mark()
    if valuation is None:
        return None
    affected = [pk for pk, day in earliest.items() if day <= valuation]
    held = Position.objects.filter(closed_at__isnull=True, instrument_id__in=affected)
    if not affected or not held.exists():
        return None
    return mark_to_market(
        as_of=valuation, actor=actor, position_ids=held.values_list("pk", flat=True)
    )
