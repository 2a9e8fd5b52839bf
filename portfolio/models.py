"""The position book: reference data, market data, the trade ledger and positions.

Money is Decimal: base-currency amounts to the cent, prices and rates with the precision
the markets quote them in. The ledger (Trade) and the audit trail (AuditRecord) are
append-only; a Position is the state the ledger produces.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone

from core import inputs
from core.calendar import on_or_after
from core.formatting import money, number

from .accounts import TermsInForce
from .ledger import Terms

PAYMENT_MONTHS = [6, 12]  # June and December, by default


def list_of_payment_months() -> list[int]:
    return list(PAYMENT_MONTHS)


def at_most(bound: Decimal, *, signed: bool = False) -> list[Any]:
    """Validators of a magnitude up to `bound` (`signed`: from −bound)."""
    return [MaxValueValidator(bound), MinValueValidator(-bound if signed else Decimal(0))]


def quantity_field(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=24, decimal_places=6, **kwargs)


def price_field(**kwargs: Any) -> models.DecimalField:
    kwargs.setdefault("validators", at_most(inputs.PRICE_MAX))
    return models.DecimalField(max_digits=24, decimal_places=8, **kwargs)


def rate_field(**kwargs: Any) -> models.DecimalField:
    kwargs.setdefault("validators", at_most(inputs.FX_RATE_MAX))
    return models.DecimalField(max_digits=24, decimal_places=10, **kwargs)


def fund_date_field(*rules: Callable[[dt.date], None], **kwargs: Any) -> models.DateField:
    """A date of the fund's data: from 1990 to today, and whatever `rules` add (a weekday,
    a business day)."""
    return models.DateField(validators=[inputs.validate_fund_date, *rules], **kwargs)


def money_field(**kwargs: Any) -> models.DecimalField:
    kwargs.setdefault("default", Decimal("0"))
    return models.DecimalField(max_digits=24, decimal_places=2, **kwargs)


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused: the rows are a ledger."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError(f"{self.model.__name__} rows are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{self.model.__name__} rows are append-only.")


class AppendOnlyModel(models.Model):
    """A model whose rows are written once: saving an existing row or deleting one raises."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError(f"{type(self).__name__} rows are append-only.")


