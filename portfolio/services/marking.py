"""Mark-to-market of the open book: set-based, audited."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core import inputs
from core.bulk import bulk_update_rows, collector_paused
from core.calendar import previous_business_day
from core.errors import Conflict
from core.signals import data_changed

from ..ledger import ZERO, Holdings, Terms, is_stale, mark_rule
from ..models import HOLDING_FIELDS, MARK_FIELDS, BookMark, Instrument, Position, Trade
from ..selectors import Di1Index, last_mark, with_marks
from .audit import audit_record
from .live_day import (
    DayStart,
    Pending,
    book_lock,
    di1_rebooked,
    pending_dump,
    pending_load,
)


@dataclass
class MarkResult:
    as_of: dt.date
    positions_updated: int = 0
    stale: list[str] = field(default_factory=list)
    missing_fx: list[str] = field(default_factory=list)
    total_unrealized_pnl: Decimal = ZERO
    # DI1 settlements used the CDI of these days carried from the day before, or none.
    cdi_carried: list[dt.date] = field(default_factory=list)
    cdi_missing: list[dt.date] = field(default_factory=list)


_MTM_READ = (
    "pk",
    "instrument_id",
    *HOLDING_FIELDS,
    "unrealized_pnl_base",
    "pending_days",
    "pnl_date",
    "sod_pnl_base",
)
# A position closed by a trade dated after its P&L date, when a mark reaches that date or
# passes it: it is rolled to the earlier of the mark's date and the day it closed.
_CLOSED_DAY = ("pnl_date", "sod_pnl_base", "daily_pnl_base", "next_pnl_date", "pending_days")
_TERMS = (
    "pk",
    "symbol",
    "currency",
    "quote_type",
    "multiplier",
    "dv01",
    "settlement",
    "pricing",
    "maturity",
)


class InstrumentMark(NamedTuple):
    """A held instrument's terms and its mark for a date: its latest close (date, price)
    and its currency's FX rate on or before it (None where there is none)."""

    pk: int
    symbol: str
    currency: str
    terms: Terms
    price_date: dt.date | None
    price: Decimal | None
    fx_rate: Decimal | None


def _lock_with_marks(as_of: dt.date, positions: QuerySet[Position]) -> dict[int, InstrumentMark]:
    """The instruments of `positions`, locked in id order as trades lock them, each with
    its terms and its mark on `as_of` (`selectors.with_marks`): one query."""
    locked = (
        Instrument.objects.select_for_update()
        .filter(pk__in=positions.values("instrument_id"))
        .order_by("pk")
    )
    rows = with_marks(locked, as_of).values_list(
        *_TERMS, "price_date", "price", "fx_rate", named=True
    )
    return {
        row.pk: InstrumentMark(
            row.pk, row.symbol, row.currency, Terms.of(row), row.price_date, row.price, row.fx_rate
        )
        for row in rows
    }


