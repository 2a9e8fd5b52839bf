"""Writes of the trade workflow: signals in, proposals generated, proposals decided.

One call, one transaction. A decision locks its proposal row, so a proposal is decided
once however many people press the button; approving books the trade in the same
transaction. Every decision is an audit record.
"""

import datetime as dt
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from core.calendar import business_days_ending, previous_business_day, today
from core.errors import Conflict, RowErrors
from portfolio.ledger import Terms, mark_figures
from portfolio.models import AuditRecord, Instrument, Position, Price, Strategy, Trade
from portfolio.selectors import (
    BookState,
    book_state,
    book_state_on,
    fx_rates_on,
    latest_prices,
)
from portfolio.services import (
    RowErrorMap,
    TradeRequest,
    audit_record,
    fund_inception_or_error,
    jsonable,
    model_state,
    reject_dates_outside,
    reject_duplicates,
    resolve_references,
    rows_upsert,
    trades_book,
)
from risk.engine import instrument_moves
from risk.selectors import Book, WhatIf, market_levels, risk_compute

from . import sizing
from .models import Signal, TradeProposal

SIGMA_RETURNS = 60  # daily returns in a proposal's volatility estimate


# --- Signals ------------------------------------------------------------------------------


@transaction.atomic
def signals_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert scores per (instrument, strategy, date): {instrument, strategy, date, score}.

    Every row is checked before anything is written; one bad row rejects the batch.
    """
    errors: RowErrorMap = {}
    instruments = resolve_references(rows, "instrument", Instrument, "symbol", errors)
    strategies = resolve_references(rows, "strategy", Strategy, "code", errors)
    for index, row in enumerate(rows):
        if not -1 <= row["score"] <= 1:
            errors.setdefault(index, {})["score"] = ["A score is between -1 and 1."]
    reject_dates_outside(rows, errors)
    reject_duplicates(rows, ("instrument", "strategy", "date"), errors)
    if errors:
        raise RowErrors(errors)
    created, updated = rows_upsert(
        Signal,
        ("instrument_id", "strategy_id", "date"),
        "score",
        [
            {
                "instrument_id": instruments[row["instrument"]],
                "strategy_id": strategies[row["strategy"]],
                "date": row["date"],
                "score": row["score"],
            }
            for row in rows
        ],
    )
    audit_record(
        actor=actor,
        action="signals.upsert",
        after={"created": created, "updated": updated, "strategies": sorted(strategies)},
    )
    return created, updated


# --- Generation ---------------------------------------------------------------------------


@dataclass
class Generation:
    """What `proposal_generate` did for a date."""

    date: dt.date
    created: list[TradeProposal] = field(default_factory=list)
    expired: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {instrument, strategy, reason}


def latest_signals(day: dt.date) -> list[Signal]:
    """Each strategy's signals of its latest signal date on or before `day`."""
    latest = (
        Signal.objects.filter(date__lte=day)
        .values_list("strategy_id")
        .annotate(latest=Max("date"))
        .values_list("strategy_id", "latest")
    )
    wanted = [Q(strategy_id=strategy, date=last) for strategy, last in latest]
    if not wanted:
        return []
    return list(
        Signal.objects.filter(reduce(operator.or_, wanted))
        .select_related("instrument", "strategy")
        .order_by("strategy__code", "instrument__symbol")
    )


def _expire(day: dt.date, actor: str) -> int:
    """Pending proposals of dates before `day` expire; each gets its audit record."""
    ids = list(
        TradeProposal.objects.select_for_update()
        .filter(status=TradeProposal.Status.PENDING, date__lt=day)
        .values_list("pk", flat=True)
    )
    TradeProposal.objects.filter(pk__in=ids).update(status=TradeProposal.Status.EXPIRED)
    AuditRecord.objects.bulk_create(
        [
            AuditRecord(
                actor=actor,
                action="proposal.expire",
                object_type="TradeProposal",
                object_id=str(pk),
                before={"status": TradeProposal.Status.PENDING},
                after={"status": TradeProposal.Status.EXPIRED},
                note=f"Not decided before the proposals of {day} were generated.",
            )
            for pk in ids
        ],
        batch_size=2000,
    )
    return len(ids)