class Instrument(models.Model):
    """A tradable instrument, quoted in price or in yield (percent), in one currency."""

    class AssetClass(models.TextChoices):
        FX = "fx"
        RATES = "rates"
        EQUITY = "equity"
        COMMODITY = "commodity"
        CREDIT = "credit"
        OTHER = "other"

    class QuoteType(models.TextChoices):
        PRICE = "price"
        YIELD = "yield"

    class Settlement(models.TextChoices):
        MARGINED = "margined"  # futures, swaps, forwards, FX: nothing paid up front
        FUNDED = "funded"  # bonds, equities, ETFs bought outright

    class Pricing(models.TextChoices):
        LINEAR = "linear"  # P&L linear in the quote (price × multiplier, or yield × dv01)
        DI1 = (
            "di1",
            "DI1",
        )  # B3's DI1 future: unit price from the rate, daily settlement with the CDI

    symbol = models.CharField(
        max_length=32, unique=True, validators=[inputs.code_validator, inputs.not_accounts_key]
    )
    name = models.CharField(max_length=200)
    asset_class = models.CharField(max_length=16, choices=AssetClass.choices)
    currency = models.CharField(max_length=3, validators=[inputs.currency_validator])
    quote_type = models.CharField(max_length=8, choices=QuoteType.choices)
    settlement = models.CharField(
        max_length=8,
        choices=Settlement.choices,
        default=Settlement.MARGINED,
        help_text="Margined: futures, swaps, forwards, FX (nothing paid up front). Funded: "
        "bonds, equities, ETFs bought outright; their cost is carried in base currency at the "
        "trade-date rate, so their P&L includes the currency's move on it. Fixed once the "
        "instrument has trades.",
    )
    multiplier = models.DecimalField(
        max_digits=24,
        decimal_places=8,
        default=Decimal("1"),
        validators=at_most(inputs.MULTIPLIER_MAX),
        help_text="Price instruments: value of one price unit per contract. "
        "Yield instruments: notional per contract.",
    )
    dv01 = models.DecimalField(
        max_digits=24,
        decimal_places=8,
        default=Decimal("0"),
        validators=at_most(inputs.DV01_MAX),
        help_text="Value of 1 bp per contract, in the instrument's currency (yield instruments).",
    )
    lot_size = quantity_field(default=Decimal("1"), validators=at_most(inputs.QUANTITY_MAX))
    pricing = models.CharField(
        max_length=8,
        choices=Pricing.choices,
        default=Pricing.LINEAR,
        help_text="Linear: P&L is the quote's move × multiplier (price) or × dv01 (yield). "
        "DI1: B3's one-day interbank deposit future, valued by its unit price from the rate "
        "and the business days to maturity, settled daily with the CDI correction; needs a "
        "maturity, is quoted in yield and in BRL. Fixed once the instrument has trades.",
    )
    maturity = models.DateField(
        null=True,
        blank=True,
        help_text="Last day of the contract: not traded from then on; its end of day closes "
        "open positions at the final settlement. A maturity on a holiday moves to the next "
        "business day.",
    )
    root = models.CharField(
        max_length=32,
        blank=True,
        default="",
        validators=[inputs.code_validator],
        help_text="The contract chain (e.g. DI1, ES): a position rolls within it, and a young "
        "contract borrows its older contracts' moves for risk.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(multiplier__gt=0), name="instrument_multiplier_positive"
            ),
            models.CheckConstraint(
                condition=Q(lot_size__gt=0), name="instrument_lot_size_positive"
            ),
            models.CheckConstraint(condition=Q(dv01__gte=0), name="instrument_dv01_not_negative"),
            models.CheckConstraint(
                condition=~Q(quote_type="yield", pricing="linear") | Q(dv01__gt=0),
                name="instrument_yield_has_dv01",
            ),
            models.CheckConstraint(
                condition=~Q(pricing="di1")
                | Q(quote_type="yield", currency="BRL", maturity__isnull=False),
                name="instrument_di1_is_brl_yield_with_maturity",
            ),
            models.CheckConstraint(
                condition=~Q(settlement="funded") | Q(quote_type="price"),
                name="instrument_funded_is_price_quoted",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def terms(self) -> Terms:
        """How a move of its quote becomes money (`portfolio.ledger`)."""
        return Terms.of(self)

    @property
    def expires_on(self) -> dt.date | None:
        """The business day the contract matures on: its maturity, or the next business
        day when that is a holiday (B3 moves a contract's last day so). None if undated."""
        return on_or_after(self.maturity) if self.maturity else None


class Strategy(models.Model):
    """A strategy (book) of the fund; positions are held per instrument and strategy."""

    code = models.CharField(
        max_length=32, unique=True, validators=[inputs.code_validator, inputs.not_accounts_key]
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=4000)
    risk_budget = money_field(
        validators=at_most(inputs.BUDGET_MAX),
        help_text="Daily P&L volatility target, in base currency.",
    )
    min_trade_fraction = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        default=Decimal("0.05"),
        help_text="No proposal for a trade smaller than this fraction of |target|.",
    )

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "strategies"
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_budget__gte=0), name="strategy_risk_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(min_trade_fraction__gte=0, min_trade_fraction__lte=1),
                name="strategy_min_trade_fraction_in_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Price(models.Model):
    """The close of an instrument on a date (a yield in percent for yield instruments)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="prices")
    date = fund_date_field(inputs.validate_weekday)
    price = price_field()
    # The close as a double, kept by the database beside it: what the risk engine reads,
    # so that rebuilding its market matrix converts no number (PostgreSQL turns a numeric
    # into a double through text: about a quarter of a rebuild's time otherwise).
    price_float = models.GeneratedField(
        expression=Cast("price", models.FloatField()),
        output_field=models.FloatField(),
        db_persist=True,
    )
    # A DI1's: the CDI corrections one contract's settlement PU has accrued before this
    # close since the instrument's first (`selectors.Di1Index`), kept by the services that
    # write closes and the CDI, so that a mark reads it instead of the whole history.
    # Null where unknown (a close loaded around them): the history is read then.
    accrual = models.DecimalField(
        max_digits=20, decimal_places=2, null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["instrument_id", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "date"], name="price_unique_instrument_date"
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.date} {number(self.price)}"


class FxRate(models.Model):
    """Units of base currency per one unit of `currency` on `date`."""

    currency = models.CharField(max_length=3, validators=[inputs.currency_validator])
    date = fund_date_field(inputs.validate_weekday)
    rate = rate_field()

    class Meta:
        ordering = ["currency", "date"]
        verbose_name = "FX rate"
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "date"], name="fxrate_unique_currency_date"
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fxrate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date} {number(self.rate)}"


class BenchmarkRate(models.Model):
    """A benchmark's rate for one business day (CDI: the day's overnight rate, e.g.
    0.000415 for 0.0415%), compounded daily: the benchmark's return over a period is
    Π(1 + rate) − 1."""

    class Benchmark(models.TextChoices):
        CDI = "CDI", "CDI (Brazilian interbank overnight rate)"

    benchmark = models.CharField(max_length=8, choices=Benchmark.choices, default="CDI")
    date = fund_date_field()
    rate = models.DecimalField(
        max_digits=14,
        decimal_places=12,
        validators=at_most(inputs.BENCHMARK_RATE_MAX, signed=True),
        help_text="The daily rate as a fraction: 0.000415 is 0.0415% a day.",
    )

    class Meta:
        ordering = ["benchmark", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "date"], name="benchmarkrate_unique_benchmark_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark} {self.date} {self.rate:f}"


def fraction_field(default: str, bound: str, help_text: str) -> models.DecimalField:
    """A rate of the fund's terms, a fraction (0.02 is 2%) from 0 to `bound`."""
    return models.DecimalField(
        max_digits=10,
        decimal_places=8,
        default=Decimal(default),
        validators=at_most(Decimal(bound)),
        help_text=help_text,
    )


