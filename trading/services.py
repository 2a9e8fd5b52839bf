"""Writes of the trade workflow: signals in, proposals generated, proposals decided.

One call, one transaction. A decision re-reads its proposal under the row's lock and
checks the status there, so a proposal is decided once however many people press the
button; approving books the trade in the same transaction. Expiry locks the rows it
expires, and generation queues on the strategies' rows. Every decision is an audit record.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core import inputs
from core.calendar import today
from core.errors import Conflict, RowErrors
from core.formatting import number
from core.rows import (
    RowErrorMap,
    reject_dates_outside,
    reject_duplicates,
    resolve_references,
    rows_upsert,
)
from portfolio.models import AuditRecord, Instrument, Position, Price, Strategy, Trade
from portfolio.selectors import book_state, latest_prices
from portfolio.services import (
    TradeRequest,
    audit_record,
    fund_inception_or_error,
    model_state,
    trade_book,
)
from risk.selectors import WhatIf, risk_compute

from .models import Signal, TradeProposal
from .selectors import BookedWhatIf, Sized, Sizer, latest_signals, sizing_basis

# --- Signals ------------------------------------------------------------------------------


def signals_check(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[Any, int], dict[Any, int]]:
    """The rules of scores (RowErrors by row): a known instrument and strategy, a score in
    [-1, 1], a date the fund accepts, each (instrument, strategy, date) once. The ids of
    the instruments by symbol and of the strategies by code."""
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
    return instruments, strategies


@transaction.atomic
def signals_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert scores per (instrument, strategy, date): {instrument, strategy, date, score}.

    Every row is checked before anything is written; one bad row rejects the batch.
    """
    instruments, strategies = signals_check(rows)
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


# --- Proposals generated from signals ------------------------------------------------------


@dataclass
class ProposalBatch:
    """One date's run of `proposal_generate`: the proposals it created, how many pending ones
    it expired, and the signals that gave no trade."""

    date: dt.date
    created: list[TradeProposal] = field(default_factory=list)
    expired: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {instrument, strategy, reason}

    def skip(self, signal: Signal, reason: str) -> None:
        """The signal gave no proposal, for this reason."""
        self.skipped.append(
            {
                "instrument": signal.instrument.symbol,
                "strategy": signal.strategy.code,
                "reason": reason,
            }
        )


def _expire(day: dt.date, actor: str) -> int:
    """Pending proposals of dates before `day` expire; each gets its audit record."""
    ids = list(
        TradeProposal.objects.select_for_update()
        .filter(status=TradeProposal.Status.PENDING, date__lt=day)
        .values_list("pk", flat=True)
    )
    TradeProposal.objects.filter(pk__in=ids, status=TradeProposal.Status.PENDING).update(
        status=TradeProposal.Status.EXPIRED
    )
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


@transaction.atomic
def proposal_generate(*, date: dt.date, actor: str, window: int | None = None) -> ProposalBatch:
    """Size a proposal for each strategy's latest signals on or before `date`.

    For each signal: target = score × risk_budget / (σ × unit value) with σ over the last
    60 daily moves and the unit value at the latest price of the sizing basis
    (`sizing_basis`); the trade is target − current, rounded to the lot, dropped when zero
    or below the strategy's `min_trade_fraction` of |target|. Each proposal carries its
    rationale and a what-if (VaR 95% and limits before and after it, over `window` days,
    by default `PMS_RISK_WINDOW`; when the history is too short for a VaR the what-if says
    so and still judges the other limits). Pairs that already have a proposal for `date`
    are left as they are, so generating twice creates nothing new, and a signal already
    decided (approved, modified or rejected) proposes nothing again: only a new signal
    (another date, or a new score) does. Pending proposals of earlier dates expire; a past
    date's, generated after a later date's, are born expired.
    """
    if date > today():
        raise ValidationError({"date": [f"{date} is in the future."]})
    fund_inception_or_error(date, "date")
    # Generations queue here: two at once would size against the same book. NO KEY UPDATE,
    # so that a trade booked meanwhile (its row's key share on its strategy) does not wait:
    # a decision holding its proposal's lock would deadlock with the expiry below.
    list(Strategy.objects.select_for_update(no_key=True).order_by("pk").values_list("pk"))
    result = ProposalBatch(date=date, expired=_expire(date, actor))
    signals = _signals_to_size(result)
    state, last_market_day = sizing_basis(date)
    market_date = Price.objects.filter(
        instrument_id__in={s.instrument_id for s in signals}, date__lte=last_market_day
    ).aggregate(day=Max("date"))["day"]
    if market_date is None:
        for signal in signals:
            result.skip(signal, f"no price on or before {last_market_day}")
        _audit_generation(result, actor)
        return result

    sizer = Sizer(signals, state, market_date)
    sized: list[Sized] = []
    for signal in signals:
        outcome = sizer.size(signal)
        if isinstance(outcome, str):
            result.skip(signal, outcome)
        else:
            sized.append(outcome)
    if sized:
        result.created = _proposals_create(
            date, sized, WhatIf(risk_compute(window=window, book=sizer.book))
        )
    _audit_generation(result, actor)
    return result


