"""Serializers of the portfolio API: parse and validate input, describe output.

Every input is strict (`core.inputs` holds the rules): an unknown field is a 400
naming it, numbers are ASCII decimals within their column's digits and bounds, dates are
in the fund's range, symbols, codes and currencies match their patterns, notes are bounded.
"""

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from core import inputs
from core.formatting import decimal_str
from core.serializers import (
    FundDateField,
    ModelSerializer,
    StrictSerializer,
    bounded,
    code_field,
    confirm_field,
    fees_field,
    money_field,
    note_field,
    positive,
    price_field,
    quantity_field,
)

from ..models import (
    POSITION_FIGURES,
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FundTerms,
    FxRate,
    Instrument,
    OfficialNav,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from ..selectors import BREAK, MISSING, OK, POSITION_VALUES, BookRow, LiveBook
from ..services import TERMS_FIELDS


def funded_figures(cost_base: Decimal, unrealized: Decimal, fx: Decimal) -> dict[str, str]:
    """A funded position's cost base and the split of its unrealized P&L into the price
    and the currency's move, as the API shows them."""
    return {
        "cost_base": f"{cost_base:f}",
        "price_pnl_base": f"{unrealized - fx:f}",
        "fx_pnl_base": f"{fx:f}",
    }


def json_value(value: Any) -> Any:
    """A value as the API's JSON holds it: decimals in plain notation, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class InstrumentSerializer(ModelSerializer):
    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "name",
            "asset_class",
            "currency",
            "quote_type",
            "settlement",
            "pricing",
            "maturity",
            "root",
            "multiplier",
            "dv01",
            "lot_size",
            "is_active",
        ]
        extra_kwargs = {
            "multiplier": {"validators": [positive]},
            "lot_size": {"validators": [positive]},
        }


class InstrumentRowSerializer(InstrumentSerializer):
    """A row of an instrument import: a stored symbol is changed, a new one created."""

    class Meta(InstrumentSerializer.Meta):
        extra_kwargs = {
            **InstrumentSerializer.Meta.extra_kwargs,
            "symbol": {"validators": [inputs.code_validator, inputs.not_accounts_key]},  # an upsert
        }


class StrategySerializer(ModelSerializer):
    class Meta:
        model = Strategy
        fields = ["code", "name", "description", "risk_budget", "min_trade_fraction"]
        extra_kwargs = {
            "risk_budget": {"min_value": Decimal("0")},
            "min_trade_fraction": {"min_value": Decimal("0"), "max_value": Decimal("1")},
        }


class PriceSerializer(ModelSerializer):
    instrument = serializers.CharField(max_length=32, source="instrument.symbol")
    price = price_field()

    class Meta:
        model = Price
        fields = ["instrument", "date", "price"]


class PriceRowSerializer(StrictSerializer):
    """One row of a price upload; `confirm` accepts a close outside PMS_PRICE_BAND."""

    instrument = code_field()
    date = FundDateField()
    price = price_field()
    confirm = confirm_field()


class FxRateSerializer(ModelSerializer):
    rate = bounded(24, 10, inputs.FX_RATE_MAX, validators=[positive])

    class Meta:
        model = FxRate
        fields = ["currency", "date", "rate"]
        validators: list[Any] = []  # rows are upserted by (currency, date), not refused


class BenchmarkRateSerializer(ModelSerializer):
    benchmark = serializers.ChoiceField(
        choices=BenchmarkRate.Benchmark.choices, default=BenchmarkRate.Benchmark.CDI
    )
    rate = bounded(
        14,
        12,
        inputs.BENCHMARK_RATE_MAX,
        signed=True,
        help_text="The daily rate as a fraction: 0.000415 is 0.0415% a day.",
    )

    class Meta:
        model = BenchmarkRate
        fields = ["benchmark", "date", "rate"]
        validators: list[Any] = []  # rows are upserted by (benchmark, date), not refused


class CapitalFlowSerializer(ModelSerializer):
    """A flow given as an amount or as units; the answer has both and the quota it was
    converted at."""

    class Meta:
        model = CapitalFlow
        fields = ["id", "date", "amount", "units", "quota", "entered", "note", "created_at"]
        read_only_fields = ["id", "quota", "entered", "created_at"]
        extra_kwargs = {"amount": {"required": False}, "units": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("amount", "units") if attrs.get(name) is not None]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"amount": ["Give the flow as an amount (base currency) or as units: one of them."]}
            )
        return attrs


class PositionSerializer(ModelSerializer):
    instrument = serializers.CharField(source="instrument.symbol", read_only=True)
    strategy = serializers.CharField(source="strategy.code", read_only=True)
    status = serializers.ChoiceField(choices=[Position.OPEN, Position.CLOSED], read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "instrument",
            "strategy",
            *POSITION_FIGURES,
            "status",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Position) -> dict[str, Any]:
        shown = super().to_representation(instance)
        if instance.instrument.settlement == Instrument.Settlement.FUNDED:
            shown.update(
                funded_figures(
                    instance.cost_base, instance.unrealized_pnl_base, instance.fx_pnl_base
                )
            )
        return shown


class PositionOpenSerializer(StrictSerializer):
    """Book a trade: opens a position, or adds to the open one of its instrument and strategy."""

    instrument = code_field()
    strategy = code_field()
    quantity = quantity_field(help_text="Signed: positive buys, negative sells.")
    price = price_field()
    trade_date = FundDateField(required=False)
    fees = fees_field()
    note = note_field()
    confirm = confirm_field()

    def validate_quantity(self, value: Decimal) -> Decimal:
        problem = inputs.quantity_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


class TradeRowSerializer(PositionOpenSerializer):
    """One row of a trade import: the trade date is required."""

    trade_date = FundDateField()


class PositionCloseSerializer(StrictSerializer):
    price = price_field()
    quantity = quantity_field(
        required=False, validators=[positive], help_text="Amount to close (positive); default all."
    )
    trade_date = FundDateField(required=False)
    fees = fees_field()
    confirm = confirm_field()


class PositionRollSerializer(StrictSerializer):
    to = code_field(help_text="The contract to roll into: another of the position's root.")
    price_from = price_field(help_text="The price (or rate) the position is closed at.")
    price_to = price_field(help_text="The price (or rate) the quantity is opened at in `to`.")
    trade_date = FundDateField(required=False)
    fees = fees_field(help_text="The roll's fees, base currency, booked on the closing trade.")
    confirm = confirm_field()


class PositionRollResultSerializer(serializers.Serializer):
    closed = PositionSerializer(help_text="The position rolled out of, now closed.")
    opened = PositionSerializer(help_text="The position the quantity is held in now.")


class TradeSerializer(ModelSerializer):
    instrument = serializers.CharField(source="instrument.symbol", read_only=True)
    strategy = serializers.CharField(source="strategy.code", read_only=True)

    class Meta:
        model = Trade
        fields = [
            "id",
            "trade_date",
            "instrument",
            "strategy",
            "position",
            "quantity",
            "price",
            "fees",
            "fx_rate",
            "realized_pnl_base",
            "realized_fx_pnl_base",
            "source",
            "booked_by",
            "booked_at",
            "note",
        ]
        read_only_fields = fields


def units_field(**kwargs: Any) -> serializers.DecimalField:
    """Units of the fund, or a quota: 8 places."""
    return serializers.DecimalField(max_digits=28, decimal_places=8, **kwargs)


class FundTermsSerializer(ModelSerializer):
    """A change of the fund's terms, in force from its date until the next one."""

    payment_months = serializers.ListField(child=serializers.IntegerField())

    class Meta:
        model = FundTerms
        fields = ["effective_from", *TERMS_FIELDS, "created_by", "created_at"]
        read_only_fields = fields


class FundTermsChangeSerializer(ModelSerializer):
    """PATCH /api/fund/: the terms from `effective_from`, those in force then with the
    fields given changed. The accounts are rebuilt from that date."""

    effective_from = FundDateField(
        help_text="The first day the terms apply: the fund's accounts are rebuilt from it."
    )
    payment_months = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=12),
        max_length=12,
        required=False,
        help_text="The months the performance fee is paid in, on their last business day.",
    )

    class Meta:
        model = FundTerms
        fields = ["effective_from", *TERMS_FIELDS]

    # A change names its date even by PATCH: this body is never partial, and the schema's
    # generator, which reads `partial` to leave every field optional on a PATCH, says so.
    @property
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass


class FundSerializer(serializers.Serializer):
    # GET /api/fund/: a `Fund` (`portfolio.selectors.fund`).
    base_currency = serializers.CharField()
    inception = serializers.DateField(
        allow_null=True, help_text="The first business day: that of the first capital flow."
    )
    calendar = serializers.CharField(help_text="The exchange calendar of business days.")
    time_zone = serializers.CharField(help_text="Of business dates; times are UTC.")
    last_mark = serializers.DateField(
        allow_null=True, help_text="The date the live book is marked to; it only moves forward."
    )
    last_snapshot = serializers.DateField(
        allow_null=True, help_text="The latest business date of the timeline."
    )
    valuation_date = serializers.DateField(
        help_text="The close the live book is marked to: the day of the accounts below."
    )
    nav = money_field(
        source="accounts.close.nav", help_text="The live NAV, as /api/book/ gives it."
    )
    quota = units_field(source="accounts.close.quota", help_text="NAV / units, 8 places.")
    units = units_field(source="accounts.close.units", help_text="Outstanding, after the flows.")
    cash = money_field(
        source="accounts.cash", help_text="The day's cash: capital not in funded holdings."
    )
    performance_provision = money_field(
        source="accounts.close.provision", help_text="The performance fee accrued, not yet paid."
    )
    terms = FundTermsSerializer(many=True, help_text="Each change of the terms, oldest first.")