def units_field(**kwargs: Any) -> models.DecimalField:
    """Units of the fund, or a quota: 8 places."""
    return models.DecimalField(max_digits=28, decimal_places=8, **kwargs)


class CapitalFlow(models.Model):
    """A subscription (+) or redemption (−), effective at the start of `date`, given as an
    amount in base currency or as units of the fund.

    The other side is converted at the quota of the previous close (`Q_{t−1}`; the
    initial quota on the first day): `units = amount / quota`, or `amount = cents(units ×
    quota)`. The timeline converts it again whenever it rebuilds the days before it.
    """

    class Entered(models.TextChoices):
        AMOUNT = "amount"
        UNITS = "units"

    date = fund_date_field(inputs.validate_business_day)
    amount = money_field(validators=at_most(inputs.FLOW_MAX, signed=True))
    units = units_field(
        null=True,
        blank=True,
        validators=at_most(inputs.FLOW_MAX, signed=True),
        help_text="Units issued (+) or cancelled (−).",
    )
    quota = units_field(null=True, blank=True, help_text="The quota it was converted at.")
    entered = models.CharField(
        max_length=8,
        choices=Entered.choices,
        default=Entered.AMOUNT,
        db_default=Entered.AMOUNT,  # a row written outside the ORM was given as an amount
        help_text="Given as an amount or as units; the other is converted.",
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="capitalflow_amount_not_zero"),
        ]

    def __str__(self) -> str:
        kind = "subscription" if self.amount >= 0 else "redemption"
        return f"{self.date} {kind} {money(self.amount)}"


