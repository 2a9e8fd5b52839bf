"""Reads of the trade workflow: each strategy's latest signals, and the Sizer that turns a
signal into a trade against the book."""

import datetime as dt
import operator
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import reduce
from typing import Any

import numpy as np
from django.db.models import Max, Q

from core.calendar import business_days_ending, on_or_after, previous_business_day, today
from core.formatting import jsonable
from portfolio.ledger import Quote, Terms, size_local, to_cents
from portfolio.models import Instrument, Strategy, Trade
from portfolio.selectors import (
    BookState,
    Di1Index,
    book_state,
    book_state_on,
    fx_rates_on,
    latest_prices,
)
from risk.engine import instrument_moves
from risk.selectors import BookArrays, Risk, WhatIf, market_levels, risk_compute

from . import sizing
from .models import Signal, TradeProposal

SIGMA_RETURNS = 60  # daily returns in a proposal's volatility estimate


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


def _placeholder(instrument: Instrument, strategy: Strategy) -> dict[str, Any]:
    """A book row for a position the trade would open: nothing held yet."""
    return {
        "instrument_id": instrument.pk,
        "instrument": instrument.symbol,
        "strategy": strategy.code,
        "asset_class": instrument.asset_class,
        "currency": instrument.currency,
        "quote_type": instrument.quote_type,
        "pricing": instrument.pricing,
        "maturity": instrument.maturity,
        "root": instrument.root,
        "last_price": None,
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
                extra.append(_placeholder(signal.instrument, signal.strategy))
        self.rows = [*state.positions, *extra]
        self.book = BookArrays.load(state, extra)
        self.market_date = market_date
        grid = business_days_ending(market_date, SIGMA_RETURNS + 1)
        levels, self.has_history = market_levels(self.book, grid)
        levels[:, ~self.has_history] = 1.0
        self.sigma = instrument_moves(levels, self.book.column_is_yield).std(axis=0, ddof=1)
        self.column = {pk: i for i, pk in enumerate(self.book.instrument_ids)}
        self.prices = latest_prices(market_date, self.column)
        self.fx_rates = fx_rates_on(market_date, {s.instrument.currency for s in signals})
        self.di1 = Di1Index({s.instrument.pk: s.instrument.terms for s in signals})

    def size(self, signal: Signal) -> Sized | str:
        """The signal's trade, or why there is none."""
        instrument, strategy = signal.instrument, signal.strategy
        terms = Terms.of(instrument)
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
        quote = self.di1.mark(instrument.pk, self.market_date, price)
        unit = sizing.unit_value(terms, quote, fx_rate)
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
        notional_cents, dv01_cents = trade_exposure(terms, size.trade, quote, fx_rate)
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
            "notional": Decimal(notional_cents).scaleb(-2),  # base currency, signed
        }
        return Sized(signal, row, size.trade, jsonable(rationale), notional_cents, dv01_cents)


def trade_exposure(
    terms: Terms, quantity: Decimal, quote: Quote, fx_rate: Decimal
) -> tuple[int, int]:
    """What a trade at `quote` adds to its position: base-currency notional and DV01, in
    cents (the what-if's inputs)."""
    notional, dv01 = size_local(terms, quantity, quote)
    return int(to_cents(notional * fx_rate) * 100), int(to_cents(dv01 * fx_rate) * 100)


def _market_reused(book: BookArrays, market: Risk) -> Risk | None:
    """`book` over `market`'s scenario moves when they are the moves `book` would read: the
    same as-of date and instrument columns (the moves depend on nothing else of the book);
    None otherwise."""
    old = market.book
    if book.state.as_of != old.state.as_of or book.instrument_ids != old.instrument_ids:
        return None
    complete = np.zeros(len(old.instrument_ids), dtype=bool)
    complete[old.column] = market.complete  # every column has a row
    return replace(market, book=book, complete=complete[book.column])


@dataclass(frozen=True)
class BookedWhatIf:
    """The what-if of a trade of `instrument` for `strategy` as it is booked, against
    `state`, the book just before it: VaR 95% and limits before and after, as a proposal's
    (over `PMS_RISK_WINDOW` days).

    Prepared in two steps so that no lock waits for a VaR: `prepare` (the slow part: the
    window's market history and the book's VaR) before the trade's locks are taken;
    `against` the book read again under them (nothing to do when it did not move); then
    `booked`, the trade's own figures added (arrays only)."""

    state: BookState
    instrument: Instrument
    strategy: Strategy
    row: int  # the trade's position in the what-if book
    what_if: WhatIf

    @classmethod
    def prepare(
        cls,
        state: BookState,
        instrument: Instrument,
        strategy: Strategy,
        market: Risk | None = None,
    ) -> "BookedWhatIf":
        """The what-if's book and its VaR; over `market`'s moves when they are the same."""
        rows = {(r["instrument_id"], r["strategy"]): i for i, r in enumerate(state.positions)}
        key = (instrument.pk, strategy.code)
        extra = [] if key in rows else [_placeholder(instrument, strategy)]
        book = BookArrays.load(state, extra)
        risk = (market and _market_reused(book, market)) or risk_compute(book=book)
        return cls(state, instrument, strategy, rows.get(key, len(state.positions)), WhatIf(risk))

    def against(self, state: BookState) -> "BookedWhatIf":
        """This what-if for `state`, the book read again: itself when the book is the same,
        else computed again (over the market history read already, unless the valuation
        date or the book's instruments changed)."""
        if state == self.state:
            return self
        return self.prepare(state, self.instrument, self.strategy, self.what_if.risk)

    def booked(self, trade: Trade) -> dict[str, Any]:
        """The what-if of `trade` (its quantity, price and FX rate)."""
        terms = Terms.of(self.instrument)
        index = Di1Index({self.instrument.pk: terms})
        quote = index.mark(self.instrument.pk, on_or_after(trade.trade_date), trade.price)
        notional_cents, dv01_cents = trade_exposure(terms, trade.quantity, quote, trade.fx_rate)
        return self.what_if.after(self.row, trade.quantity, notional_cents, dv01_cents)


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


def pending_proposals(until: dt.date) -> list[TradeProposal]:
    """The proposals dated `until` or before that await a decision, with their instrument
    and strategy, by strategy then instrument (one query)."""
    return list(
        TradeProposal.objects.filter(status=TradeProposal.Status.PENDING, date__lte=until)
        .select_related("instrument", "strategy")
        .order_by("strategy__code", "instrument__symbol")
    )


@dataclass(frozen=True)
class ProposalState:
    """Where a proposal stands now: its status and, once decided, by whom, when and the
    quantity booked (the PM's when modified)."""

    id: int
    status: str
    decided_by: str
    decided_at: dt.datetime | None
    quantity: Decimal
    executed_quantity: Decimal | None


def proposal_states(ids: Iterable[int]) -> dict[int, ProposalState]:
    """The current state of each of these proposals that still exists, by id (one query;
    none for no ids)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = TradeProposal.objects.filter(pk__in=wanted).values_list(
        "id", "status", "decided_by", "decided_at", "quantity", "executed_quantity"
    )
    return {row[0]: ProposalState(*row) for row in rows}