def _placeholder(signal: Signal) -> dict[str, Any]:
    """A book row for a position the trade would open: nothing held yet."""
    instrument = signal.instrument
    return {
        "instrument_id": instrument.pk,
        "instrument": instrument.symbol,
        "strategy": signal.strategy.code,
        "asset_class": instrument.asset_class,
        "currency": instrument.currency,
        "quote_type": instrument.quote_type,
        "quantity": Decimal(0),
        "notional_base": Decimal(0),
        "dv01_base": Decimal(0),
        "daily_pnl_base": Decimal(0),
        "pnl_date": None,
    }


@dataclass(frozen=True)
class Sized:
    """A signal sized into a trade: where it lands in the book and what it adds to it."""

    signal: Signal
    row: int  # the position's row in the what-if book
    quantity: Decimal
    rationale: dict[str, Any]
    notional_cents: int
    dv01_cents: int


class Sizer:
    """The market and the book that signals are sized against, loaded once for all of them:
    the book with a zero row for each position a signal would open, σ over the last
    SIGMA_RETURNS moves, and the latest prices and FX rates on or before `market_date`."""

    def __init__(self, signals: list[Signal], state: BookState, market_date: dt.date):
        self.row_of = {
            (r["instrument_id"], r["strategy"]): i for i, r in enumerate(state.positions)
        }
        extra: list[dict[str, Any]] = []
        for signal in signals:
            key = (signal.instrument_id, signal.strategy.code)
            if key not in self.row_of:
                self.row_of[key] = len(state.positions) + len(extra)
                extra.append(_placeholder(signal))
        self.rows = [*state.positions, *extra]
        self.book = Book.load(state, extra)
        self.market_date = market_date
        grid = business_days_ending(market_date, SIGMA_RETURNS + 1)
        levels, self.has_history = market_levels(self.book, grid)
        levels[:, ~self.has_history] = 1.0
        self.sigma = instrument_moves(levels, self.book.column_is_yield).std(axis=0, ddof=1)
        self.column = {pk: i for i, pk in enumerate(self.book.instrument_ids)}
        self.prices = latest_prices(market_date, self.column)
        self.fx_rates = fx_rates_on(market_date, {s.instrument.currency for s in signals})

    def size(self, signal: Signal) -> Sized | str:
        """The signal's trade, or why there is none."""
        instrument, strategy = signal.instrument, signal.strategy
        terms = Terms(instrument.quote_type, instrument.multiplier, instrument.dv01)
        priced, fx_rate = self.prices.get(instrument.pk), self.fx_rates.get(instrument.currency)
        col = self.column[instrument.pk]
        if priced is None:
            return f"no price on or before {self.market_date}"
        if fx_rate is None:
            return f"no {instrument.currency} FX rate on or before {self.market_date}"
        if not self.has_history[col]:
            return f"fewer than {SIGMA_RETURNS} daily moves to {self.market_date}"
        if self.sigma[col] == 0:
            return f"no movement in the last {SIGMA_RETURNS} days (σ = 0)"
        price_date, price = priced
        sigma = Decimal(repr(float(self.sigma[col])))
        unit = sizing.unit_value(terms, price, fx_rate)
        row = self.row_of[(instrument.pk, strategy.code)]
        current = self.rows[row]["quantity"]
        size = sizing.size_trade(
            target=sizing.target_quantity(signal.score, strategy.risk_budget, sigma, unit),
            current=current,
            lot_size=instrument.lot_size,
            min_trade_fraction=strategy.min_trade_fraction,
        )
        if size.reason:
            return size.reason
        # The trade's own figures at the price it was sized at: what it adds to the book.
        figures = mark_figures(terms, size.trade, price, price, fx_rate)
        rationale = {
            "signal_date": signal.date,
            "score": signal.score,
            "sigma": sigma,
            "sigma_unit": "bp" if terms.is_yield else "return",
            "sigma_days": SIGMA_RETURNS,
            "price": price,
            "price_date": price_date,
            "fx_rate": fx_rate,
            "unit_value": unit.normalize(),
            "risk_budget": strategy.risk_budget,
            "target": size.target,
            "current": current,
            "lot_size": instrument.lot_size,
            "min_trade_fraction": strategy.min_trade_fraction,
        }
        return Sized(
            signal,
            row,
            size.trade,
            jsonable(rationale),
            int(figures.notional_base * 100),
            int(figures.dv01_base * 100),
        )


