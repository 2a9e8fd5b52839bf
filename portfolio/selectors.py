"""Reads of the position book: FX and prices as of a date, the book, NAV, the fund."""

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from core.calendar import (
    anbima_days,
    anbima_days_between,
    business_days,
    fund_time_zone,
    is_business_day,
    next_business_day,
    on_or_after,
    previous_business_day,
    today,
)
from core.formatting import decimal_str

from .accounts import (
    NO_TERMS,
    Accounts,
    AccountsDay,
    Converted,
    DayInputs,
    Flow,
    TermsInForce,
    account_day,
    before_inception,
    is_payment_date,
)
from .di1 import Di1Quote, corrected, dv01_per_contract, unit_price, unit_prices
from .ledger import Quote, TradeLeg, cents, drawdowns, exposure, to_cents
from .models import (
    POSITION_FIGURES,
    BenchmarkRate,
    BookMark,
    CapitalFlow,
    FundTerms,
    FxRate,
    Instrument,
    OfficialNav,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
)

ONE = Decimal("1")
ZERO = Decimal("0")


def base_currency() -> str:
    return str(settings.PMS_BASE_CURRENCY)


def inception() -> dt.date | None:
    """The fund's first business day: that of its first capital flow (a flow dated on a
    holiday counts from the next business day). No snapshot, NAV or return exists before
    it; None while the fund has no capital."""
    first = CapitalFlow.objects.order_by("date").values_list("date", flat=True).first()
    return None if first is None else on_or_after(first)


def last_mark() -> dt.date | None:
    """The live book's valuation date: the close its last mark was to (no position's P&L
    date is later: trades never move it), or, for a book never marked, the latest P&L date
    of its positions. The live book is never marked to an earlier date."""
    marked = book_marked()
    if marked is not None:
        return marked
    return Position.objects.aggregate(day=Max("pnl_date"))["day"]


def book_marked() -> dt.date | None:
    """The close the live book was last marked to; None for a book never marked."""
    return BookMark.objects.values_list("date", flat=True).first()


def last_snapshot() -> dt.date | None:
    """The latest business date of the fund's timeline."""
    return PortfolioSnapshot.objects.aggregate(day=Max("date"))["day"]


@dataclass(frozen=True)
class Fund:
    """The fund as GET /api/fund/ shows it: what it is, how far its live book and its
    timeline reach, its accounts now and its terms, oldest first.

    `accounts` are the live book's, of its valuation date (`book_state`): the NAV, quota,
    units, cash and provision /api/book/ shows, which equal the timeline's once that day
    is built."""

    base_currency: str
    inception: dt.date | None
    calendar: str
    time_zone: str
    last_mark: dt.date | None
    last_snapshot: dt.date | None
    valuation_date: dt.date
    accounts: AccountsDay
    terms: list[FundTerms]


def fund() -> Fund:
    """The fund now (GET /api/fund/)."""
    book = book_state()
    assert book.accounts is not None  # the live book's
    return Fund(
        base_currency=base_currency(),
        inception=inception(),
        calendar=settings.PMS_CALENDAR,
        time_zone=settings.TIME_ZONE,
        last_mark=last_mark(),
        last_snapshot=last_snapshot(),
        valuation_date=book.as_of,
        accounts=book.accounts,
        terms=list(FundTerms.objects.order_by("effective_from")),
    )


def fx_rates_on(as_of: dt.date, currencies: Iterable[str]) -> dict[str, Decimal]:
    """X(c, as_of) for each currency: the latest rate on or before `as_of` (base is 1).

    A currency with no rate yet is absent from the answer.
    """
    wanted = set(currencies) - {base_currency()}
    rates = {base_currency(): ONE}
    if wanted:
        latest = FxRate.objects.filter(currency=OuterRef("currency"), date__lte=as_of)
        rows = (
            FxRate.objects.filter(currency__in=wanted, date__lte=as_of)
            .filter(date=Subquery(latest.order_by("-date").values("date")[:1]))
            .values_list("currency", "rate")
        )
        rates.update(rows)
    return rates


class FxHistory:
    """Every rate of some currencies up to a date, for lookups on many dates at once."""

    def __init__(self, currencies: Iterable[str], until: dt.date):
        self._dates: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        wanted = set(currencies) - {base_currency()}
        rows = FxRate.objects.filter(currency__in=wanted, date__lte=until).order_by(
            "currency", "date"
        )
        for currency, day, rate in rows.values_list("currency", "date", "rate"):
            self._dates.setdefault(currency, []).append(day)
            self._rates.setdefault(currency, []).append(rate)

    def rate(self, currency: str, day: dt.date) -> Decimal | None:
        """X(currency, day), or None when there is no rate on or before `day`."""
        if currency == base_currency():
            return ONE
        dates = self._dates.get(currency, [])
        index = bisect_right(dates, day)
        return self._rates[currency][index - 1] if index else None


def with_marks(instruments: QuerySet[Instrument], as_of: dt.date) -> QuerySet[Any]:
    """`instruments`, each with its mark on `as_of`: `price_date` and `price`, its latest
    close on or before that day, and `fx_rate`, X(its currency, as_of) (1 for the base
    currency); None where there is none. One query, whatever the number of instruments."""
    latest = Price.objects.filter(instrument=OuterRef("pk"), date__lte=as_of).order_by("-date")
    rate = FxRate.objects.filter(currency=OuterRef("currency"), date__lte=as_of).order_by("-date")
    return instruments.annotate(
        price_date=Subquery(latest.values("date")[:1]),
        price=Subquery(latest.values("price")[:1]),
        fx_rate=Case(
            When(currency=base_currency(), then=Value(ONE)),
            default=Subquery(rate.values("rate")[:1]),
        ),
    )


