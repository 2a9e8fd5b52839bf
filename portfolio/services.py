"""Writes of the position book. One call, one transaction; every book change is audited."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from pms_site.signals import data_changed

from .bulk import bulk_update_rows
from .calendar import today
from .errors import RowErrors
from .ledger import ZERO, Terms, apply_trade, mark_figures, to_cents
from .models import (
    MARK_FIELDS,
    AuditRecord,
    CapitalFlow,
    FxRate,
    Instrument,
    Position,
    Price,
    Strategy,
    Trade,
)
from .selectors import FxHistory, base_currency, decimal_str, fx_rates_on, latest_prices

# --- Audit --------------------------------------------------------------------------------


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = decimal_str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = [decimal_str(v) if isinstance(v, Decimal) else v for v in value]
        out[key] = value
    return out


def audit_record(
    *,
    actor: str,
    action: str,
    obj: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
) -> AuditRecord:
    return AuditRecord.objects.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        note=note,
    )


def model_state(obj: models.Model) -> dict[str, Any]:
    return jsonable({f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields})


# --- Market data --------------------------------------------------------------------------


RowErrorMap = dict[int, dict[str, list[str]]]


def resolve_references(
    rows: Sequence[Mapping[str, Any]],
    field_name: str,
    model: type[models.Model],
    key: str,
    errors: RowErrorMap,
) -> dict[Any, int]:
    """Ids of the objects the rows name in `field_name` (by `key`); unknown ones are errors."""
    ids = dict(
        model._default_manager.filter(
            **{f"{key}__in": {row[field_name] for row in rows}}
        ).values_list(key, "pk")
    )
    for index, row in enumerate(rows):
        if row[field_name] not in ids:
            errors.setdefault(index, {})[field_name] = [
                f"Unknown {model._meta.verbose_name} {row[field_name]!r}."
            ]
    return ids


def reject_future_dates(rows: Sequence[Mapping[str, Any]], errors: RowErrorMap) -> None:
    now = today()
    for index, row in enumerate(rows):
        if row["date"] > now:
            errors.setdefault(index, {})["date"] = [f"{row['date']} is in the future."]


def reject_duplicates(
    rows: Sequence[Mapping[str, Any]], key_fields: Sequence[str], errors: RowErrorMap
) -> None:
    """A batch names each key once: a later row with the same key is an error."""
    seen: dict[tuple[Any, ...], int] = {}
    label = " and ".join(", ".join(key_fields).rsplit(", ", 1))
    for index, row in enumerate(rows):
        key = tuple(row[name] for name in key_fields)
        if key in seen:
            errors.setdefault(index, {})[key_fields[0]] = [f"Same {label} as row {seen[key]}."]
        seen.setdefault(key, index)


def rows_upsert(
    model: Any, key_fields: Sequence[str], value_field: str, rows: list[dict[str, Any]]
) -> tuple[int, int]:
    """Insert or update rows by their key; answer (created, updated)."""
    existing = set(
        model.objects.filter(
            **{f"{name}__in": {row[name] for row in rows} for name in key_fields}
        ).values_list(*key_fields)
    )
    model.objects.bulk_create(
        [model(**row) for row in rows],
        update_conflicts=True,
        unique_fields=list(key_fields),
        update_fields=[value_field],
        batch_size=2000,
    )
    updated = sum(tuple(row[name] for name in key_fields) in existing for row in rows)
    return len(rows) - updated, updated


@transaction.atomic
def prices_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert closes per (instrument, date). Rows: {instrument: symbol, date, price > 0}.

    Every row is checked before anything is written; one bad row rejects the batch.
    """
    errors: RowErrorMap = {}
    ids = resolve_references(rows, "instrument", Instrument, "symbol", errors)
    reject_future_dates(rows, errors)
    reject_duplicates(rows, ("instrument", "date"), errors)
    if errors:
        raise RowErrors(errors)
    created, updated = rows_upsert(
        Price,
        ("instrument_id", "date"),
        "price",
        [
            {"instrument_id": ids[r["instrument"]], "date": r["date"], "price": r["price"]}
            for r in rows
        ],
    )
    data_changed.send(sender=Price, event="book")
    audit_record(
        actor=actor,
        action="prices.upsert",
        after={"created": created, "updated": updated, "instruments": sorted(ids)},
    )
    return created, updated


