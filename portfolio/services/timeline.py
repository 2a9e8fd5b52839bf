"""Daily snapshots rebuilt from the ledger, prices, FX rates and capital flows.

The ledger is replayed in trade order (average cost as `portfolio.ledger` keeps it, realized
P&L as each trade recorded it), each business day is marked at the latest close and FX
rate on or before it, and the day's rows replace whatever was stored for it. So a snapshot
is the same whenever it is taken, and a back-dated trade is absorbed by rebuilding from
its date.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from core.bulk import bulk_insert, collector_paused
from core.calendar import (
    business_days,
    next_business_day,
    on_or_after,
    previous_business_day,
    today,
)
from core.progress import Progress
from core.signals import data_changed

from ..accounts import AccountsDay
from ..ledger import (
    NOTHING,
    ZERO,
    Holdings,
    Terms,
    TradeLeg,
    cents,
    exposure,
    position_day,
)
from ..models import (
    FxRate,
    Instrument,
    PortfolioSnapshot,
    PositionSnapshot,
    Price,
    Trade,
)
from ..selectors import AccountsWalk, Di1Index, TermsSchedule, fx_rates_on, inception, latest_prices
from .accounts import (
    accounts_moved,
    accounts_rebuild,
    accounts_start,
    flows_converted,
    fund_accounts_fields,
    resume_day,
    timeline_lock,
    walked,
)
from .audit import audit_record

Key = tuple[int, int]  # (instrument_id, strategy_id)


@dataclass
class Holding:
    """One (instrument, strategy) position as the replay carries it from day to day."""

    position_id: int
    held: Holdings = NOTHING
    realized_fx: Decimal = ZERO  # funded: the FX part of the realized P&L
    last_trade_price: Decimal = ZERO
    value: Decimal = ZERO  # unrealized + realized at the last close: the day's start
    fx_value: Decimal = ZERO  # funded: their FX parts at the last close
    open_at_last_close: bool = False


class Quotes:
    """The latest quote on or before each day of a walk forward in time, per key."""

    def __init__(
        self, first: dict[Any, tuple[dt.date, Decimal]], later: list[tuple[Any, dt.date, Decimal]]
    ):
        self.latest = dict(first)
        self._later = later  # sorted by date
        self._next = 0

    def advance(self, day: dt.date) -> None:
        while self._next < len(self._later) and self._later[self._next][1] <= day:
            key, date, value = self._later[self._next]
            self.latest[key] = (date, value)
            self._next += 1


_TRADE_READ = (
    "instrument_id",
    "strategy_id",
    "position_id",
    "trade_date",
    "quantity",
    "price",
    "fx_rate",
    "fees",
    "realized_pnl_base",
    "realized_fx_pnl_base",
)


class _Replay:
    """The ledger walked forward over business days, each marked at the latest close and
    FX rate on or before it: the day of every position (`position_day`), and the fund's.

    Trades are applied in trade order by the ledger's rule (`Holdings.after`), each with
    the realized P&L the ledger recorded for it when it was booked; a DI1's with the
    realized P&L it has at the accruals known now (a CDI or close corrected since its
    booking moves the share of the settlements a reduction realized).
    """

    def __init__(self, start: dt.date, end: dt.date):
        self.instruments = {i.pk: i for i in Instrument.objects.all()}
        self.terms = {pk: Terms.of(i) for pk, i in self.instruments.items()}
        self.di1 = Di1Index(self.terms, until=end)
        self.trades: list[Any] = list(  # named rows
            Trade.objects.filter(trade_date__lte=end)
            .order_by("trade_date", "id")
            .values_list(*_TRADE_READ, named=True)
        )
        self.next_trade = 0
        self.prices = Quotes(latest_prices(start, self.instruments), _later_prices(start, end))
        currencies = {i.currency for i in self.instruments.values()}
        self.fx = Quotes(
            {c: (start, rate) for c, rate in fx_rates_on(start, currencies).items()},
            _later_rates(currencies, start, end),
        )
        self.holdings: dict[Key, Holding] = {}

    def trade_until(self, day: dt.date) -> set[Key]:
        """Apply the trades dated up to `day`; the positions they touched."""
        touched: set[Key] = set()
        while self.next_trade < len(self.trades) and self.trades[self.next_trade].trade_date <= day:
            trade = self.trades[self.next_trade]
            key = (trade.instrument_id, trade.strategy_id)
            holding = self.holdings.setdefault(key, Holding(trade.position_id))
            leg = self.di1.booked_at(
                trade.instrument_id,
                TradeLeg(trade.quantity, trade.price, trade.fx_rate, trade.fees),
                on_or_after(trade.trade_date),
            )
            terms = self.terms[trade.instrument_id]
            held = holding.held.after(terms, leg)
            if not terms.is_di1:  # a DI1's realized share depends on the accruals known now
                held = held._replace(realized=holding.held.realized + trade.realized_pnl_base)
            holding.held = held
            holding.realized_fx += trade.realized_fx_pnl_base
            holding.position_id = trade.position_id
            holding.last_trade_price = trade.price
            touched.add(key)
            self.next_trade += 1
        return touched

    def close(self, day: dt.date) -> list[PositionSnapshot]:
        """Mark `day`'s close: the trades up to it applied, a row per position held at the
        previous close or since."""
        touched = self.trade_until(day)
        self.prices.advance(day)
        self.fx.advance(day)
        return [
            self._row(day, key, holding)
            for key, holding in self.holdings.items()
            if holding.held.quantity or holding.open_at_last_close or key in touched
        ]

    def funded_value(self, rows: list[PositionSnapshot]) -> Decimal:
        """The funded holdings' market value in base at a close (`F`): what is not cash."""
        return sum(
            (row.market_value_base for row in rows if self.terms[row.instrument_id].is_funded),
            ZERO,
        )

    def _row(self, day: dt.date, key: Key, holding: Holding) -> PositionSnapshot:
        """One position's day, carried to the next as its start."""
        instrument_id, strategy_id = key
        quote = self.prices.latest.get(instrument_id)
        price_date, price = quote if quote else (None, holding.last_trade_price)
        fx_rate = self.fx.latest[self.instruments[instrument_id].currency][1]
        held = holding.held
        quote = self.di1.mark(instrument_id, day, price)
        its_day = position_day(self.terms[instrument_id], holding.value, held, quote, fx_rate)
        figures = its_day.figures
        fx_value = figures.fx_pnl_base + holding.realized_fx
        daily_fx = fx_value - holding.fx_value
        holding.value, holding.fx_value = its_day.value, fx_value
        holding.open_at_last_close = bool(held.quantity)
        return PositionSnapshot(
            date=day,
            instrument_id=instrument_id,
            strategy_id=strategy_id,
            position_id=holding.position_id,
            quantity=held.quantity,
            avg_cost=held.avg_cost,
            price=price,
            price_date=price_date,
            fx_rate=fx_rate,
            notional_base=figures.notional_base,
            market_value_base=figures.market_value_base,
            unrealized_pnl_base=figures.unrealized_pnl_base,
            realized_pnl_base=held.realized,
            daily_pnl_base=its_day.daily_pnl,
            dv01_base=figures.dv01_base,
            cost_base=held.cost_base,
            fx_pnl_base=figures.fx_pnl_base,
            daily_fx_pnl_base=daily_fx,
        )