def latest_prices(
    as_of: dt.date, instrument_ids: Iterable[int]
) -> dict[int, tuple[dt.date, Decimal]]:
    """(date, price) of the latest price on or before `as_of`, per instrument that has one."""
    instruments = Instrument.objects.filter(pk__in=set(instrument_ids))
    rows = with_marks(instruments, as_of).values_list("pk", "price_date", "price")
    return {pk: (day, price) for pk, day, price in rows if day is not None}


# A position as the book lists it: its pair, its figures, its life.
POSITION_VALUES = {
    "id": "id",
    "instrument": "instrument__symbol",
    "strategy": "strategy__code",
    **{name: name for name in POSITION_FIGURES},
    "opened_at": "opened_at",
    "closed_at": "closed_at",
}
# Extra columns the book reads but does not show per position.
_BOOK_EXTRA = {
    "instrument_id": "instrument_id",
    "asset_class": "instrument__asset_class",
    "currency": "instrument__currency",
    "quote_type": "instrument__quote_type",
    "settlement": "instrument__settlement",
    "pricing": "instrument__pricing",
    "maturity": "instrument__maturity",
    "root": "instrument__root",
    "cost_base": "cost_base",
    "fx_pnl_base": "fx_pnl_base",
    "pnl_date": "pnl_date",
}


class BookRow(NamedTuple):
    """A position as the live book lists it: its columns (POSITION_VALUES, in their order),
    its P&L of the valuation date as `daily_pnl_base`, and what the book adds to them (a
    named tuple: a book holds thousands, stored in the cache as they are)."""

    id: int
    instrument: str
    strategy: str
    quantity: Decimal
    avg_cost: Decimal
    last_price: Decimal | None
    price_date: dt.date | None
    notional_base: Decimal
    market_value_base: Decimal
    unrealized_pnl_base: Decimal
    realized_pnl_base: Decimal
    daily_pnl_base: Decimal
    dv01_base: Decimal
    opened_at: dt.date
    closed_at: dt.date | None
    asset_class: str
    currency: str
    funded: bool  # a funded instrument: its cost base and the FX part of its P&L are shown
    cost_base: Decimal
    fx_pnl_base: Decimal

    @property
    def status(self) -> str:
        return Position.OPEN if self.closed_at is None else Position.CLOSED


def _book_row(values: dict[str, Any], day_pnl: Decimal) -> BookRow:
    return BookRow._make(
        [
            *[day_pnl if name == "daily_pnl_base" else values[name] for name in POSITION_VALUES],
            values["asset_class"],
            values["currency"],
            values["settlement"] == Instrument.Settlement.FUNDED,
            values["cost_base"],
            values["fx_pnl_base"],
        ]
    )


def _sum(queryset: Any, field: str) -> Decimal:
    # SQLite sums decimals as floats: round the aggregate back to the cent.
    return to_cents(queryset.aggregate(total=Sum(field))["total"] or ZERO)


@dataclass(frozen=True)
class BookState:
    """A book as raw values: what the book, risk and proposals are computed from.

    The live book (`book_state()`), or the book at a past close from the timeline
    (`book_state_on()`). `positions`: one dict per open position (POSITION_VALUES and the
    extra columns); `closed`: the same of the positions closed since the close before
    `as_of`, whose day P&L still counts on `as_of`; `realized`: the cumulative realized P&L
    of every position since the inception.
    """

    as_of: dt.date
    positions: list[dict[str, Any]]
    closed: list[dict[str, Any]]
    nav: Decimal
    realized: Decimal
    live: bool = True
    accounts: AccountsDay | None = None  # the live book's day's (cash, carry, fees, quota)

    @cached_property
    def closed_today(self) -> list[tuple[str, str, Decimal]]:
        """(strategy, asset class, day P&L) of the positions closed on `as_of`."""
        return [(row["strategy"], row["asset_class"], row["daily_pnl_base"]) for row in self.closed]

    @cached_property
    def unrealized(self) -> Decimal:
        return sum((row["unrealized_pnl_base"] for row in self.positions), ZERO)

    def day_pnl(self, row: dict[str, Any]) -> Decimal:
        """A position's P&L of the day `as_of` (none when it was last marked earlier)."""
        return row["daily_pnl_base"] if row["pnl_date"] == self.as_of else ZERO

    @cached_property
    def daily_pnl(self) -> Decimal:
        return sum((self.day_pnl(row) for row in (*self.positions, *self.closed)), ZERO)


def with_day_pnl(positions: QuerySet[Position]) -> QuerySet[Position]:
    """Positions with their P&L of the live book's valuation date, `day_pnl_base` (none
    when last marked earlier: `BookState.day_pnl`'s rule, in SQL), and whether that date
    is theirs, `on_valuation_date` (a position closed since the last close is)."""
    on_day = Q(pnl_date=last_mark())
    return positions.annotate(
        on_valuation_date=ExpressionWrapper(on_day, output_field=BooleanField()),
        day_pnl_base=Case(
            When(on_day, then=F("daily_pnl_base")),
            default=Value(ZERO),
            output_field=DecimalField(max_digits=24, decimal_places=2),
        ),
    )


_BOOK_COLUMNS = {**POSITION_VALUES, **_BOOK_EXTRA}


def _book_rows(positions: Any) -> list[dict[str, Any]]:
    return [
        dict(zip(_BOOK_COLUMNS, row, strict=True))
        for row in positions.order_by("instrument__symbol", "strategy__code").values_list(
            *_BOOK_COLUMNS.values()
        )
    ]