def _signals_to_size(result: ProposalBatch) -> list[Signal]:
    """The latest signals that may propose on `result.date`: not those of a pair that has
    its proposal for the date already, nor a signal decided once, nor an inactive
    instrument's (both reported as skipped)."""
    existing = set(
        TradeProposal.objects.filter(date=result.date).values_list("instrument_id", "strategy_id")
    )
    candidates = [
        signal
        for signal in latest_signals(result.date)
        if (signal.instrument_id, signal.strategy_id) not in existing
    ]
    decided = _decisions_of(candidates)
    signals = []
    for signal in candidates:
        if (signal.pk, signal.score) in decided:
            result.skip(signal, decided[signal.pk, signal.score])
        elif signal.instrument.is_active:
            signals.append(signal)
        else:
            result.skip(signal, "the instrument is not active")
    return signals


def _proposals_create(date: dt.date, sized: list[Sized], what_if: WhatIf) -> list[TradeProposal]:
    """The proposals of `date`, each with its what-if against the book sized from."""
    # A past date re-run after later proposals exist: its proposals are born expired,
    # as they would have been when the later ones were generated on time.
    superseded = TradeProposal.objects.filter(date__gt=date).exists()
    status = TradeProposal.Status.EXPIRED if superseded else TradeProposal.Status.PENDING
    return TradeProposal.objects.bulk_create(
        [
            TradeProposal(
                date=date,
                instrument=s.signal.instrument,
                strategy=s.signal.strategy,
                signal=s.signal,
                quantity=s.quantity,
                score=s.signal.score,
                rationale=s.rationale,
                what_if=what_if.after(s.row, s.quantity, s.notional_cents, s.dv01_cents),
                status=status,
            )
            for s in sized
        ],
        batch_size=1000,
    )


DECIDED = (
    TradeProposal.Status.APPROVED,
    TradeProposal.Status.MODIFIED,
    TradeProposal.Status.REJECTED,
)


def _decisions_of(signals: Sequence[Signal]) -> dict[tuple[int, Decimal], str]:
    """Why each of these signals, as scored now, proposes nothing again: by (signal, score),
    the decision a proposal of it got. A proposal keeps the score it was sized from, so a
    signal re-scored since is a new signal."""
    decided = TradeProposal.objects.filter(
        signal_id__in=[signal.pk for signal in signals], status__in=DECIDED
    ).values_list("signal_id", "score", "pk", "status", "date")
    return {
        (signal_id, score): (
            f"the signal of its date was {status} on proposal {pk} of {day}; "
            "only a new signal proposes again"
        )
        for signal_id, score, pk, status, day in decided
    }


def _audit_generation(result: ProposalBatch, actor: str) -> None:
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


def _decision_state(proposal: TradeProposal, fields: Sequence[str]) -> dict[str, Any]:
    state = model_state(proposal)
    return {name: state[name] for name in ("id", "quantity", *fields)}