def sizing_basis(date: dt.date) -> tuple[BookState, dt.date]:
    """The book and the last market date proposals of `date` are sized from: the close
    before `date`. Today's are sized against the live book and the latest prices (the
    pre-open, which marked the book to the previous close, or the PM during the day); a
    past date's against the timeline of the business day before it and the prices up to
    that day, so that running it later gives what its pre-open gave."""
    if date >= today():
        return book_state(), date
    before = previous_business_day(date)
    return book_state_on(before), before


@transaction.atomic
def proposal_generate(*, date: dt.date, actor: str, window: int | None = None) -> Generation:
    """Size a proposal for each strategy's latest signals on or before `date`.

    For each signal: target = score × risk_budget / (σ × unit value) with σ over the last
    60 daily moves and the unit value at the latest price of the sizing basis
    (`sizing_basis`); the trade is target − current, rounded to the lot, dropped when zero
    or below the strategy's `min_trade_fraction` of |target|. Each proposal carries its
    rationale and a what-if (VaR 95% and limits before and after it, over `window` days,
    by default `PMS_RISK_WINDOW`; when the history is too short for a VaR the what-if says
    so and still judges the other limits). Pairs that already have a proposal for `date`
    are left as they are, so generating twice creates nothing new. Pending proposals of
    earlier dates expire; a past date's, generated after a later date's, are born expired.
    """
    if date > today():
        raise ValidationError({"date": [f"{date} is in the future."]})
    fund_inception_or_error(date, "date")
    # Generations queue here: two at once would size against the same book.
    list(Strategy.objects.select_for_update().order_by("pk").values_list("pk"))
    result = Generation(date=date, expired=_expire(date, actor))

    def skip(signal: Signal, reason: str) -> None:
        result.skipped.append(
            {
                "instrument": signal.instrument.symbol,
                "strategy": signal.strategy.code,
                "reason": reason,
            }
        )

    existing = set(
        TradeProposal.objects.filter(date=date).values_list("instrument_id", "strategy_id")
    )
    signals = []
    for signal in latest_signals(date):
        if (signal.instrument_id, signal.strategy_id) in existing:
            continue
        if signal.instrument.is_active:
            signals.append(signal)
        else:
            skip(signal, "the instrument is not active")
    state, last_market_day = sizing_basis(date)
    market_date = Price.objects.filter(
        instrument_id__in={s.instrument_id for s in signals}, date__lte=last_market_day
    ).aggregate(day=Max("date"))["day"]
    if market_date is None:
        for signal in signals:
            skip(signal, f"no price on or before {last_market_day}")
        _audit_generation(result, actor)
        return result

    sizer = Sizer(signals, state, market_date)
    sized: list[Sized] = []
    for signal in signals:
        outcome = sizer.size(signal)
        if isinstance(outcome, str):
            skip(signal, outcome)
        else:
            sized.append(outcome)
    if sized:
        what_if = WhatIf(risk_compute(window=window, book=sizer.book))
        # A past date re-run after later proposals exist: its proposals are born expired,
        # as they would have been when the later ones were generated on time.
        superseded = TradeProposal.objects.filter(date__gt=date).exists()
        status = TradeProposal.Status.EXPIRED if superseded else TradeProposal.Status.PENDING
        result.created = TradeProposal.objects.bulk_create(
            [
                TradeProposal(
                    date=date,
                    instrument=s.signal.instrument,
                    strategy=s.signal.strategy,
                    signal=s.signal,
                    quantity=s.quantity,
                    score=s.signal.score,
                    rationale=s.rationale,
                    what_if=what_if.after(s.row, s.notional_cents, s.dv01_cents),
                    status=status,
                )
                for s in sized
            ],
            batch_size=1000,
        )
    _audit_generation(result, actor)
    return result


def _audit_generation(result: Generation, actor: str) -> None:
    audit_record(
        actor=actor,
        action="proposals.generate",
        after={
            "date": result.date,
            "created": len(result.created),
            "expired": result.expired,
            "skipped": len(result.skipped),
        },
    )


# --- Decisions ----------------------------------------------------------------------------

# What a decision changes on a proposal, recorded before and after in the audit trail.
_DECISION_FIELDS = (
    "status",
    "decided_by",
    "decided_at",
    "decision_note",
    "executed_quantity",
    "executed_price",
    "trade_id",
)


def _decision_state(proposal: TradeProposal) -> dict[str, Any]:
    state = model_state(proposal)
    return {name: state[name] for name in ("id", "quantity", *_DECISION_FIELDS)}