class FundTerms(models.Model):
    """The fund's terms from `effective_from` until the next change: its fees, what its
    cash earns and its initial quota (DESIGN.md "The fund's accounts"). A change applies
    from its date: the fund's accounts are rebuilt from there. A fund without terms has no
    fees and its cash earns 100% of the CDI."""

    effective_from = fund_date_field(unique=True)
    initial_quota = units_field(
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.00000001")), MaxValueValidator(10**9)],
        help_text="The quota at the inception (Q0).",
    )
    management_fee = fraction_field(
        "0", "0.2", "Annual, on the capital at the start of each day: 0.02 is 2% a year."
    )
    performance_fee = fraction_field("0", "1", "Of the gain over the hurdle: 0.20 is 20%.")
    hurdle = fraction_field(
        "1", "10", "The hurdle as a multiple of the CDI: 1.00 is 100% of the CDI."
    )
    payment_months = models.JSONField(
        default=list_of_payment_months,
        help_text="Months the performance fee is paid in, on their last business day.",
    )
    cash_yield = fraction_field(
        "1", "10", "What a positive cash balance earns, as a multiple of the CDI."
    )
    financing_spread = fraction_field(
        "0", "1", "Annual, over the CDI, on a negative cash balance: 0.01 is 1% a year."
    )
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["effective_from"]
        verbose_name = "fund's terms"
        verbose_name_plural = "fund's terms"

    def __str__(self) -> str:
        return f"terms from {self.effective_from}"

    @property
    def in_force(self) -> TermsInForce:
        terms = {name: getattr(self, name) for name in TermsInForce._fields}
        return TermsInForce(**{**terms, "payment_months": frozenset(self.payment_months)})


class OfficialNav(models.Model):
    """The fund administrator's NAV, quota and units of a business day: what the fund's
    own are reconciled with."""

    date = fund_date_field(inputs.validate_business_day, unique=True)
    nav = money_field(validators=at_most(inputs.FLOW_MAX))
    quota = units_field(validators=at_most(inputs.QUOTA_MAX))
    units = units_field(validators=at_most(inputs.FLOW_MAX))
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date"]
        verbose_name = "official NAV"
        verbose_name_plural = "official NAVs"

    def __str__(self) -> str:
        return f"{self.date} official NAV {money(self.nav)}"


class Position(models.Model):
    """One position per instrument and strategy while open; the state the trades produce.

    The row is the live book's projection of the position's day in progress, as
    `portfolio.ledger.position_day` computes it (the engine of the timeline's days too):
    its holdings (quantity, average cost, cost base, realized), the close it is marked at
    (`last_price` on `price_date`, converted at `fx_rate`) with the figures there, and the
    start of the day, `sod_pnl_base` (unrealized + realized P&L at the previous close), so
    that daily P&L = unrealized + realized − sod_pnl_base on `pnl_date`, the book's
    valuation date.

    A trade dated after `pnl_date` (today's, while the book is valued at the last close)
    changes the quantities at once, valued at that close, without moving `pnl_date`; the
    start of its own day is kept aside until a mark reaches that day: `pending_days` holds,
    for each such day, what the position held before that day's trades (`next_pnl_date` is
    the first of them).
    """

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="positions")
    quantity = quantity_field(default=Decimal("0"))
    avg_cost = models.DecimalField(max_digits=28, decimal_places=12, default=Decimal("0"))
    last_price = price_field(null=True, blank=True)
    price_date = models.DateField(null=True, blank=True)
    fx_rate = rate_field(null=True, blank=True)
    notional_base = money_field()
    market_value_base = money_field()
    unrealized_pnl_base = money_field()
    realized_pnl_base = money_field()
    daily_pnl_base = money_field()
    dv01_base = money_field()
    cost_base = money_field(
        help_text="Funded: what the open quantity cost, in base currency at trade-date rates."
    )
    fx_pnl_base = money_field(help_text="Funded: the currency's move on the cost, unrealized.")
    pnl_date = models.DateField(help_text="The business date daily P&L refers to.")
    sod_pnl_base = money_field(help_text="Unrealized + realized P&L at the previous close.")
    next_pnl_date = models.DateField(
        null=True, blank=True, help_text="The first trade date after the P&L date, if any."
    )
    pending_days = models.TextField(
        blank=True,
        default="",
        help_text="JSON: per trade date after the P&L date, the holdings before its trades.",
    )
    opened_at = models.DateField(help_text="Trade date of the trade that opened it.")
    closed_at = models.DateField(null=True, blank=True, help_text="Trade date it went to zero.")

    class Meta:
        permissions = [
            ("mark_position", "Can mark positions to market"),
            ("close_position", "Can close positions"),
        ]
        ordering = ["instrument__symbol", "strategy__code", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "strategy"],
                condition=Q(closed_at__isnull=True),
                name="position_one_open_per_instrument_strategy",
            ),
            models.CheckConstraint(
                condition=(Q(closed_at__isnull=True) & ~Q(quantity=0))
                | (Q(closed_at__isnull=False) & Q(quantity=0)),
                name="position_open_iff_quantity_not_zero",
            ),
        ]

    OPEN = "open"
    CLOSED = "closed"

    def __str__(self) -> str:
        return f"{self.instrument} / {self.strategy} {number(self.quantity)}"

    @property
    def status(self) -> str:
        return self.OPEN if self.closed_at is None else self.CLOSED