def book_state() -> BookState:
    """The live book in eight queries whatever its size: its positions in four, its day's
    accounts in four (five before the timeline has a close: the inception).

    `as_of` is its valuation date: the close it is marked to (trades dated after it do
    not move it); an empty book is valued at the latest close due. Its NAV is that of
    its day's accounts (`live_accounts`), whose positions' P&L is the realized P&L of
    every position since inception + the unrealized P&L less what the stored closes
    counted already.
    """
    as_of = last_mark() or close_due()
    positions = _book_rows(Position.objects.filter(closed_at__isnull=True))
    closed = Position.objects.filter(closed_at__isnull=False)
    realized = _sum(closed, "realized_pnl_base") + sum(
        (row["realized_pnl_base"] for row in positions), ZERO
    )
    unrealized = sum((row["unrealized_pnl_base"] for row in positions), ZERO)
    accounts = live_accounts(as_of, realized + unrealized)
    return BookState(
        as_of=as_of,
        positions=positions,
        closed=_book_rows(closed.filter(pnl_date=as_of)),
        nav=accounts.close.nav,
        realized=realized,
        accounts=accounts,
    )


# A timeline row as a book row: the snapshot's columns under the book's names (its close
# is `price`; it has no valuation date of its own, the day read is its `pnl_date`).
_SNAPSHOT_VALUES = {
    "id": "position_id",
    "instrument": "instrument__symbol",
    "strategy": "strategy__code",
    **{name: name for name in POSITION_FIGURES},
    "last_price": "price",
    **{name: column for name, column in _BOOK_EXTRA.items() if name != "pnl_date"},
}


def book_state_on(day: dt.date) -> BookState:
    """The book at the close of `day` from the fund's timeline (its position and fund
    snapshots), in three queries: what a past date's risk, limits and proposals are
    computed from, without reading the live book. Before the inception the book is empty;
    ValidationError when a day since then has no snapshot."""
    fund = PortfolioSnapshot.objects.filter(date=day).values_list("nav", flat=True).first()
    first = inception()
    if fund is None and (first is None or day < first):  # before the fund: an empty book
        return BookState(day, [], [], ZERO, ZERO, live=False)
    if fund is None:
        raise ValidationError(
            {
                "date": [
                    f"No snapshot of {day}: run `manage.py backfill_snapshots --start {day} "
                    f"--end {day}` (or the eod pipeline of that date) first."
                ]
            }
        )
    rows = [
        {**dict(zip(_SNAPSHOT_VALUES, row, strict=True)), "pnl_date": day}
        for row in PositionSnapshot.objects.filter(date=day)
        .order_by("instrument__symbol", "strategy__code")
        .values_list(*_SNAPSHOT_VALUES.values())
    ]
    return BookState(
        as_of=day,
        positions=[row for row in rows if row["quantity"]],
        closed=[row for row in rows if not row["quantity"]],
        nav=fund,
        realized=sum((row["realized_pnl_base"] for row in rows), ZERO),
        live=False,
    )


@dataclass(frozen=True)
class BookTotals:
    """The exact sums of a live book's rows; money to the cent."""

    positions: int  # rows listed: open, and closed on the valuation date
    open_positions: int
    gross_exposure: Decimal
    net_exposure: Decimal
    long_exposure: Decimal
    short_exposure: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    daily_pnl: Decimal


@dataclass(frozen=True)
class LiveBook:
    """The live book as GET /api/book/ and the dashboard show it."""

    valuation_date: dt.date
    base_currency: str
    nav: Decimal
    positions: list[BookRow]
    totals: BookTotals
    stale_prices: list[str]  # held instruments whose close due is missing
    accounts: AccountsDay  # the valuation date's: cash, carry, fees, units and quota


def live_book() -> LiveBook:
    """The live book: its open positions and those closed since its last close, each with
    its P&L of the valuation date, and totals that are the exact sums of those rows; NAV;
    the held instruments whose close due is missing (`close_due`)."""
    state = book_state()
    assert state.accounts is not None  # the live book's
    rows = [*state.positions, *state.closed]
    held = exposure(cents(row["notional_base"] for row in rows))
    exposures = {
        f"{name}_exposure": to_cents(Decimal(getattr(held, name)).scaleb(-2))
        for name in ("gross", "net", "long", "short")
    }
    return LiveBook(
        valuation_date=state.as_of,
        base_currency=base_currency(),
        nav=state.nav,
        positions=[_book_row(row, state.day_pnl(row)) for row in rows],
        totals=BookTotals(
            positions=len(rows),
            open_positions=len(state.positions),
            **exposures,
            unrealized_pnl=to_cents(state.unrealized),
            realized_pnl=to_cents(sum((row["realized_pnl_base"] for row in rows), ZERO)),
            daily_pnl=to_cents(state.daily_pnl),
        ),
        stale_prices=stale_instruments(close_due()),
        accounts=state.accounts,
    )


def close_due(moment: dt.datetime | None = None) -> dt.date:
    """The latest close the fund expects to have: today's once `PMS_CLOSE_TIME` (São Paulo)
    has passed on a business day, else the previous business day's. A held instrument
    without it is stale."""
    local = timezone.localtime(moment or timezone.now(), fund_time_zone())
    day = local.date()
    if is_business_day(day) and local.time() >= settings.PMS_CLOSE_TIME:
        return day
    return previous_business_day(day)


def stale_instruments(as_of: dt.date) -> list[str]:
    """Symbols of the instruments held open without a close on or after `as_of`: the
    monitors' and verify_system's stale prices. Two semi-joins on indexed columns, so the
    cost does not grow with the history of prices or the positions per instrument."""
    held = Position.objects.filter(instrument=OuterRef("pk"), closed_at__isnull=True)
    closed = Price.objects.filter(instrument=OuterRef("pk"), date__gte=as_of)
    return list(
        Instrument.objects.filter(Exists(held))
        .exclude(Exists(closed))
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )


# --- The fund's timeline ------------------------------------------------------------------

RATIO = Decimal("0.000001")


@dataclass(frozen=True)
class Drawdown:
    """How far the fund's time-weighted NAV index stands below its running peak on
    `as_of`: `1 − I_t / max_{s ≤ t} I_s` with `I_t = Π(1 + r_s)` over the whole timeline,
    so that subscriptions and redemptions are neither gains nor losses. `peak_date` is the
    date of that peak (the inception when the index never rose above its start)."""

    as_of: dt.date
    value: Decimal
    peak_date: dt.date | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "value": decimal_str(self.value),
            "peak_date": self.peak_date.isoformat() if self.peak_date else None,
        }


def _drawdown(dates: list[dt.date], values: np.ndarray, peak_at: np.ndarray, t: int) -> Drawdown:
    value = Decimal(repr(float(values[t]))).quantize(RATIO)
    return Drawdown(dates[t], value, dates[max(int(peak_at[t]), 0)])


def drawdown_history(until: dt.date | None = None) -> dict[dt.date, Drawdown]:
    """The fund's drawdown on every day of its timeline (to `until`), in one query."""
    rows = PortfolioSnapshot.objects.order_by("date")
    if until is not None:
        rows = rows.filter(date__lte=until)
    days = list(rows.values_list("date", "daily_return"))
    dates = [day for day, _ in days]
    values, peak_at = drawdowns([float(r) for _, r in days])
    return {day: _drawdown(dates, values, peak_at, t) for t, day in enumerate(dates)}


def drawdown(as_of: dt.date, *, nav: Decimal | None = None) -> Drawdown:
    """The fund's drawdown on `as_of`, from its daily returns since the inception (one
    query; two with `nav`).

    `nav` is the live book's NAV on `as_of` for a date the timeline has no snapshot of yet:
    its return is then taken against the last snapshot's NAV and the flows since.
    """
    rows = list(
        PortfolioSnapshot.objects.filter(date__lte=as_of)
        .order_by("date")
        .values_list("date", "daily_return", "nav")
    )
    dates = [day for day, _, _ in rows]
    returns = [float(r) for _, r, _ in rows]
    if nav is not None and (not rows or dates[-1] < as_of):
        flows = CapitalFlow.objects.filter(date__lte=as_of)
        if rows:
            flows = flows.filter(date__gt=dates[-1])
        capital = (rows[-1][2] if rows else ZERO) + _sum(flows, "amount")
        returns.append(float((nav - capital) / capital) if capital > 0 else 0.0)
        dates.append(as_of)
    if not returns:
        return Drawdown(as_of, ZERO.quantize(RATIO), None)
    return _drawdown(dates, *drawdowns(returns), len(dates) - 1)


# --- Reads for the morning pack and other readers ------------------------------------------


def position_snapshots(day: dt.date) -> list[PositionSnapshot]:
    """The fund's positions at the close of `day` (its timeline), with their instrument
    and strategy, by instrument then strategy (one query)."""
    return list(
        PositionSnapshot.objects.filter(date=day)
        .select_related("instrument", "strategy")
        .order_by("instrument__symbol", "strategy__code")
    )


def nav_curve(until: dt.date, *, days: int) -> list[tuple[dt.date, Decimal, Decimal]]:
    """(date, NAV, capital flow) of the fund's last `days` snapshots on or before `until`,
    oldest first (a flow dated on a holiday is on the next business day's snapshot)."""
    rows = (
        PortfolioSnapshot.objects.filter(date__lte=until)
        .order_by("-date")
        .values_list("date", "nav", "flow")[:days]
    )
    return list(rows)[::-1]


class FundDay(NamedTuple):
    """A day of the fund's timeline: its P&L and return (the fund's, net of fees), its CDI
    and what its accounts accrued."""

    date: dt.date
    pnl: Decimal
    daily_return: Decimal
    cdi: Decimal
    carry: Decimal
    management_fee: Decimal
    performance_fee: Decimal


def fund_days(start: dt.date, end: dt.date) -> list[FundDay]:
    """The fund's snapshots from `start` to `end`, oldest first, as `FundDay`s (one query)."""
    rows = PortfolioSnapshot.objects.filter(date__range=(start, end)).order_by("date")
    return [FundDay(*row) for row in rows.values_list(*FundDay._fields)]


def fund_pnl_between(start: dt.date, end: dt.date) -> dict[dt.date, Decimal]:
    """The fund's realized daily P&L (its snapshots') from `start` to `end`, by date."""
    rows = PortfolioSnapshot.objects.filter(date__range=(start, end)).values_list("date", "pnl")
    return dict(rows)


@dataclass(frozen=True)
class BenchmarkSeries:
    """A benchmark's rate on each of a run of days: `rates` is None when a day has no rate
    on or before it (`missing` is the first); `carried` days had none of their own and
    took the latest before them (the CDI changes at policy meetings, not daily)."""

    benchmark: str
    rates: np.ndarray | None
    carried: int
    missing: dt.date | None


def benchmark_series(days: Sequence[dt.date], benchmark: str = "CDI") -> BenchmarkSeries:
    """The daily rates of `benchmark` for `days` (ascending), as floats: one query."""
    found = benchmark_rates(days, benchmark)
    if found.missing:
        return BenchmarkSeries(benchmark, None, 0, found.missing[0])
    rates = np.array([float(found.rates[day]) for day in days])
    return BenchmarkSeries(benchmark, rates, len(found.carried), None)


def instruments(symbols: Iterable[str]) -> list[Instrument]:
    """The instruments of these symbols, in their order; unknown symbols are left out."""
    symbols = list(symbols)
    found = {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}
    return [found[s] for s in symbols if s in found]