def _later_prices(start: dt.date, end: dt.date) -> list[tuple[int, dt.date, Decimal]]:
    rows = Price.objects.filter(date__gt=start, date__lte=end).order_by("date")
    return list(rows.values_list("instrument_id", "date", "price"))


def _later_rates(
    currencies: set[str], start: dt.date, end: dt.date
) -> list[tuple[str, dt.date, Decimal]]:
    rows = FxRate.objects.filter(currency__in=currencies, date__gt=start, date__lte=end)
    return list(rows.order_by("date").values_list("currency", "date", "rate"))


def _replay(
    days: list[dt.date], accounts: AccountsWalk
) -> Iterator[tuple[dt.date, list[PositionSnapshot], PortfolioSnapshot]]:
    """Walk the ledger over `days`, yielding each day but the first with its rows and the
    fund's day (its accounts walked by `accounts`, from the close of the first day).

    The first day only sets the starting point (the previous business day's close).
    """
    replay = _Replay(days[0], days[-1])
    funded = replay.funded_value(replay.close(days[0]))
    for day in days[1:]:
        rows = replay.close(day)
        pnl = sum((row.daily_pnl_base for row in rows), ZERO)
        its_accounts = walked(accounts, day, pnl, funded)
        funded = replay.funded_value(rows)
        yield day, rows, _fund_row(its_accounts, rows, funded)