def _utc(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


class ProposalNotPending(Conflict):
    """A decision on a proposal that is no longer pending (HTTP 409). `proposal` is the row
    as read under its lock: its status, and who decided it and when."""

    def __init__(self, proposal: TradeProposal):
        self.proposal = proposal
        super().__init__(
            f"Proposal {proposal.pk} is {proposal.standing(_utc)}: "
            "only a pending proposal can be decided."
        )


def _lock_pending(proposal_id: int) -> TradeProposal:
    """The proposal re-read with its row locked until the decision commits; 409 unless it
    is pending then (a decision or expiry that committed first is seen here)."""
    proposal = (
        TradeProposal.objects.select_for_update(of=("self",))
        .select_related("instrument", "strategy")
        .get(pk=proposal_id)
    )
    if proposal.status != TradeProposal.Status.PENDING:
        raise ProposalNotPending(proposal)
    return proposal


def _decide(
    proposal: TradeProposal,
    status: str,
    note: str,
    actor: str,
    action: str,
    before: dict[str, Any],
    fields: Sequence[str] = _DECISION_FIELDS,
) -> None:
    """Record the decision on the locked proposal: `fields` saved, and audited against
    `before` (the same fields when it was locked)."""
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_note = note
    proposal.save(update_fields=list(fields))
    audit_record(
        actor=actor,
        action=action,
        obj=proposal,
        before=before,
        after=_decision_state(proposal, fields),
        note=note,
    )


@dataclass(frozen=True)
class Approval:
    proposal: TradeProposal
    trade: Trade
    position: Position


def _checked_price(
    proposal: TradeProposal, quantity: Decimal | None, price: Decimal | None, day: dt.date
) -> Decimal:
    """The execution price (given, or the last one on `day`) once the PM's quantity is
    checked: not zero, the proposal's direction, a multiple of the lot. ValidationError
    naming each field that is wrong."""
    instrument = proposal.instrument
    errors: dict[str, list[str]] = {}
    if quantity is not None:
        problem = inputs.quantity_problem(quantity)
        if problem:
            errors["quantity"] = [problem]
        elif (quantity > 0) != (proposal.quantity > 0):
            sign = "positive" if proposal.quantity > 0 else "negative"
            errors["quantity"] = [
                f"The proposal is a {proposal.direction}: give a {sign} quantity "
                f"(a {'sell' if proposal.quantity > 0 else 'buy'} is another trade)."
            ]
        elif quantity % instrument.lot_size:
            errors["quantity"] = [
                f"{number(quantity)} is not a multiple of {instrument.symbol}'s lot size "
                f"{number(instrument.lot_size)}."
            ]
    if price is None:
        priced = latest_prices(day, [instrument.pk]).get(instrument.pk)
        if priced is None:
            errors["price"] = [f"{instrument.symbol} has no price yet: give the execution price."]
        else:
            price = priced[1]
    if errors:
        raise ValidationError(errors)
    assert price is not None
    return price


def _book(
    proposal: TradeProposal,
    quantity: Decimal,
    price: Decimal,
    day: dt.date,
    note: str,
    confirm: bool,
    actor: str,
) -> Trade:
    """Book the proposal's trade through the book's own service (its checks and audit)."""
    trade = trade_book(
        request=TradeRequest(
            instrument=proposal.instrument.symbol,
            strategy=proposal.strategy.code,
            quantity=quantity,
            price=price,
            trade_date=day,
            note=f"Proposal {proposal.pk}" + (f": {note}" if note else ""),
            confirm=confirm,
        ),
        actor=actor,
        source=Trade.Source.PROPOSAL,
    )
    return trade


def _what_if_ahead(proposal_id: int) -> BookedWhatIf | None:
    """The booked what-if's slow part, its VaR over the book as it is now, read before the
    decision takes any lock; None when the proposal is gone or decided (its lock says)."""
    proposal = (
        TradeProposal.objects.select_related("instrument", "strategy")
        .filter(pk=proposal_id, status=TradeProposal.Status.PENDING)
        .first()
    )
    if proposal is None:
        return None
    return BookedWhatIf.prepare(book_state(), proposal.instrument, proposal.strategy)


def _approve(
    proposal_id: int,
    quantity: Decimal | None,
    price: Decimal | None,
    note: str,
    actor: str,
    confirm: bool = False,
    ahead: BookedWhatIf | None = None,
) -> Approval:
    """Approve as proposed (`quantity` None) or modified: book the trade, then decide. A
    modification's what-if is computed again for the trade booked, against the book just
    before it, and kept on the proposal (the proposed size's stays in the audit record).
    `ahead` is that what-if prepared before the lock (`_what_if_ahead`)."""
    proposal = _lock_pending(proposal_id)
    modified = quantity is not None
    fields = (*_DECISION_FIELDS, "what_if") if modified else _DECISION_FIELDS
    before = _decision_state(proposal, fields)
    trade_date = today()
    price = _checked_price(proposal, quantity, price, trade_date)
    what_if = None
    if modified:
        # The book just before the trade, read here as ever; its VaR was computed before
        # the lock and is used as it is unless the book moved since (then again, before
        # the instrument is locked: only a decision of this proposal waits for it).
        state = book_state()
        what_if = (
            ahead.against(state)
            if ahead is not None
            else BookedWhatIf.prepare(state, proposal.instrument, proposal.strategy)
        )
    executed = proposal.quantity if quantity is None else quantity
    trade = _book(proposal, executed, price, trade_date, note, confirm, actor)
    proposal.executed_quantity, proposal.executed_price, proposal.trade = executed, price, trade
    if what_if is not None:
        # Under the instrument's lock only the trade's own figures are added (arrays): its
        # FX rate is the one booking found.
        proposal.what_if = what_if.booked(trade)
    _decide(
        proposal,
        TradeProposal.Status.MODIFIED if modified else TradeProposal.Status.APPROVED,
        note,
        actor,
        "proposal.modify_approve" if modified else "proposal.approve",
        before,
        fields,
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


def proposal_modify_approve(
    *,
    proposal_id: int,
    quantity: Decimal,
    price: Decimal | None = None,
    note: str = "",
    confirm: bool = False,
    actor: str,
) -> Approval:
    """Book the PM's quantity instead of the proposed one: signed, in the proposal's
    direction (a quantity of the other sign, or zero, is a ValidationError on `quantity`),
    a multiple of the lot. The what-if is recomputed for the trade booked: its VaR before
    the transaction, so that neither the proposal's lock nor the instrument's waits for it."""
    ahead = _what_if_ahead(proposal_id)
    with transaction.atomic():
        return _approve(proposal_id, quantity, price, note, actor, confirm, ahead)


@transaction.atomic
def proposal_reject(*, proposal_id: int, reason: str, actor: str) -> TradeProposal:
    """Decline the proposal; the reason is required and kept in the audit trail."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the proposal is rejected."]})
    proposal = _lock_pending(proposal_id)
    before = _decision_state(proposal, _DECISION_FIELDS)
    _decide(
        proposal, TradeProposal.Status.REJECTED, reason.strip(), actor, "proposal.reject", before
    )
    return proposal