def closes(
    instrument_ids: Iterable[int], *, after: dt.date, until: dt.date
) -> dict[int, list[tuple[dt.date, Decimal]]]:
    """(date, price) of each instrument's closes after `after` and on or before `until`,
    oldest first, per instrument that has one (one query)."""
    history: dict[int, list[tuple[dt.date, Decimal]]] = {}
    rows = (
        Price.objects.filter(
            instrument_id__in=list(instrument_ids), date__gt=after, date__lte=until
        )
        .order_by("date")
        .values_list("instrument_id", "date", "price")
    )
    for pk, day, price in rows:
        history.setdefault(pk, []).append((day, price))
    return history


def fx_quoted_on(day: dt.date, currencies: Iterable[str]) -> set[str]:
    """The currencies among these with an FX rate dated `day` itself."""
    return set(
        FxRate.objects.filter(currency__in=set(currencies), date=day).values_list(
            "currency", flat=True
        )
    )


# --- The NAV against the administrator's --------------------------------------------------

BP = Decimal("10000")  # basis points in one
BP_SHOWN = Decimal("0.01")
OK, BREAK, MISSING = "ok", "break", "missing"


def reconciliation_status(
    nav: Decimal | None,
    official_nav: Decimal | None,
    units: Decimal | None,
    official_units: Decimal | None,
) -> str:
    """A day against the administrator's: `missing` with one side only; `break` when the
    NAVs differ by more than PMS_NAV_TOLERANCE_BP basis points of the official NAV, or the
    units differ at all; else `ok`."""
    if nav is None or official_nav is None or units is None or official_units is None:
        return MISSING
    allowed = settings.PMS_NAV_TOLERANCE_BP * official_nav
    return BREAK if abs(nav - official_nav) * BP > allowed or units != official_units else OK


class NavReconciliation(NamedTuple):
    """A business day of the fund beside the administrator's: `difference` is the fund's
    NAV less the official one, `difference_bp` that in basis points of the official NAV
    (to 0.01 bp; the status reads it unrounded). Either side is None when it is missing."""

    date: dt.date
    nav: Decimal | None
    official_nav: Decimal | None
    difference: Decimal | None
    difference_bp: Decimal | None
    quota: Decimal | None
    official_quota: Decimal | None
    units: Decimal | None
    official_units: Decimal | None
    status: str


def _reconciled(
    day: dt.date,
    ours: tuple[Decimal, Decimal, Decimal] | None,
    theirs: tuple[Decimal, Decimal, Decimal] | None,
) -> NavReconciliation:
    nav, quota, units = ours or (None, None, None)
    official_nav, official_quota, official_units = theirs or (None, None, None)
    difference = difference_bp = None
    if nav is not None and official_nav is not None:
        difference = nav - official_nav
        difference_bp = (difference * BP / official_nav).quantize(BP_SHOWN, ROUND_HALF_UP)
        difference_bp = difference_bp if difference_bp else abs(difference_bp)  # no "-0.00"
    return NavReconciliation(
        day,
        nav,
        official_nav,
        difference,
        difference_bp,
        quota,
        official_quota,
        units,
        official_units,
        reconciliation_status(nav, official_nav, units, official_units),
    )


def nav_reconciliation(
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    days: Iterable[dt.date] | None = None,
) -> list[NavReconciliation]:
    """The fund's NAV, quota and units beside the administrator's, oldest first: every day
    from `start` to `end` (either open) that either side has, or only `days`. Two queries,
    whatever the number of days."""
    wanted = Q()
    if start is not None:
        wanted &= Q(date__gte=start)
    if end is not None:
        wanted &= Q(date__lte=end)
    if days is not None:
        wanted &= Q(date__in=set(days))
    figures = ("nav", "quota", "units")
    ours = {
        row[0]: row[1:]
        for row in PortfolioSnapshot.objects.filter(wanted).values_list("date", *figures)
    }
    theirs = {
        row[0]: row[1:] for row in OfficialNav.objects.filter(wanted).values_list("date", *figures)
    }
    return [_reconciled(day, ours.get(day), theirs.get(day)) for day in sorted(ours | theirs)]


# --- The fund's accounts ------------------------------------------------------------------


class TermsSchedule:
    """The fund's terms in force on each day (one query): the latest change effective on
    or before it, or none (`accounts.NO_TERMS`)."""

    def __init__(self) -> None:
        rows = FundTerms.objects.order_by("effective_from")
        self._from = []
        self._terms = []
        for row in rows:
            self._from.append(row.effective_from)
            self._terms.append(row.in_force)

    def on(self, day: dt.date) -> TermsInForce:
        index = bisect_right(self._from, day)
        return self._terms[index - 1] if index else NO_TERMS

    def inception_terms(self, first: dt.date) -> TermsInForce:
        """The terms the fund started with: those in force at its inception, or the first
        ones given if they are dated later (the initial quota is the fund's)."""
        if self._terms and bisect_right(self._from, first) == 0:
            return self._terms[0]
        return self.on(first)


@dataclass(frozen=True)
class BenchmarkRates:
    """A benchmark's rate on each of a run of business days: its own, or the latest before
    it (`carried`: the CDI changes at policy meetings, not daily); 0 before the first rate
    ever stored (`missing`: the fund's cash earns nothing and its hurdle does not grow
    until the CDI is loaded)."""

    rates: dict[dt.date, Decimal]
    carried: list[dt.date]
    missing: list[dt.date]