def _fund_row(
    accounts: AccountsDay, rows: list[PositionSnapshot], funded: Decimal
) -> PortfolioSnapshot:
    """The fund's day: its accounts, the funded holdings' value and the exposures at the
    close."""
    held = exposure(cents(row.notional_base for row in rows if row.quantity))
    return PortfolioSnapshot(
        **fund_accounts_fields(accounts),
        funded_value=funded,
        gross_exposure=Decimal(held.gross).scaleb(-2),
        net_exposure=Decimal(held.net).scaleb(-2),
        positions=sum(1 for row in rows if row.quantity),
    )


def fund_inception_or_error(day: dt.date, field: str = "end") -> dt.date:
    """The fund's inception, which `day` must not precede (ValidationError on `field`)."""
    first = inception()
    if first is None:
        raise ValidationError(
            {
                "detail": [
                    "The fund has no capital flow yet: it starts with its first one "
                    "(POST /api/capital-flows/)."
                ]
            }
        )
    if day < first:
        raise ValidationError(
            {field: [f"{day} is before the fund's inception {first} (its first capital flow)."]}
        )
    return first


@collector_paused()
@transaction.atomic
def snapshots_build(
    *, start: dt.date, end: dt.date, actor: str, progress: Progress | None = None
) -> list[PortfolioSnapshot]:
    """Rebuild the position and portfolio snapshots of every business day from `start` (or
    the fund's inception, if later: nothing exists before it) to `end`: the stored ones in
    that range are replaced, so running it again changes nothing.

    `progress(day, done, total)` is called after each day. The garbage collector is paused
    meanwhile: ten days of 10,000 positions leave 99 objects in cycles.
    """
    if start > end:
        raise ValidationError({"start": [f"start {start} is after end {end}."]})
    timeline_lock()
    if end > today():
        raise ValidationError({"end": [f"{end} is in the future."]})
    start = resume_day(max(start, fund_inception_or_error(end)))
    days = business_days(start, end)
    if not days:
        raise ValidationError({"start": [f"No business day from {start} to {end}."]})
    PositionSnapshot.objects.filter(date__range=(days[0], days[-1])).delete()
    PortfolioSnapshot.objects.filter(date__range=(days[0], days[-1])).delete()
    portfolio: list[PortfolioSnapshot] = []
    accounts = AccountsWalk(days, accounts_start(days[0])[0], TermsSchedule())
    replay = _replay([previous_business_day(days[0]), *days], accounts)
    for done, (day, rows, fund) in enumerate(replay, start=1):
        bulk_insert(PositionSnapshot, rows)
        portfolio.append(fund)
        if progress:
            progress(day, done, len(days))
    bulk_insert(PortfolioSnapshot, portfolio)
    flows = flows_converted(accounts.converted)
    data_changed.send(sender=PortfolioSnapshot)
    audit_record(
        actor=actor,
        action="snapshots.build",
        after={
            "start": days[0],
            "end": days[-1],
            "days": len(days),
            "flows_converted_again": flows,
        },
    )
    accounts_moved(days[0], days[-1], actor)
    accounts_rebuild(start=next_business_day(days[-1]), actor=actor)  # the days after, if any
    return portfolio