class MarkToMarketRequestSerializer(StrictSerializer):
    date = FundDateField(
        required=False,
        help_text="The close to mark to, a business day; default the latest close due "
        "(today's after PMS_CLOSE_TIME, else the previous business day's).",
    )


class MarkToMarketResultSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    positions_updated = serializers.IntegerField()
    stale = serializers.ListField(
        child=serializers.CharField(), help_text="Symbols priced before as_of or not at all."
    )
    missing_fx = serializers.ListField(
        child=serializers.CharField(), help_text="Currencies without an FX rate."
    )
    total_unrealized_pnl = money_field()


class BookPositionSerializer(PositionSerializer):
    """A position as the book shows it (read from plain rows, documented here)."""

    # The rows are `BookRow`s of the live book.
    asset_class = serializers.CharField()
    currency = serializers.CharField()

    class Meta(PositionSerializer.Meta):
        fields = [*PositionSerializer.Meta.fields, "asset_class", "currency"]
        read_only_fields = fields

    def to_representation(self, row: BookRow) -> dict[str, Any]:  # type: ignore[override]
        return book_position(row)


_SHOWN = list(POSITION_VALUES)  # the first fields of a BookRow, in its order
assert tuple(BookRow._fields[: len(_SHOWN)]) == tuple(_SHOWN), "BookRow starts with the columns"


def book_position(row: BookRow) -> dict[str, Any]:
    """A `BookRow` as the API shows it. A book has thousands of rows: each is a plain
    dict built here, not a field-by-field serializer."""
    shown: dict[str, Any] = {}
    for name, value in zip(_SHOWN, row, strict=False):  # `json_value`, inline: once per field
        if isinstance(value, Decimal):
            value = decimal_str(value)
        elif isinstance(value, dt.date):
            value = value.isoformat()
        shown[name] = value
    shown["status"] = row.status
    shown["asset_class"] = row.asset_class
    shown["currency"] = row.currency
    if row.funded:
        shown.update(funded_figures(row.cost_base, row.unrealized_pnl_base, row.fx_pnl_base))
    return shown


class BookTotalsSerializer(serializers.Serializer):
    positions = serializers.IntegerField(help_text="Rows listed: open, and closed that day.")
    open_positions = serializers.IntegerField()
    gross_exposure = money_field()
    net_exposure = money_field()
    long_exposure = money_field()
    short_exposure = money_field()
    unrealized_pnl = money_field()
    realized_pnl = money_field()
    daily_pnl = money_field()


class BookSerializer(serializers.Serializer):
    # GET /api/book/: a `LiveBook` (`portfolio.selectors.live_book`).
    as_of = serializers.DateField(help_text="The valuation date (kept for older clients).")
    valuation_date = serializers.DateField(
        help_text="The close the book is marked to; trades dated after it do not move it."
    )
    base_currency = serializers.CharField()
    nav = money_field()
    positions = BookPositionSerializer(many=True)
    totals = BookTotalsSerializer()
    stale_prices = serializers.ListField(
        child=serializers.CharField(),
        help_text="Held instruments without the latest close due (PMS_CLOSE_TIME).",
    )
    cash = money_field(help_text="The valuation date's cash: capital not in funded holdings.")
    carry = money_field(help_text="What the cash earned (or cost) that day at the CDI.")
    fees = money_field(help_text="That day's management and performance fees.")
    management_fee = money_field()
    performance_fee = money_field()
    performance_provision = money_field(help_text="Accrued at the day's close, not yet paid.")
    units = serializers.DecimalField(max_digits=28, decimal_places=8)
    quota = serializers.DecimalField(max_digits=28, decimal_places=8)
    cached = serializers.BooleanField()
    cache_age_seconds = serializers.FloatField(allow_null=True)

    def to_representation(self, book: LiveBook) -> dict[str, Any]:  # type: ignore[override]
        totals, accounts = book.totals, book.accounts
        return {
            "as_of": book.valuation_date.isoformat(),
            "valuation_date": book.valuation_date.isoformat(),
            "base_currency": book.base_currency,
            "nav": decimal_str(book.nav),
            "positions": [book_position(row) for row in book.positions],
            "totals": {
                field.name: json_value(getattr(totals, field.name))
                for field in dataclasses.fields(totals)
            },
            "stale_prices": book.stale_prices,
            "cash": decimal_str(accounts.cash),
            "carry": decimal_str(accounts.carry),
            "fees": decimal_str(accounts.management_fee + accounts.performance_fee),
            "management_fee": decimal_str(accounts.management_fee),
            "performance_fee": decimal_str(accounts.performance_fee),
            "performance_provision": decimal_str(accounts.close.provision),
            "units": decimal_str(accounts.close.units),
            "quota": decimal_str(accounts.close.quota),
        }