def benchmark_rates(days: Sequence[dt.date], benchmark: str = "CDI") -> BenchmarkRates:
    """The rates of `benchmark` on `days` (ascending): one query, for their own rates and
    the latest before them."""
    if not days:
        return BenchmarkRates({}, [], [])
    stored = BenchmarkRate.objects.filter(benchmark=benchmark)
    latest_before = stored.filter(date__lt=days[0]).order_by("-date").values("date")[:1]
    rows = stored.filter(Q(date__range=(days[0], days[-1])) | Q(date=Subquery(latest_before)))
    own = dict(rows.values_list("date", "rate"))
    earlier = [day for day in own if day < days[0]]
    rate: Decimal | None = own[earlier[0]] if earlier else None
    rates, carried, missing = {}, [], []
    for day in days:
        if day in own:
            rate = own[day]
        elif rate is None:
            missing.append(day)
        else:
            carried.append(day)
        rates[day] = rate if rate is not None else ZERO
    return BenchmarkRates(rates, carried, missing)


def flows_by_day(
    start: dt.date, end: dt.date, *, later_on_end: bool = False
) -> dict[dt.date, list[tuple[int, Flow]]]:
    """The capital flows effective from `start` to `end` (a flow on a holiday takes effect
    on the next business day), as they were given, by day: (id, flow). `later_on_end`:
    those dated after `end` count on it (the live day's)."""
    by_day: dict[dt.date, list[tuple[int, Flow]]] = {}
    rows = CapitalFlow.objects.filter(date__gte=previous_business_day(start))
    if not later_on_end:
        rows = rows.filter(date__lte=end)
    for pk, day, amount, units, entered in rows.order_by("date", "pk").values_list(
        "pk", "date", "amount", "units", "entered"
    ):
        effective = min(on_or_after(day), end)
        if start <= effective:
            given = Flow(units=units) if entered == CapitalFlow.Entered.UNITS else Flow(amount)
            by_day.setdefault(effective, []).append((pk, given))
    return by_day


_ACCOUNTS_READ = ("nav", "units", "quota", "performance_provision", "hurdle_quota")
# Snapshots stored before the fund's accounts existed have a NAV but no units.
WITHOUT_ACCOUNTS = Q(units=0) & ~Q(nav=0)


class StoredWithoutAccounts(NamedTuple):
    """The fund's snapshots stored before its accounts existed: how many, the first day
    and the last (None when there are none)."""

    days: int
    first: dt.date | None
    last: dt.date | None


def stored_without_accounts(
    start: dt.date = dt.date.min, end: dt.date = dt.date.max
) -> StoredWithoutAccounts:
    """The snapshots from `start` to `end` that have a NAV but no units, quota or fees (one
    query): the days to rebuild from the ledger."""
    stored = PortfolioSnapshot.objects.filter(WITHOUT_ACCOUNTS, date__range=(start, end))
    found = stored.aggregate(days=Count("pk"), first=Min("date"), last=Max("date"))
    return StoredWithoutAccounts(found["days"], found["first"], found["last"])


def accounts_at_close(day: dt.date) -> tuple[Accounts, Decimal] | None:
    """The fund's accounts at the close of `day` and its funded holdings' value there,
    from its snapshot (None without one)."""
    row = (
        PortfolioSnapshot.objects.filter(date=day)
        .values_list(*_ACCOUNTS_READ, "funded_value")
        .first()
    )
    return None if row is None else (Accounts(*row[:-1]), row[-1])


class AccountsWalk:
    """The fund's accounts walked over business days from the accounts of the close before
    the first (`account_day` each day), with the terms, CDI and flows of those days read
    at once. `converted` keeps each flow's conversion, (id, Converted)."""

    def __init__(
        self,
        days: Sequence[dt.date],
        start: Accounts | None,
        terms: TermsSchedule,
        *,
        later_flows: bool = False,
    ):
        self.terms = terms
        self.cdi = benchmark_rates(days, BenchmarkRate.Benchmark.CDI)
        self.flows = flows_by_day(days[0], days[-1], later_on_end=later_flows) if days else {}
        self.close = start
        self.converted: list[tuple[int, Converted]] = []

    def day(self, day: dt.date, positions_pnl: Decimal, funded_before: Decimal) -> AccountsDay:
        terms = self.terms.on(day)
        before = self.close or before_inception(self.terms.inception_terms(day))
        flows = self.flows.get(day, [])
        inputs = DayInputs(
            day=day,
            flows=[flow for _, flow in flows],
            positions_pnl=positions_pnl,
            funded_before=funded_before,
            cdi=self.cdi.rates[day],
            terms=terms,
            pays=is_payment_date(day, next_business_day(day), terms.payment_months),
        )
        accounts = account_day(before, inputs)
        self.close = accounts.close
        self.converted.extend(zip((pk for pk, _ in flows), accounts.flows, strict=True))
        return accounts


def live_accounts(as_of: dt.date, positions_value: Decimal) -> AccountsDay:
    """The accounts of the live book's day `as_of`: from the latest stored close before it
    (or the inception), with the flows since and the positions' P&L since that close —
    `positions_value` is their unrealized + realized P&L since the inception, so the P&L
    since is its move. Days between that close and `as_of` that the timeline has not built
    yet accrue their carry and fees on the capital they start with; the P&L since falls
    on `as_of`, and flows dated after it count on it."""
    earlier = PortfolioSnapshot.objects.filter(date__lt=as_of).exclude(WITHOUT_ACCOUNTS)
    counted = (  # the positions' P&L the stored closes counted, to each
        PortfolioSnapshot.objects.filter(date__lte=OuterRef("date"))
        .order_by()
        .values(one=Value(1))
        .annotate(total=Sum("positions_pnl"))
        .values("total")
    )
    stored = (
        earlier.order_by("-date")
        .annotate(counted=Subquery(counted))
        .values_list("date", *_ACCOUNTS_READ, "funded_value", "counted")
        .first()
    )
    start = stored[0] if stored else None
    since = next_business_day(start) if start else (inception() or as_of)
    days = business_days(since, max(as_of, since))
    walk = AccountsWalk(
        days, Accounts(*stored[1:-2]) if stored else None, TermsSchedule(), later_flows=True
    )
    before = to_cents(Decimal(str(stored[-1]))) if stored else ZERO  # SQLite: a float
    funded = stored[-2] if stored else ZERO
    for day in days[:-1]:
        walk.day(day, ZERO, funded)
    return walk.day(days[-1], positions_value - before, funded)