@transaction.atomic
def fx_rates_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert FX rates per (currency, date). Rows: {currency, date, rate > 0} (base per unit)."""
    errors: RowErrorMap = {}
    for index, row in enumerate(rows):
        if row["currency"] == base_currency():
            errors.setdefault(index, {})["currency"] = [
                f"{row['currency']} is the base currency; its rate is always 1."
            ]
    reject_future_dates(rows, errors)
    reject_duplicates(rows, ("currency", "date"), errors)
    if errors:
        raise RowErrors(errors)
    created, updated = rows_upsert(
        FxRate, ("currency", "date"), "rate", [dict(row) for row in rows]
    )
    data_changed.send(sender=FxRate, event="book")
    audit_record(
        actor=actor,
        action="fx_rates.upsert",
        after={
            "created": created,
            "updated": updated,
            "currencies": sorted({r["currency"] for r in rows}),
        },
    )
    return created, updated


@transaction.atomic
def capital_flow_create(
    *, date: dt.date, amount: Decimal, note: str = "", actor: str
) -> CapitalFlow:
    if amount == 0:
        raise ValidationError({"amount": ["A capital flow cannot be zero."]})
    flow = CapitalFlow.objects.create(date=date, amount=amount, note=note)
    audit_record(actor=actor, action="capital_flow.create", obj=flow, after=model_state(flow))
    return flow


# --- Trades -------------------------------------------------------------------------------


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


def _terms(instrument: Instrument) -> Terms:
    return Terms(instrument.quote_type, instrument.multiplier, instrument.dv01)


def _lock_instruments(**filters: Any) -> dict[int, Instrument]:
    """Lock instruments in id order (no deadlocks): trades and marks of one instrument queue."""
    return {
        i.pk: i for i in Instrument.objects.select_for_update().filter(**filters).order_by("pk")
    }


# What a trade changes on a position: written back, and recorded in the audit trail.
_POSITION_STATE = ("quantity", "avg_cost", "realized_pnl_base", "closed_at", *MARK_FIELDS)


def _position_state(position: Position) -> dict[str, Any]:
    return jsonable({name: getattr(position, name) for name in ("id", *_POSITION_STATE)})


def _remark(position: Position, terms: Terms) -> None:
    """Recompute base figures and daily P&L at the position's current mark."""
    assert position.last_price is not None and position.fx_rate is not None
    figures = mark_figures(
        terms, position.quantity, position.avg_cost, position.last_price, position.fx_rate
    )
    position.notional_base = figures.notional_base
    position.market_value_base = figures.market_value_base
    position.unrealized_pnl_base = figures.unrealized_pnl_base
    position.dv01_base = figures.dv01_base
    position.daily_pnl_base = (
        position.unrealized_pnl_base + position.realized_pnl_base - position.sod_pnl_base
    )


def _roll_day(position: Position, day: dt.date) -> None:
    """On a new P&L date, yesterday's close becomes the start of the day."""
    if day > position.pnl_date:
        position.sod_pnl_base = position.unrealized_pnl_base + position.realized_pnl_base
        position.pnl_date = day


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


@transaction.atomic
def trades_book(*, requests: Sequence[TradeRequest], actor: str, source: str) -> list[Trade]:
    """Book trades into the ledger and update their positions, all or nothing.

    Average cost, realized P&L and crossing zero follow DESIGN.md; realized P&L is
    converted at X(c, trade date) and fees (base) are subtracted. Trades are applied in
    trade-date order (ties in the given order). Row errors name the request's index.
    """
    instruments = _lock_instruments(symbol__in={r.instrument for r in requests})
    by_symbol = {i.symbol: i for i in instruments.values()}
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
        if request.price <= 0:
            problems["price"] = ["A trade's price must be positive."]
        if request.fees < 0:
            problems["fees"] = ["Fees cannot be negative."]
        if request.trade_date > now:
            problems["trade_date"] = [f"{request.trade_date} is in the future."]
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
    for request in sorted(requests, key=lambda r: r.trade_date):
        instrument, strategy = by_symbol[request.instrument], strategies[request.strategy]
        terms = _terms(instrument)
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
        _roll_day(position, request.trade_date)
        effect = apply_trade(
            terms, position.quantity, position.avg_cost, request.quantity, request.price
        )
        realized = to_cents(effect.realized_local * fx_rate) - request.fees
        position.realized_pnl_base += realized
        booked_on = position
        if effect.crossed_zero or effect.quantity == 0:
            position.quantity, position.avg_cost, position.closed_at = (
                ZERO,
                ZERO,
                request.trade_date,
            )
            _remark(position, terms)
            del open_positions[key]
            if effect.crossed_zero:
                booked_on = _open_position(instrument, strategy, request, fx_rate)
                booked_on.quantity, booked_on.avg_cost = effect.quantity, effect.avg_cost
                _remark(booked_on, terms)
                open_positions[key] = booked_on
                created.append(booked_on)
        else:
            position.quantity, position.avg_cost = effect.quantity, effect.avg_cost
            _remark(position, terms)
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
            source=source,
            booked_by=actor,
            note=request.note,
        )
        trades.append(trade)
        audits.append((trade, before, booked_on))

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
    )
    [trade] = trades_book(requests=[request], actor=actor, source=source)
    return Position.objects.select_related("instrument", "strategy").get(pk=trade.position_id)


# --- Mark-to-market -----------------------------------------------------------------------


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
    and are reported too (stale, missing_fx) — never silently skipped.
    """
    if as_of > today():
        raise ValidationError({"date": [f"{as_of} is in the future."]})
    positions = Position.objects.filter(closed_at__isnull=True)
    if position_ids is not None:
        positions = positions.filter(pk__in=list(position_ids))
    instruments = _lock_instruments(pk__in=positions.values("instrument_id"))
    rows = list(positions.values_list(*_MTM_READ))
    prices = latest_prices(as_of, instruments)
    fx_rates = fx_rates_on(as_of, {i.currency for i in instruments.values()})
    terms = {pk: _terms(i) for pk, i in instruments.items()}

    result = MarkResult(as_of=as_of)
    stale: set[str] = set()
    missing_fx: set[str] = set()
    updates = []
    for pk, instrument_id, quantity, avg_cost, unrealized, realized, pnl_date, sod in rows:
        instrument = instruments[instrument_id]
        priced = prices.get(instrument_id)
        fx_rate = fx_rates.get(instrument.currency)
        if priced is None or priced[0] < as_of:
            stale.add(instrument.symbol)
        if fx_rate is None:
            missing_fx.add(instrument.currency)
        if priced is None or fx_rate is None:
            result.total_unrealized_pnl += unrealized
            continue
        if as_of > pnl_date:
            sod, pnl_date = unrealized + realized, as_of
        price_date, price = priced
        figures = mark_figures(terms[instrument_id], quantity, avg_cost, price, fx_rate)
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