class AuditRecordSerializer(ModelSerializer):
    class Meta:
        model = AuditRecord
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "note",
        ]
        read_only_fields = fields


class NavSerializer(serializers.Serializer):
    """A day of the fund and its accounts. NAV = previous NAV + flow + pnl, where pnl is
    the fund's (positions' P&L + carry − fees); return = pnl / (previous NAV + flow)."""

    date = serializers.DateField()
    nav = money_field()
    pnl = money_field(help_text="The fund's: the positions' P&L + carry − fees.")
    flow = money_field()
    # `return` is a Python keyword: declared through the class namespace.
    vars()["return"] = serializers.DecimalField(
        max_digits=24, decimal_places=16, source="daily_return", help_text="The day's return."
    )
    gross_return = serializers.DecimalField(
        max_digits=24, decimal_places=16, help_text="The day's return before fees."
    )
    quota = units_field()
    units = units_field()
    positions_pnl = money_field()
    cash = money_field()
    carry = money_field()
    cdi = serializers.DecimalField(max_digits=14, decimal_places=12)
    management_fee = money_field()
    performance_fee = money_field()
    performance_paid = money_field()
    performance_provision = money_field()
    gross_exposure = money_field()
    net_exposure = money_field()
    positions = serializers.IntegerField()

    def to_representation(self, day: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """A day read as `.values()` (NavView): five years are 1,260 rows of 20 figures,
        each a plain string here rather than a field's call."""
        shown: dict[str, Any] = {}
        for name, source in NAV_VALUES.items():
            value = day[source]
            shown[name] = f"{value:f}" if isinstance(value, Decimal) else value
        shown["date"] = day["date"].isoformat()
        return shown


# /api/nav/'s fields and the snapshot's columns they show, in the answer's order.
NAV_VALUES = {
    name: field.source or name
    for name, field in NavSerializer._declared_fields.items()  # DRF keeps them in order
}


class OfficialNavSerializer(ModelSerializer):
    """The administrator's NAV, quota and units of a business day, upserted by date (a
    date sent again is a correction); `received_at` is when it was last sent."""

    date = FundDateField(
        validators=[inputs.validate_business_day], help_text="A business day of the fund."
    )

    class Meta:
        model = OfficialNav
        fields = ["date", "nav", "quota", "units", "received_at"]
        read_only_fields = ["received_at"]
        # Bounds come from the model's columns; zero is no NAV, quota or units, and each is
        # required (the NAV column's default is for no row sent here).
        extra_kwargs = {
            name: {"validators": [positive], "required": True} for name in ("nav", "quota", "units")
        }


class NavReconciliationQuerySerializer(serializers.Serializer):
    start = FundDateField(required=False, help_text="The first day; default the first either has.")
    end = FundDateField(required=False, help_text="The last day; default the last either has.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "start" in attrs and "end" in attrs and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": ["On or after start."]})
        return attrs


class NavReconciliationSerializer(serializers.Serializer):
    """A day of the fund beside the administrator's (a `selectors.NavReconciliation`):
    the fund's figures, the official ones, and whether they agree."""

    date = serializers.DateField()
    nav = money_field(allow_null=True, help_text="The fund's; null when it has no snapshot.")
    official_nav = money_field(
        allow_null=True, help_text="The administrator's; null when it has none for the day."
    )
    difference = money_field(allow_null=True, help_text="The fund's NAV less the official NAV.")
    difference_bp = serializers.DecimalField(
        max_digits=24,
        decimal_places=2,
        allow_null=True,
        help_text="The difference in basis points of the official NAV.",
    )
    quota = units_field(allow_null=True)
    official_quota = units_field(allow_null=True)
    units = units_field(allow_null=True)
    official_units = units_field(allow_null=True)
    status = serializers.ChoiceField(
        choices=[OK, BREAK, MISSING],
        help_text="break: the NAVs differ by more than PMS_NAV_TOLERANCE_BP basis points of "
        "the official NAV, or the units differ at all; missing: one side only.",
    )


class PositionSnapshotSerializer(ModelSerializer):
    instrument = serializers.CharField(source="instrument.symbol")
    strategy = serializers.CharField(source="strategy.code")

    class Meta:
        model = PositionSnapshot
        fields = [
            "date",
            "instrument",
            "strategy",
            "position",
            "quantity",
            "avg_cost",
            "price",
            "price_date",
            "fx_rate",
            "notional_base",
            "market_value_base",
            "unrealized_pnl_base",
            "realized_pnl_base",
            "daily_pnl_base",
            "dv01_base",
            "cost_base",
            "fx_pnl_base",
            "daily_fx_pnl_base",
        ]
        read_only_fields = fields