class _Marks:
    """The rows one mark writes: open positions marked (MARK_FIELDS), positions closed by
    a pending trade rolled to their last day (_CLOSED_DAY)."""

    def __init__(
        self,
        as_of: dt.date,
        instruments: dict[int, InstrumentMark],
        positions: QuerySet[Position],
        *,
        restart: bool,
    ):
        self.as_of, self.restart, self.positions = as_of, restart, positions
        self.last_marks: dict[int, tuple[Decimal | None, Decimal | None]] | None = None
        self.day_start = DayStart(instruments)
        # Per instrument, once: how its positions are marked, and its mark.
        closes = self.day_start.closes
        self.marks = {
            pk: (
                mark_rule(i.terms),
                i.price,
                closes.quote(pk, as_of, i.price),
                i.price_date,
                i.fx_rate,
            )
            for pk, i in instruments.items()
            if i.price is not None and i.fx_rate is not None
        }
        self.open: list[tuple[Any, ...]] = []
        self.closed: list[tuple[Any, ...]] = []
        self.unrealized = ZERO

    def _last_mark(self, pk: int, instrument_id: int, day: dt.date) -> tuple[Any, Any]:
        """A position's last (price, FX rate), where its instrument has no close or rate
        before `day` to value the day's start at (read once, for all, when first needed)."""
        prices, rates = self.day_start.closes.on(previous_business_day(day))
        if instrument_id in prices and self.day_start.instruments[instrument_id].currency in rates:
            return None, None
        if self.last_marks is None:
            rows = self.positions.values_list("pk", "last_price", "fx_rate")
            self.last_marks = {pk: (price, rate) for pk, price, rate in rows}
        return self.last_marks[pk]

    def _start(self, day: dt.date, row: tuple[Any, ...]) -> tuple[Decimal, Pending]:
        """`DayStart.rolled` of a row read by the mark."""
        pk, instrument_id, pending = row[0], row[1], row[7]
        held = Holdings._make(row[2:6])
        mark = self._last_mark(pk, instrument_id, day)
        return self.day_start.rolled(day, instrument_id, held, mark, pending_load(pending))

    def add(self, row: tuple[Any, ...]) -> None:
        pk, instrument_id, quantity, avg_cost, cost, realized, unrealized, pending = row[:8]
        pnl_date, sod = row[8:]
        if not quantity:  # closed on a trade day this mark reaches (or passes): its last
            closed_on = max(pending_load(pending))
            start, left = self._start(min(self.as_of, closed_on), row)
            final = pending_dump({} if closed_on <= self.as_of else left)
            self.closed.append((pk, min(self.as_of, closed_on), start, realized - start, *final))
            return
        mark_of = self.marks.get(instrument_id)
        if mark_of is None:  # no price or no FX rate: it keeps its last mark
            self.unrealized += unrealized
            return
        figures_of, price, quote, price_date, fx_rate = mark_of
        next_day = None  # no trade day pending (`pending` is empty), unless rolled below
        if self.restart or pending or self.as_of > pnl_date:  # else its day's start stands
            sod, left = self._start(self.as_of, row)
            pnl_date, (next_day, pending) = self.as_of, pending_dump(left)
        notional, value, unrealized, dv01, fx_pnl = figures_of(
            quantity, avg_cost, quote, fx_rate, cost
        )
        daily = unrealized + realized - sod  # `position_day`'s, in its fast form
        self.open.append(
            (
                *(pk, price, price_date, fx_rate, notional, value, unrealized, daily),
                *(dv01, fx_pnl, pnl_date, sod, next_day, pending),
            )
        )
        self.unrealized += unrealized


def _refuse_backwards(as_of: dt.date) -> None:
    mark = last_mark()
    if mark is not None and as_of < mark:
        raise Conflict(
            f"The book is marked as of {mark}: it is never marked back to {as_of}. A past "
            f"date is computed from the timeline: `manage.py run_pipeline eod --date {as_of}`."
        )


@collector_paused()
@transaction.atomic
def mark_to_market(
    *,
    as_of: dt.date,
    actor: str,
    position_ids: Iterable[int] | None = None,
    restart: bool = False,
) -> MarkResult:
    """Mark open positions to the latest price on or before `as_of`, set-based, and make
    `as_of` the book's valuation date.

    Positions priced before `as_of` are marked at that older price and reported stale;
    positions with no price at all, or whose currency has no FX rate, keep their last mark
    and are reported too (stale, missing_fx) — never silently skipped. The book only moves
    forward: a date before its last mark is a Conflict. A position's first mark on a new
    day starts the day at the previous business day's close (`DayStart`); one closed by a
    trade dated after its last mark is rolled to its last day. A position marked again on
    its day keeps its day's start, unless it traded that day or `restart` (a close or FX
    rate before the day was written) asks for it again.

    Whatever the size of the book: a few queries lock the book and its instruments and
    read their marks and the positions, one UPDATE writes them (`bulk_update_rows`), with
    the garbage collector paused.
    """
    problem = inputs.date_problem(as_of) or inputs.business_day_problem(as_of)
    if problem:
        raise ValidationError({"date": [problem]})
    book_lock(exclusive=True)
    positions = Position.objects.filter(
        Q(closed_at__isnull=True) | Q(next_pnl_date__isnull=False, pnl_date__lt=as_of)
    ).order_by()
    if position_ids is not None:
        positions = positions.filter(pk__in=list(position_ids))
    instruments = _lock_with_marks(as_of, positions)
    _refuse_backwards(as_of)
    marks = _Marks(as_of, instruments, positions, restart=restart)
    for row in positions.values_list(*_MTM_READ):
        marks.add(row)
    held = instruments.values()
    result = MarkResult(
        as_of=as_of,
        positions_updated=bulk_update_rows(Position, MARK_FIELDS, marks.open),
        stale=sorted({i.symbol for i in held if is_stale(i.price_date, as_of)}),
        missing_fx=sorted({i.currency for i in held if i.fx_rate is None}),
        total_unrealized_pnl=marks.unrealized,
    )
    gaps = marks.day_start.closes.di1.cdi_gaps(previous_business_day(as_of), as_of)
    result.cdi_carried, result.cdi_missing = gaps
    bulk_update_rows(Position, _CLOSED_DAY, marks.closed)
    _marked(result, actor)
    return result