_EPOCH = dt.date(1970, 1, 1).toordinal()


def _ordinals(days: Sequence[dt.date]) -> np.ndarray:
    """Dates as integers (proleptic ordinals): much faster to convert than to datetime64."""
    return np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))


def _dates(ordinals: np.ndarray) -> np.ndarray:
    return (ordinals - _EPOCH).astype("datetime64[D]")


@lru_cache(maxsize=64)
def _business_days(start: dt.date, end: dt.date) -> np.ndarray:
    """`business_days` as ordinals, kept: the DI1s of a mark mostly share their span."""
    return _ordinals(business_days(start, end))


# A mark asks its own day and the day before: those read the accrual stored on their
# closes; a walk over more days (the timeline, trades of many dates) reads the history once.
_STORED_DAYS = 2


class Di1Index:
    """The `Di1Quote`s of DI1 instruments on the fund's business days, from their closes
    (rates) and the CDI: the settlement PU, the DV01 of a contract, and the CDI corrections
    a contract's PU has accrued since the instrument's first close.

    Each close's correction is B3's: the settlement PU corrected by the CDI of the national
    business days until the next close day, to the cent, less the PU. A mark reads the
    accrual stored on the latest close (`Price.accrual`, kept by the services that write
    closes and the CDI: `accrued_before`); where there is none, the whole history is read
    and the grid of all the instruments computed once, vectorized. The CDI days a
    settlement carried from an earlier rate, or missing before the first, are reported
    (`cdi_gaps`).
    """

    def __init__(self, terms: dict[int, Any], until: dt.date = dt.date.min):
        """`until`: the last day quotes will be asked for, when known (a timeline's end)."""
        self.terms = {pk: t for pk, t in terms.items() if t.is_di1}
        self._closes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._accrued: tuple[np.ndarray, dict[int, int], np.ndarray] | None = None
        self._quotes: dict[tuple[int, dt.date, Decimal], Di1Quote] = {}
        self._growth: tuple[np.ndarray, np.ndarray, dt.date] | None = None
        self._until = until  # the last day the grid of accruals reaches
        self._stored: dict[dt.date, dict[int, tuple[dt.date, Decimal, Decimal | None]]] = {}
        self._factors: dict[tuple[dt.date, dt.date], Decimal] = {}

    def _load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The instruments' closes, as arrays: instrument id, date (ordinal) and rate."""
        if self._closes is None:
            rows = list(
                Price.objects.filter(instrument_id__in=list(self.terms))
                .order_by("instrument_id", "date")
                .values_list("instrument_id", "date", "price")
            )
            count = len(rows)
            self._closes = (
                np.fromiter((row[0] for row in rows), np.int64, count),
                np.fromiter((row[1].toordinal() for row in rows), np.int64, count),
                np.fromiter((float(row[2]) for row in rows), float, count),
            )
        return self._closes

    def _accrual(self, pk: int, day: dt.date) -> Decimal:
        """The corrections accrued before `day` (cents per contract, as a Decimal): from
        the latest close's stored accrual where there is one, else from the history."""
        if day in self._stored or len(self._stored) < _STORED_DAYS:
            close_day, rate, accrual = self._stored_on(day).get(pk, (day, ZERO, None))
            if accrual is not None:
                return accrual + self._carried_corrections(pk, close_day, day, rate)
        return self.accrued_before(pk, day)

    def _stored_on(self, day: dt.date) -> dict[int, tuple[dt.date, Decimal, Decimal | None]]:
        """Each instrument's latest close on or before `day`: (date, rate, stored accrual),
        one query per day asked."""
        if day not in self._stored:
            latest = Price.objects.filter(instrument=OuterRef("pk"), date__lte=day)
            latest = latest.order_by("-date")
            rows = (
                Instrument.objects.filter(pk__in=list(self.terms))
                .annotate(
                    close_date=Subquery(latest.values("date")[:1]),
                    rate=Subquery(latest.values("price")[:1]),
                    accrual=Subquery(latest.values("accrual")[:1]),
                )
                .values_list("pk", "close_date", "rate", "accrual")
            )
            self._stored[day] = {pk: (d, r, a) for pk, d, r, a in rows if d is not None}
        return self._stored[day]

    def _carried_corrections(
        self, pk: int, close_day: dt.date, day: dt.date, rate: Decimal
    ) -> Decimal:
        """The corrections of the business days from a close to `day` (excluded) at the
        close's rate, carried: none when `day` is the close's own (a mark's usual case)."""
        maturity, total = self.terms[pk].maturity, ZERO
        for current in business_days(close_day, day - dt.timedelta(days=1)):
            if current >= maturity:
                break
            settlement = unit_price(rate, int(anbima_days(current, maturity)))
            factor = self._cdi_factor(current, min(next_business_day(current), maturity))
            total += corrected(settlement, factor) - settlement
        return total

    def _cdi_factor(self, start: dt.date, end: dt.date) -> Decimal:
        """Π(1 + CDI) over the national business days from `start` to `end` (excluded),
        the CDI carried where missing; one query per span, whatever the instruments."""
        if (start, end) not in self._factors:
            factor = Decimal(1)
            for cdi in benchmark_rates(anbima_days_between(start, end)).rates.values():
                factor *= 1 + cdi
            self._factors[(start, end)] = factor
        return self._factors[(start, end)]

    def accrued_before(self, pk: int, day: dt.date) -> Decimal:
        """The corrections accrued before `day` from the instrument's whole history (the
        grid of all the instruments, computed once)."""
        if self._accrued is None or day > self._until:
            # The grid reaches `day` (a mark asks its own day first), or today once a later
            # day is asked (trades of many dates): computed again once at most.
            later = self._until if self._accrued is None else today()
            self._until = max(day, later)
            self._accrued = self._accrue(self._until)
        days, column, accrued = self._accrued
        if pk not in column:
            return ZERO
        return Decimal(int(accrued[np.searchsorted(days, day.toordinal()), column[pk]])).scaleb(-2)

    def _accrue(self, until: dt.date) -> tuple[np.ndarray, dict[int, int], np.ndarray]:
        """The business days from the first close on (ordinals), a column per instrument
        with closes, and the corrections accrued before each day (one more row at the end),
        in cents per contract: all the instruments at once, vectorized."""
        ids, close_days, close_rates = self._load()
        if not len(ids):
            return np.zeros(0, dtype=np.int64), {}, np.zeros((1, 0), dtype=np.int64)
        held = sorted(set(ids.tolist()))
        start = dt.date.fromordinal(int(close_days.min()))
        # Every business day to `until` or the last close (a stale rate carries).
        last = max(until, dt.date.fromordinal(int(close_days.max())))
        days = _business_days(start, last)
        rates = np.full((len(days), len(held)), np.nan)
        at = np.searchsorted(days, close_days)  # a close's first business day on or after it
        inside = at < len(days)
        rates[at[inside], np.searchsorted(held, ids[inside])] = close_rates[inside]
        known = np.where(np.isnan(rates), 0, np.arange(len(days))[:, None])
        rates = rates[np.maximum.accumulate(known, axis=0), np.arange(len(held))]
        maturity = _ordinals([self.terms[pk].maturity for pk in held])
        to_maturity = anbima_days(_dates(days)[:, None], _dates(maturity)[None, :])
        # B3's PU to the cent, half up (np.round would round half to even).
        pu = np.floor(unit_prices(rates, to_maturity) * 100 + 0.5)
        corrections = np.nan_to_num(np.floor(pu * self._cdi_factors(days, maturity) + 0.5) - pu)
        accrued = np.vstack([np.zeros(len(held)), np.cumsum(corrections, axis=0)])
        return days, {pk: j for j, pk in enumerate(held)}, accrued.astype(np.int64)

    def _cdi_growth(self) -> tuple[np.ndarray, np.ndarray]:
        """The national business days from the first DI1 close on (ordinals), and
        Π(1 + CDI) before each of them (one more at the end): one query for all."""
        if self._growth is None or self._growth[2] < self._until:
            close_days = self._load()[1]
            start = dt.date.fromordinal(int(close_days.min()))
            last = dt.date.fromordinal(int(close_days.max()))
            end = next_business_day(max(self._until, last))
            national = anbima_days_between(start, end)
            cdi = benchmark_rates(national).rates
            rates = [1 + float(cdi[d]) for d in national]
            growth = np.concatenate([[1.0], np.cumprod(rates)])
            self._growth = _ordinals(national), growth, self._until
        return self._growth[0], self._growth[1]

    def _cdi_factors(self, days: np.ndarray, maturity: np.ndarray) -> np.ndarray:
        """Π(1 + CDI) over the national business days from each day to the next (rows),
        for each maturity (columns): none from the maturity on."""
        national, growth = self._cdi_growth()
        after = next_business_day(dt.date.fromordinal(int(days[-1]))).toordinal()
        ends = np.minimum(np.append(days[1:], after)[:, None], maturity[None, :])
        starts = np.minimum(days[:, None], maturity[None, :])
        return growth[np.searchsorted(national, ends)] / growth[np.searchsorted(national, starts)]

    def cdi_gaps(self, since: dt.date, before: dt.date) -> tuple[list[dt.date], list[dt.date]]:
        """The CDI days from `since` to `before` (excluded), the national business days a
        settlement on `before` corrects by, that are carried from the latest earlier rate,
        and missing before any rate."""
        if not self.terms:
            return [], []
        cdi = benchmark_rates(anbima_days_between(since, before))
        return cdi.carried, cdi.missing

    def quote(self, pk: int, day: dt.date, rate: Decimal) -> Di1Quote:
        """The instrument's quote on `day` at `rate` (its close, or a trade's rate)."""
        key = (pk, day, rate)  # a mark asks once per instrument, not once per position
        if key not in self._quotes:
            days = int(anbima_days(day, self.terms[pk].maturity))
            self._quotes[key] = Di1Quote(
                unit_price(rate, days), self._accrual(pk, day), dv01_per_contract(rate, days)
            )
        return self._quotes[key]

    def mark(self, pk: int, day: dt.date, close: Decimal) -> Quote:
        """What a position of instrument `pk` is marked at on `day` when the instrument
        closed at `close`: the close itself, or a DI1's `Di1Quote` there."""
        if pk not in self.terms:
            return close
        return self.quote(pk, day, close)

    def booked_at(self, pk: int, trade: TradeLeg, day: dt.date) -> TradeLeg:
        """A trade of instrument `pk` as `book_trade` books it on its P&L day `day`: a
        DI1's with its unit value there (its PU less the corrections accrued by then)."""
        if pk not in self.terms:
            return trade
        return trade._replace(unit=self.quote(pk, day, trade.price).unit_value)