def _lock_pending(proposal_id: int) -> TradeProposal:
    """The proposal, its row locked until the decision commits; 409 unless pending."""
    proposal = (
        TradeProposal.objects.select_for_update(of=("self",))
        .select_related("instrument", "strategy")
        .get(pk=proposal_id)
    )
    if proposal.status != TradeProposal.Status.PENDING:
        by = f" by {proposal.decided_by} at {proposal.decided_at:%Y-%m-%d %H:%M:%S} UTC"
        raise Conflict(
            f"Proposal {proposal.pk} is {proposal.status}"
            + (by if proposal.decided_at else "")
            + ": only a pending proposal can be decided."
        )
    return proposal


def _decide(
    proposal: TradeProposal, status: str, note: str, actor: str, action: str, before: dict[str, Any]
) -> None:
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_note = note
    proposal.save(update_fields=list(_DECISION_FIELDS))
    audit_record(
        actor=actor,
        action=action,
        obj=proposal,
        before=before,
        after=_decision_state(proposal),
        note=note,
    )


@dataclass(frozen=True)
class Approval:
    proposal: TradeProposal
    trade: Trade
    position: Position


def _approve(
    proposal_id: int,
    quantity: Decimal | None,
    price: Decimal | None,
    note: str,
    actor: str,
    confirm: bool = False,
) -> Approval:
    proposal = _lock_pending(proposal_id)
    before = _decision_state(proposal)
    instrument = proposal.instrument
    errors: dict[str, list[str]] = {}
    if quantity is not None:
        if quantity == 0:
            errors["quantity"] = ["A trade's quantity cannot be zero."]
        elif quantity % instrument.lot_size:
            errors["quantity"] = [
                f"{quantity} is not a multiple of {instrument.symbol}'s lot size "
                f"{instrument.lot_size}."
            ]
    trade_date = today()
    if price is None:
        priced = latest_prices(trade_date, [instrument.pk]).get(instrument.pk)
        if priced is None:
            errors["price"] = [f"{instrument.symbol} has no price yet: give the execution price."]
        else:
            price = priced[1]
    if errors:
        raise ValidationError(errors)
    assert price is not None
    executed = proposal.quantity if quantity is None else quantity
    try:
        [trade] = trades_book(
            requests=[
                TradeRequest(
                    instrument=instrument.symbol,
                    strategy=proposal.strategy.code,
                    quantity=executed,
                    price=price,
                    trade_date=trade_date,
                    note=f"Proposal {proposal.pk}" + (f": {note}" if note else ""),
                    confirm=confirm,
                )
            ],
            actor=actor,
            source=Trade.Source.PROPOSAL,
        )
    except RowErrors as row_errors:
        raise ValidationError(row_errors.errors[0]) from None
    proposal.executed_quantity, proposal.executed_price, proposal.trade = executed, price, trade
    modified = quantity is not None
    _decide(
        proposal,
        TradeProposal.Status.MODIFIED if modified else TradeProposal.Status.APPROVED,
        note,
        actor,
        "proposal.modify_approve" if modified else "proposal.approve",
        before,
    )
    position = Position.objects.select_related("instrument", "strategy").get(pk=trade.position_id)
    return Approval(proposal, trade, position)


@transaction.atomic
def proposal_approve(
    *,
    proposal_id: int,
    price: Decimal | None = None,
    note: str = "",
    confirm: bool = False,
    actor: str,
) -> Approval:
    """Book the proposed trade at `price` (default: the last price) and close the proposal.
    A price outside PMS_PRICE_BAND of the last close needs `confirm`."""
    return _approve(proposal_id, None, price, note, actor, confirm)


@transaction.atomic
def proposal_modify_approve(
    *,
    proposal_id: int,
    quantity: Decimal,
    price: Decimal | None = None,
    note: str = "",
    confirm: bool = False,
    actor: str,
) -> Approval:
    """Book the PM's quantity (signed, a multiple of the lot) instead of the proposed one."""
    return _approve(proposal_id, quantity, price, note, actor, confirm)


@transaction.atomic
def proposal_reject(*, proposal_id: int, reason: str, actor: str) -> TradeProposal:
    """Decline the proposal; the reason is required and kept in the audit trail."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the proposal is rejected."]})
    proposal = _lock_pending(proposal_id)
    _decide(
        proposal,
        TradeProposal.Status.REJECTED,
        reason.strip(),
        actor,
        "proposal.reject",
        _decision_state(proposal),
    )
    return proposal