def _marked(result: MarkResult, actor: str) -> None:
    """A mark's last writes: the book's valuation date (never earlier: refused before),
    the cache's signal, the audit record."""
    BookMark.objects.bulk_create(
        [BookMark(pk=1, date=result.as_of, marked_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["date", "marked_at"],
    )
    data_changed.send(sender=Position)
    audit_record(
        actor=actor,
        action="book.mark_to_market",
        after={
            "as_of": result.as_of,
            "positions_updated": result.positions_updated,
            "stale": result.stale,
            "missing_fx": result.missing_fx,
            "total_unrealized_pnl": result.total_unrealized_pnl,
            "cdi_carried": [day.isoformat() for day in result.cdi_carried],
            "cdi_missing": [day.isoformat() for day in result.cdi_missing],
        },
    )


def positions_remark(*, earliest: Mapping[int, dt.date], actor: str) -> MarkResult | None:
    """Re-mark, at the book's valuation date, the open positions of the instruments whose
    close or FX rate was just written dated on or before it (`earliest`: the earliest date
    written, by instrument id). Run inside the write's transaction, so that no reader sees
    the new close beside the old mark."""
    book_lock(exclusive=True)  # the valuation date read here is the one marked to
    valuation = last_mark()
    if valuation is None:
        return None
    affected = [pk for pk, day in earliest.items() if day <= valuation]
    held = Position.objects.filter(closed_at__isnull=True, instrument_id__in=affected)
    if not affected or not held.exists():
        return None
    _di1_rebook(held.filter(instrument__pricing=Instrument.Pricing.DI1))
    return mark_to_market(
        as_of=valuation,
        actor=actor,
        position_ids=held.values_list("pk", flat=True),
        restart=True,
    )


_REBOOK_READ = (
    "instrument_id",
    "strategy_id",
    "trade_date",
    "quantity",
    "price",
    "fx_rate",
    "fees",
)


def _di1_rebook(positions: QuerySet[Position]) -> None:
    """The holdings of these open DI1 positions (and before their pending days) booked
    again from their trades at the CDI corrections known now (`live_day.di1_rebooked`),
    for the re-mark that follows: a close or CDI written for a day the book has valued
    moves the unit values their trades pooled. Two queries and one UPDATE."""
    rows = list(positions.values_list("pk", "instrument_id", "strategy_id", "pending_days"))
    if not rows:
        return
    terms = {i.pk: i.terms for i in Instrument.objects.filter(pk__in={r[1] for r in rows})}
    trades: dict[tuple[int, int], list[Any]] = defaultdict(list)
    ledger = Trade.objects.filter(
        instrument_id__in=terms, strategy_id__in={r[2] for r in rows}
    ).order_by("trade_date", "id")
    for trade in ledger.values_list(*_REBOOK_READ, named=True):
        trades[(trade.instrument_id, trade.strategy_id)].append(trade)
    index, rebooked = Di1Index(terms), []
    for pk, instrument_id, strategy_id, pending_text in rows:
        pending = sorted(pending_load(pending_text))
        its_trades = trades[(instrument_id, strategy_id)]
        held, before = di1_rebooked(terms[instrument_id], index, instrument_id, its_trades, pending)
        rebooked.append((pk, *held, pending_dump(before)[1]))
    bulk_update_rows(Position, (*HOLDING_FIELDS, "pending_days"), rebooked)