class Trade(AppendOnlyModel):
    """An executed trade: the immutable ledger the positions are built from."""

    class Source(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        IMPORT = "import"
        PROPOSAL = "proposal"
        DEMO = "demo"
        EXPIRY = "expiry"  # the end of day's close of a matured contract's positions

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="trades")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="trades")
    position = models.ForeignKey(
        Position,
        on_delete=models.PROTECT,
        related_name="trades",
        help_text="The position it opened or changed (the new one when it crossed zero).",
    )
    trade_date = models.DateField()
    quantity = quantity_field(help_text="Signed: positive buys, negative sells.")
    price = price_field()
    fees = money_field(help_text="In base currency.")
    fx_rate = rate_field(help_text="X(currency, trade date) used for its realized P&L.")
    realized_pnl_base = money_field(help_text="P&L this trade realized, net of its fees.")
    realized_fx_pnl_base = money_field(
        help_text="Funded: the part of it from the currency's move on the cost it released."
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    booked_by = models.CharField(max_length=150)
    booked_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["trade_date", "id"]
        indexes = [
            models.Index(fields=["trade_date"], name="trade_date_idx"),
            models.Index(
                fields=["instrument", "strategy", "trade_date"], name="trade_instr_strat_date_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="trade_quantity_not_zero"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="trade_fees_not_negative"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.trade_date} {self.instrument} / {self.strategy} "
            f"{number(self.quantity)} @ {number(self.price)}"
        )


class AuditRecord(AppendOnlyModel):
    """Who changed what, when (UTC), from what to what. Never edited, never deleted."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


# --- The fund's timeline: the book at the close of each business date ----------------------
#
# Rebuilt from the ledger (portfolio.services.timeline). A position here is an (instrument,
# strategy) pair over its whole life: its cumulative realized P&L runs across the times it
# was closed and reopened, so its daily P&L `(U_t + R_t) − (U_{t−1} + R_{t−1})` sums
# exactly over any period.


class PositionSnapshot(models.Model):
    """An (instrument, strategy) position at the close of a business date, in base currency.

    Present on a date when the position is open at its close or was open at the previous
    one or traded that day, so that its last day's P&L is kept.
    """

    date = models.DateField()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="+")
    position = models.ForeignKey(
        Position,
        on_delete=models.PROTECT,
        related_name="snapshots",
        help_text="The book position of its last trade on or before the date.",
    )
    quantity = quantity_field()
    avg_cost = models.DecimalField(max_digits=28, decimal_places=12)
    price = price_field(help_text="The close it is marked at (its last trade price if none).")
    price_date = models.DateField(null=True, help_text="Date of that close; none if unpriced.")
    fx_rate = rate_field()
    notional_base = money_field()
    market_value_base = money_field()
    unrealized_pnl_base = money_field()
    realized_pnl_base = money_field(help_text="Cumulative since the first trade.")
    daily_pnl_base = money_field()
    dv01_base = money_field()
    cost_base = money_field(help_text="Funded: the cost of the quantity held, in base.")
    fx_pnl_base = money_field(help_text="Funded: the currency's move on the cost, unrealized.")
    daily_fx_pnl_base = money_field(help_text="Funded: the part of daily P&L from the currency.")

    class Meta:
        db_table = "attribution_positionsnapshot"  # moved from attribution, table kept
        ordering = ["date", "instrument_id", "strategy_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "instrument", "strategy"], name="positionsnapshot_unique_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.instrument} / {self.strategy}"


class PortfolioSnapshot(models.Model):
    """The fund at the close of a business date, with its accounts (DESIGN.md "The fund's
    accounts").

    `nav = nav(previous) + flow + pnl`, where `pnl` is the fund's: the positions' P&L plus
    the cash's carry less the fees; `daily_return = pnl / capital`, `capital = nav(previous)
    + flow`; `gross_return` leaves the fees out.
    """

    date = models.DateField(unique=True)
    nav = money_field()
    pnl = money_field(help_text="The fund's: the positions' P&L + carry − fees.")
    flow = money_field(help_text="Capital flows effective at the start of the date.")
    daily_return = models.DecimalField(max_digits=24, decimal_places=16)
    gross_exposure = money_field()
    net_exposure = money_field()
    positions = models.PositiveIntegerField(help_text="Open positions at the close.")
    positions_pnl = money_field(help_text="The positions' P&L of the day.")
    funded_value = money_field(help_text="The funded holdings' market value at the close.")
    capital = money_field(help_text="At the start of the day: the previous NAV + the flow.")
    cash = money_field(help_text="The capital not held in funded instruments.")
    carry = money_field(help_text="What the cash earned (or cost) at the CDI.")
    cdi = models.DecimalField(max_digits=14, decimal_places=12, default=Decimal("0"))
    management_fee = money_field()
    performance_fee = money_field(help_text="The provision's change, net of what was paid.")
    performance_paid = money_field(help_text="Provision paid out: on a payment date, or redeemed.")
    performance_provision = money_field(help_text="Accrued at the close, not yet paid.")
    units = units_field(default=Decimal("0"))
    quota = units_field(default=Decimal("0"), help_text="NAV / units, 8 places.")
    hurdle_quota = models.DecimalField(
        max_digits=40,
        decimal_places=24,
        default=Decimal("0"),
        help_text="The quota the next day's hurdle compounds from (unrounded).",
    )
    gross_return = models.DecimalField(max_digits=24, decimal_places=16, default=Decimal("0"))
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "attribution_portfoliosnapshot"  # moved from attribution, table kept
        ordering = ["date"]
        verbose_name = "fund's accounts (daily)"
        verbose_name_plural = "fund's accounts (daily)"

    def __str__(self) -> str:
        return f"{self.date} NAV {money(self.nav)}"


class BookMark(models.Model):
    """The close the live book is marked to: its valuation date, moved forward by each
    mark (a flat book's too); trades never move it. One row."""

    date = models.DateField()
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "valuation date of the book"
        verbose_name_plural = "valuation date of the book"

    def __str__(self) -> str:
        return f"the book marked to {self.date}"


# A position's figures as the API shows them, in its order: the book's rows, the
# positions list, and a past close's book read from its snapshots.
POSITION_FIGURES = (
    "quantity",
    "avg_cost",
    "last_price",
    "price_date",
    "notional_base",
    "market_value_base",
    "unrealized_pnl_base",
    "realized_pnl_base",
    "daily_pnl_base",
    "dv01_base",
)

# What a position holds: the fields a trade sets, in `portfolio.ledger.Holdings`' order.
HOLDING_FIELDS = ("quantity", "avg_cost", "cost_base", "realized_pnl_base")

# The figures a mark recomputes, shared by trade booking and mark-to-market.
MARK_FIELDS = (
    "last_price",
    "price_date",
    "fx_rate",
    "notional_base",
    "market_value_base",
    "unrealized_pnl_base",
    "daily_pnl_base",
    "dv01_base",
    "fx_pnl_base",
    "pnl_date",
    "sod_pnl_base",
    "next_pnl_date",
    "pending_days",
)
