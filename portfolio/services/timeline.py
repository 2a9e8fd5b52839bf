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
from django.db.models import Sum

from core.bulk import bulk_insert, collector_paused
from core.calendar import business_days, is_business_day, previous_business_day, today
from core.progress import Progress
from core.signals import data_changed

from ..ledger import ZERO, Terms, book_trade, cents, exposure, mark_figures, nav
from ..models import (
    CapitalFlow,
    FxRate,
    Instrument,
    PortfolioSnapshot,
    PositionSnapshot,
    Price,
    Trade,
)
from ..selectors import fx_rates_on, inception, latest_prices
from .audit import audit_record

RETURN_PLACES = Decimal("1e-16")

Key = tuple[int, int]  # (instrument_id, strategy_id)


@dataclass
class Holding:
    """One (instrument, strategy) position as the replay carries it from day to day."""

    position_id: int
    quantity: Decimal = ZERO
    avg_cost: Decimal = ZERO
    cost_base: Decimal = ZERO  # funded: K
    realized: Decimal = ZERO  # cumulative, base
    realized_fx: Decimal = ZERO  # funded: the FX part of `realized`
    last_trade_price: Decimal = ZERO
    value: Decimal = ZERO  # unrealized + realized at the last close
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


def _replay(
    days: list[dt.date], first_written: dt.date
) -> Iterator[tuple[dt.date, list[PositionSnapshot], PortfolioSnapshot]]:
    """Walk the ledger over `days`, yielding each day from `first_written` with its rows.

    The days before `first_written` only set the starting point (yesterday's close).
    """
    start, end = days[0], days[-1]
    instruments = {i.pk: i for i in Instrument.objects.all()}
    terms = {pk: Terms.of(i) for pk, i in instruments.items()}
    trades: list[Any] = list(  # named rows
        Trade.objects.filter(trade_date__lte=end)
        .order_by("trade_date", "id")
        .values_list(
            "instrument_id",
            "strategy_id",
            "position_id",
            "trade_date",
            "quantity",
            "price",
            "fx_rate",
            "realized_pnl_base",
            "realized_fx_pnl_base",
            named=True,
        )
    )
    prices = Quotes(
        latest_prices(start, instruments),
        list(
            Price.objects.filter(date__gt=start, date__lte=end)
            .order_by("date")
            .values_list("instrument_id", "date", "price")
        ),
    )
    currencies = {i.currency for i in instruments.values()}
    fx = Quotes(
        {c: (start, rate) for c, rate in fx_rates_on(start, currencies).items()},
        list(
            FxRate.objects.filter(currency__in=currencies, date__gt=start, date__lte=end)
            .order_by("date")
            .values_list("currency", "date", "rate")
        ),
    )
    flows_before = CapitalFlow.objects.filter(date__lt=start).aggregate(total=Sum("amount"))
    flows_total = flows_before["total"] or ZERO
    flows_by_day: dict[dt.date, Decimal] = {}
    for day, amount in CapitalFlow.objects.filter(date__gte=start, date__lte=end).values_list(
        "date", "amount"
    ):
        # A flow on a holiday takes effect on the next business day.
        effective = day if is_business_day(day) else next(d for d in days if d >= day)
        flows_by_day[effective] = flows_by_day.get(effective, ZERO) + amount

    holdings: dict[Key, Holding] = {}
    value_total = ZERO  # Σ (unrealized + realized) over every position ever held
    next_trade = 0
    nav_before: Decimal | None = None
    for day in days:
        touched: set[Key] = set()
        while next_trade < len(trades) and trades[next_trade].trade_date <= day:
            trade = trades[next_trade]
            key = (trade.instrument_id, trade.strategy_id)
            holding = holdings.setdefault(key, Holding(trade.position_id))
            # Realized P&L as the trade recorded it; the position's state by the same rule.
            booked = book_trade(
                terms[trade.instrument_id],
                holding.quantity,
                holding.avg_cost,
                holding.cost_base,
                trade.quantity,
                trade.price,
                trade.fx_rate,
            )
            holding.quantity, holding.avg_cost = booked.local.quantity, booked.local.avg_cost
            holding.cost_base = booked.cost_base
            holding.realized += trade.realized_pnl_base
            holding.realized_fx += trade.realized_fx_pnl_base
            holding.position_id = trade.position_id
            holding.last_trade_price = trade.price
            touched.add(key)
            next_trade += 1
        prices.advance(day)
        fx.advance(day)
        flow = flows_by_day.get(day, ZERO)
        flows_total += flow

        rows: list[PositionSnapshot] = []
        pnl = ZERO
        notionals: list[Decimal] = []
        for key, holding in holdings.items():
            if not (holding.quantity or holding.open_at_last_close or key in touched):
                continue
            instrument_id, strategy_id = key
            instrument = instruments[instrument_id]
            quote = prices.latest.get(instrument_id)
            price_date, price = quote if quote else (None, holding.last_trade_price)
            fx_rate = fx.latest[instrument.currency][1]
            figures = mark_figures(
                terms[instrument_id],
                holding.quantity,
                holding.avg_cost,
                price,
                fx_rate,
                holding.cost_base,
            )
            value = figures.unrealized_pnl_base + holding.realized
            daily = value - holding.value
            fx_value = figures.fx_pnl_base + holding.realized_fx
            daily_fx = fx_value - holding.fx_value
            value_total += daily
            holding.value, holding.fx_value = value, fx_value
            holding.open_at_last_close = bool(holding.quantity)
            pnl += daily
            if holding.quantity:
                notionals.append(figures.notional_base)
            rows.append(
                PositionSnapshot(
                    date=day,
                    instrument_id=instrument_id,
                    strategy_id=strategy_id,
                    position_id=holding.position_id,
                    quantity=holding.quantity,
                    avg_cost=holding.avg_cost,
                    price=price,
                    price_date=price_date,
                    fx_rate=fx_rate,
                    notional_base=figures.notional_base,
                    market_value_base=figures.market_value_base,
                    unrealized_pnl_base=figures.unrealized_pnl_base,
                    realized_pnl_base=holding.realized,
                    daily_pnl_base=daily,
                    dv01_base=figures.dv01_base,
                    cost_base=holding.cost_base,
                    fx_pnl_base=figures.fx_pnl_base,
                    daily_fx_pnl_base=daily_fx,
                )
            )
        fund_nav = nav(flows_total, value_total)
        held = exposure(cents(notionals))
        capital = (nav_before if nav_before is not None else fund_nav - pnl - flow) + flow
        nav_before = fund_nav
        if day < first_written:
            continue
        daily_return = (pnl / capital).quantize(RETURN_PLACES) if capital > 0 else ZERO
        yield (
            day,
            rows,
            PortfolioSnapshot(
                date=day,
                nav=fund_nav,
                pnl=pnl,
                flow=flow,
                daily_return=daily_return,
                gross_exposure=Decimal(held.gross).scaleb(-2),
                net_exposure=Decimal(held.net).scaleb(-2),
                positions=len(notionals),
            ),
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
    if end > today():
        raise ValidationError({"end": [f"{end} is in the future."]})
    start = max(start, fund_inception_or_error(end))
    days = business_days(start, end)
    if not days:
        raise ValidationError({"start": [f"No business day from {start} to {end}."]})
    PositionSnapshot.objects.filter(date__range=(days[0], days[-1])).delete()
    PortfolioSnapshot.objects.filter(date__range=(days[0], days[-1])).delete()
    portfolio: list[PortfolioSnapshot] = []
    replay = _replay([previous_business_day(days[0]), *days], first_written=days[0])
    for done, (day, rows, fund) in enumerate(replay, start=1):
        bulk_insert(PositionSnapshot, rows)
        portfolio.append(fund)
        if progress:
            progress(day, done, len(days))
    bulk_insert(PortfolioSnapshot, portfolio)
    data_changed.send(sender=PortfolioSnapshot)
    audit_record(
        actor=actor,
        action="snapshots.build",
        after={"start": days[0], "end": days[-1], "days": len(days)},
    )
    return portfolio
