"""Admin screens of the position book. The ledger, the audit trail and positions are read-only:
positions change only through trades and marks."""

import calendar
import json
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from core.admin import (
    DateRangeFilter,
    ExportAdmin,
    ReadOnlyAdmin,
    SelectFilter,
    ServiceAdmin,
    column,
    has_model_permission,
    money_column,
    number_column,
    percent_column,
)
from core.calendar import today
from core.charts import line_chart
from core.exports import MONEY, ExportColumn
from core.formatting import brt, flow_label, money, number, percent, price, quota

from . import selectors, services
from .admin_ticket import TicketAdminMixin
from .admin_uploads import CsvUploadMixin
from .imports import FX_RATES_CSV, PRICES_CSV
from .models import (
    AuditRecord,
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
    Strategy,
    Trade,
)

BASE = settings.PMS_BASE_CURRENCY  # the columns' headers say which currency


def breakable(code: str) -> SafeString:
    """A code that may break after its underscores, in a narrow column."""
    return format_html_join(mark_safe("_<wbr>"), "{}", ((part,) for part in code.split("_")))


def quota_column(field: str, description: str) -> Any:
    """A quota or a number of units, to its 8 places."""
    return column(field, description, quota)


def code_column(path: str, description: str) -> Any:
    """A list column of a row's instrument or strategy code (`path`: "instrument__symbol"),
    breaking after its underscores (EUR_<wbr>ESTR_<wbr>10Y), sortable by it."""
    relation, field = path.split("__")

    @admin.display(description=description, ordering=path)
    def cell(model_admin: admin.ModelAdmin, obj: Any) -> SafeString:
        return breakable(getattr(getattr(obj, relation), field))

    return cell


def quote_column(field: str, description: str, extra_places: int = 0) -> Any:
    """A price in its instrument's quote, to its places: a yield in percent (12.764%)."""
    return column(
        field,
        description,
        lambda obj: price(getattr(obj, field), obj.instrument, extra_places),
        of_row=True,
    )


@admin.register(Instrument)
class InstrumentAdmin(ServiceAdmin):
    list_display = (
        "symbol",
        "name",
        "asset_class",
        "currency",
        "quote_type",
        "settlement",
        "pricing",
        "maturity",
        "root",
        "multiplier_shown",
        "dv01_shown",
        "lot_size_shown",
        "is_active",
    )
    multiplier_shown = number_column("multiplier", "multiplier")
    dv01_shown = number_column("dv01", "DV01 (local)")
    lot_size_shown = number_column("lot_size", "lot")
    list_filter = (
        "asset_class",
        "currency",
        "quote_type",
        "settlement",
        "pricing",
        "root",
        "is_active",
    )
    search_fields = ("symbol", "name", "root")
    create_service = staticmethod(services.instrument_create)
    update_service = staticmethod(services.instrument_update)
    check_service = staticmethod(services.instrument_check)


@admin.register(Strategy)
class StrategyAdmin(ServiceAdmin):
    list_display = ("code", "name", "risk_budget_shown", "min_trade_shown")
    risk_budget_shown = money_column("risk_budget", f"risk budget ({BASE})")
    min_trade_shown = percent_column("min_trade_fraction", "min trade (of target)")
    search_fields = ("code", "name")
    create_service = staticmethod(services.strategy_create)
    update_service = staticmethod(services.strategy_update)


class MarketDataAdmin(ServiceAdmin):
    """A series of market data (`services.MarketSeries`), written a row at a time through
    its batch services. A row is keyed by its date and instrument, currency or benchmark: a
    change is to its value (another key is another row, added as such). Nothing is
    deleted: a wrong value is corrected, as through the API."""

    series: services.MarketSeries

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.create_service = staticmethod(cls.series.save)
        cls.update_service = staticmethod(cls.series.update)
        cls.check_service = staticmethod(cls.series.check)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (self.series.key, "date") if obj is not None else ()


class PriceForm(forms.ModelForm):
    confirm = forms.BooleanField(
        required=False, help_text="Confirms a close outside PMS_PRICE_BAND of the previous one."
    )

    class Meta:
        model = Price
        fields = ["instrument", "date", "price"]


@admin.register(Price)
class PriceAdmin(CsvUploadMixin, ExportAdmin, MarketDataAdmin):
    series = services.PRICES
    csv_import = PRICES_CSV
    form = PriceForm
    list_display = ("instrument", "date", "price_shown")
    price_shown = quote_column("price", "close")
    list_filter = (
        ("date", DateRangeFilter),
        ("instrument", SelectFilter),
        "instrument__asset_class",
        "instrument__currency",
    )
    search_fields = ("instrument__symbol",)
    date_hierarchy = "date"
    ordering = ("-date", "-id")  # the latest closes first
    list_select_related = ("instrument",)
    export_columns = (
        ExportColumn("date", "date"),
        ExportColumn("instrument", "instrument.symbol"),
        ExportColumn("close", "price"),
        ExportColumn(
            "quoted as", lambda p: "yield (%)" if p.instrument.quote_type == "yield" else "price"
        ),
        ExportColumn("currency", "instrument.currency"),
    )
    autocomplete_fields = ("instrument",)


@admin.register(FxRate)
class FxRateAdmin(CsvUploadMixin, ExportAdmin, MarketDataAdmin):
    series = services.FX_RATES
    csv_import = FX_RATES_CSV
    list_display = ("currency", "date", "rate_shown")
    rate_shown = number_column("rate", f"rate ({BASE} per unit)", max_places=6)
    list_filter = (("date", DateRangeFilter), "currency")
    search_fields = ("currency",)
    date_hierarchy = "date"
    ordering = ("-date", "-id")
    export_columns = (
        ExportColumn("date", "date"),
        ExportColumn("currency", "currency"),
        ExportColumn(f"rate ({BASE} per unit)", "rate"),
    )


@admin.register(BenchmarkRate)
class BenchmarkRateAdmin(MarketDataAdmin):
    series = services.BENCHMARK_RATES
    list_display = ("benchmark", "date", "rate_shown", "rate_annualized")
    rate_shown = percent_column("rate", "daily rate", places=4)
    list_filter = ("benchmark",)
    date_hierarchy = "date"

    @admin.display(description="annualized (252 days)")
    def rate_annualized(self, rate: BenchmarkRate) -> str:
        return percent((1 + float(rate.rate)) ** 252 - 1, 2)


@admin.register(CapitalFlow)
class CapitalFlowAdmin(ServiceAdmin):
    """Flows are added, never edited or deleted (as through the API): a correction is a
    flow of its own."""

    fields = ("date", "amount", "units", "note")
    create_service = staticmethod(services.capital_flow_create)
    check_service = staticmethod(services.capital_flow_check)
    list_display = (
        "date",
        "amount_shown",
        "units_shown",
        "quota_shown",
        "entered",
        "note",
        "created_at",
    )
    amount_shown = money_column("amount", f"amount ({BASE})")
    units_shown = quota_column("units", "units")
    quota_shown = quota_column("quota", "quota")
    date_hierarchy = "date"
    search_fields = ("note",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        """A flow is given as an amount or as units: either may be left blank."""
        form = super().get_form(request, obj, change=change, **kwargs)
        for name in ("amount", "units"):
            form.base_fields[name].required = False
            form.base_fields[name].initial = None
        return form


MONTHS = [(month, calendar.month_name[month]) for month in range(1, 13)]


class FundTermsForm(forms.ModelForm):
    """The terms as a person writes them: the payment months ticked, not a JSON list."""

    payment_months = forms.TypedMultipleChoiceField(
        choices=MONTHS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The performance fee is paid on the last business day of each month ticked.",
    )

    class Meta:
        model = FundTerms
        fields = ["effective_from", *services.TERMS_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in self.initial.items():  # 0E-8 reads 0.00000000
            if isinstance(value, Decimal):
                self.initial[name] = f"{value:f}"


@admin.register(FundTerms)
class FundTermsAdmin(ServiceAdmin):
    """The fund's terms, each from its date: a change rebuilds the accounts from there.
    Changes are kept (a new date is a new row); they are never deleted."""

    form = FundTermsForm
    fields = ("effective_from", *services.TERMS_FIELDS)
    create_service = staticmethod(services.fund_terms_change)
    check_service = staticmethod(services.fund_terms_check)
    list_display = (
        "effective_from",
        "initial_quota",
        "management_fee_pct",
        "performance_fee_pct",
        "hurdle_pct",
        "paid_in",
        "cash_yield_pct",
        "financing_spread_pct",
        "created_by",
    )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new change starts from the terms in force today: change what changes."""
        in_force = FundTerms.objects.filter(effective_from__lte=today()).last()
        values = (
            {name: getattr(in_force, name) for name in services.TERMS_FIELDS} if in_force else {}
        )
        return {**values, "effective_from": today(), **super().get_changeform_initial_data(request)}

    @staticmethod
    def update_service(terms: FundTerms, *, actor: str, **changes: Any) -> FundTerms:
        changes.pop("effective_from", None)
        return services.fund_terms_change(
            effective_from=terms.effective_from, actor=actor, **changes
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("effective_from",) if obj else ()

    @admin.display(description="performance fee paid in")
    def paid_in(self, terms: FundTerms) -> str:
        return ", ".join(calendar.month_name[m] for m in sorted(terms.payment_months)) or "—"

    @admin.display(description="management fee")
    def management_fee_pct(self, terms: FundTerms) -> str:
        return percent(terms.management_fee, 2) + " a year"

    @admin.display(description="performance fee")
    def performance_fee_pct(self, terms: FundTerms) -> str:
        return percent(terms.performance_fee, 2)

    @admin.display(description="hurdle")
    def hurdle_pct(self, terms: FundTerms) -> str:
        return percent(terms.hurdle, 0) + " of the CDI"

    @admin.display(description="cash earns")
    def cash_yield_pct(self, terms: FundTerms) -> str:
        return percent(terms.cash_yield, 0) + " of the CDI"

    @admin.display(description="financing spread")
    def financing_spread_pct(self, terms: FundTerms) -> str:
        return percent(terms.financing_spread, 2) + " a year"


@admin.register(OfficialNav)
class OfficialNavAdmin(ReadOnlyAdmin):
    """The administrator's NAV, quota and units per day (POST /api/official-nav/ or
    `manage.py import_official_nav`)."""

    list_display = (
        "date",
        "nav_shown",
        "fund_nav_shown",
        "quota_shown",
        "units_shown",
        "status",
        "received_at",
    )
    quota_shown = quota_column("quota", "quota")
    units_shown = quota_column("units", "units")
    nav_shown = money_column("nav", f"official NAV ({BASE})")
    fund_nav_shown = money_column("fund_nav", f"the fund's NAV ({BASE})")
    date_hierarchy = "date"

    def get_queryset(self, request: HttpRequest) -> QuerySet[OfficialNav]:
        # The fund's figures of each day in the list's own query, not a query per row.
        fund = PortfolioSnapshot.objects.filter(date=OuterRef("date"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                fund_nav=Subquery(fund.values("nav")[:1]),
                fund_units=Subquery(fund.values("units")[:1]),
            )
        )

    @admin.display(description="against the fund's")
    def status(self, obj: Any) -> SafeString:
        """ok, break (the NAVs beyond PMS_NAV_TOLERANCE_BP, or the units differ) or
        missing (no snapshot of the fund that day), as GET /api/nav/reconciliation/ says."""
        status = selectors.reconciliation_status(obj.fund_nav, obj.nav, obj.fund_units, obj.units)
        css = {selectors.OK: "ok", selectors.BREAK: "breach"}.get(status, "warning")
        return format_html('<span class="pms-status pms-{}">{}</span>', css, status)


class OpenClosedFilter(admin.SimpleListFilter):
    """The book a PM reads unless asked otherwise: the open positions and those closed
    since its last close, as /api/book/ lists them."""

    title = "status"
    parameter_name = "status"
    BOOK, ALL = "book", "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (self.BOOK, "The book (open, and closed on its day)"),
            (Position.OPEN, "Open"),
            (Position.CLOSED, "Closed"),
            (self.ALL, "All"),
        ]

    def value(self) -> str:
        return super().value() or self.BOOK  # type: ignore[no-any-return]

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Position]) -> QuerySet[Position]:
        if self.value() == self.ALL:
            return queryset
        if self.value() == self.BOOK:
            return queryset.filter(Q(closed_at__isnull=True) | Q(on_valuation_date=True))
        return queryset.filter(closed_at__isnull=self.value() != Position.CLOSED)


# The amounts of a position (live or in a snapshot) in the base currency, to the cent: list
# column name → (field, header). The position list sums them over what its filters select.
BOOK_AMOUNTS = {
    "notional": ("notional_base", f"notional ({BASE})"),
    "unrealized": ("unrealized_pnl_base", f"unrealized P&L ({BASE})"),
    "daily": ("daily_pnl_base", f"day P&L ({BASE})"),
    "realized": ("realized_pnl_base", f"realized P&L ({BASE})"),
    "dv01": ("dv01_base", f"DV01 ({BASE} per bp)"),
}


class BookAmounts:
    """The columns of BOOK_AMOUNTS, for the position and position-snapshot lists."""

    notional, unrealized, daily, realized, dv01 = (
        money_column(field, header) for field, header in BOOK_AMOUNTS.values()
    )


@admin.register(Position)
class PositionAdmin(BookAmounts, ReadOnlyAdmin):
    """The book: as /api/book/ lists it by default, amounts in the base currency, each
    position's P&L of the book's valuation date (none when it was last marked earlier),
    and a totals row."""

    list_display = (
        "instrument_shown",
        "strategy_shown",
        "quantity_shown",
        "last_price_shown",  # the average cost, its date: on the row's page
        "notional",
        "unrealized",
        "daily",
        "realized",
        "dv01",
    )

    # Codes break after their underscores: the list fits 1,280 px.
    instrument_shown = code_column("instrument__symbol", "instrument")
    strategy_shown = code_column("strategy__code", "strategy")

    @admin.display(description="quantity", ordering="quantity")
    def quantity_shown(self, position: Position) -> SafeString:
        if position.closed_at is not None:
            return format_html('<span class="num">closed {}</span>', position.closed_at)
        return format_html('<span class="num">{}</span>', number(position.quantity))

    avg_cost_shown = quote_column("avg_cost", "avg cost", extra_places=2)
    last_price_shown = quote_column("last_price", "last price")
    # A position's page: the same figures, as the list shows them, with their dates.
    fields = (
        ("instrument", "strategy"),
        ("quantity_shown", "avg_cost_shown"),
        ("last_price_shown", "price_date", "fx_rate_shown"),
        ("notional", "market_value"),
        ("unrealized", "realized", "daily", "pnl_date"),
        ("cost", "price_pnl", "fx_pnl"),
        "dv01",
        ("opened_at", "closed_at"),
    )
    readonly_fields = tuple(
        f for row in fields for f in (row if isinstance(row, tuple) else (row,))
    )
    fx_rate_shown = number_column("fx_rate", f"FX rate ({BASE} per unit)")
    market_value = money_column("market_value_base", f"market value ({BASE})")
    cost = money_column("cost_base", f"cost ({BASE}, funded)")
    fx_pnl = money_column("fx_pnl_base", f"of unrealized: FX ({BASE})")
    price_pnl = column(
        "unrealized_pnl_base",
        f"of unrealized: price ({BASE})",
        lambda p: money(p.unrealized_pnl_base - p.fx_pnl_base),
        of_row=True,
    )

    list_filter = (OpenClosedFilter, "strategy", "instrument__asset_class", "instrument__currency")
    search_fields = ("instrument__symbol", "strategy__code")
    list_select_related = ("instrument", "strategy")
    ordering = ("instrument__symbol", "strategy__code")
    list_per_page = 200
    actions = ["mark_to_market_today"]
    daily = money_column("day_pnl_base", f"day P&L ({BASE})")
    amount_fields = {name: field for name, (field, _) in BOOK_AMOUNTS.items()} | {
        "daily": "day_pnl_base"
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Position]:
        return selectors.with_day_pnl(super().get_queryset(request))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an error page
            sums = changelist.queryset.order_by().aggregate(
                **{name: Sum(field) for name, field in self.amount_fields.items()}
            )
            shown = {name: money(sums[name]) for name in BOOK_AMOUNTS}
            shown["instrument_shown"] = f"Total ({changelist.result_count})"
            changelist.totals_row = [shown.get(name, "") for name in changelist.list_display]
        return response

    def has_mark_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "mark")

    @admin.action(
        description="Mark selected open positions to the latest close due", permissions=["mark"]
    )
    def mark_to_market_today(self, request: HttpRequest, queryset: QuerySet[Position]) -> None:
        result = services.mark_to_market(
            as_of=selectors.close_due(),
            actor=request.user.get_username(),
            position_ids=queryset.filter(closed_at__isnull=True).values_list("pk", flat=True),
        )
        self.message_user(
            request,
            f"Marked {result.positions_updated} positions as of {result.as_of}; "
            f"unrealized P&L {result.total_unrealized_pnl:,.2f}.",
        )
        if result.stale or result.missing_fx:
            self.message_user(
                request,
                f"Stale prices: {', '.join(result.stale) or '—'}; "
                f"missing FX: {', '.join(result.missing_fx) or '—'}.",
                level=messages.WARNING,
            )


@admin.register(BookMark)
class BookMarkAdmin(ReadOnlyAdmin):
    """The live book's valuation date: the close its last mark was to (a mark moves it)."""

    list_display = ("date", "marked")

    @admin.display(description="marked at", ordering="marked_at")
    def marked(self, mark: BookMark) -> str:
        return brt(mark.marked_at)


@admin.register(Trade)
# The FX rate and the FX part of the realized P&L are on the trade's page (`fields`) and in
# the exports: the list fits 1,280 px.
class TradeAdmin(TicketAdminMixin, ExportAdmin, ReadOnlyAdmin):
    list_display = (
        "trade_date",
        "instrument_shown",
        "strategy_shown",
        "quantity_shown",
        "price_shown",
        "fees_shown",
        "realized",
        "source",
        "booked",
    )
    instrument_shown = code_column("instrument__symbol", "instrument")
    strategy_shown = code_column("strategy__code", "strategy")
    quantity_shown = number_column("quantity", "quantity")
    price_shown = quote_column("price", "price")
    fees_shown = money_column("fees", f"fees ({BASE})")
    fx_rate_shown = number_column("fx_rate", "FX rate", max_places=6)
    realized = money_column("realized_pnl_base", f"realized P&L ({BASE})")
    realized_fx = money_column("realized_fx_pnl_base", f"of which FX ({BASE})")

    @admin.display(description="booked", ordering="booked_at")
    def booked(self, trade: Trade) -> SafeString:
        """Who booked it and when, on two lines: the list fits 1,280 px."""
        return format_html("{}<br><small>{}</small>", trade.booked_by, brt(trade.booked_at))

    # The trade's page: every figure as the list writes it, the FX columns included.
    fields = (
        ("trade_date", "instrument", "strategy", "position"),
        ("quantity_shown", "price_shown", "fees_shown", "fx_rate_shown"),
        ("realized", "realized_fx"),
        ("source", "booked"),
        "note",
    )
    readonly_fields = (
        *("trade_date", "instrument", "strategy", "position", "quantity_shown", "price_shown"),
        *("fees_shown", "fx_rate_shown", "realized", "realized_fx", "source", "booked", "note"),
    )

    list_filter = (
        ("trade_date", DateRangeFilter),
        ("instrument", SelectFilter),
        "strategy",
        "source",
        "instrument__asset_class",
    )
    search_fields = ("instrument__symbol", "strategy__code", "booked_by", "note")
    date_hierarchy = "trade_date"
    ordering = ("-trade_date", "-id")  # the latest trades first
    list_select_related = ("instrument", "strategy")
    export_columns = (
        ExportColumn("trade date", "trade_date"),
        ExportColumn("instrument", "instrument.symbol"),
        ExportColumn("strategy", "strategy.code"),
        ExportColumn("quantity (+ buys, − sells)", "quantity"),
        ExportColumn("price", "price"),
        ExportColumn(f"fees ({BASE})", "fees", MONEY),
        ExportColumn("FX rate", "fx_rate"),
        ExportColumn(f"realized P&L ({BASE})", "realized_pnl_base", MONEY),
        ExportColumn(f"of which FX ({BASE})", "realized_fx_pnl_base", MONEY),
        ExportColumn("source", "source"),
        ExportColumn("booked by", "booked_by"),
        ExportColumn("booked at (UTC)", "booked_at"),
        ExportColumn("note", "note"),
    )


def _json(value: Any) -> str:
    """A record's before or after, as JSON text ("" when it has none)."""
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@admin.register(AuditRecord)
class AuditRecordAdmin(ExportAdmin, ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "object_type", "object_id", "note")
    list_filter = (("at", DateRangeFilter), "action", "object_type")
    search_fields = ("actor", "action", "object_id", "note")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    export_columns = (
        ExportColumn("at (UTC)", "at"),
        ExportColumn("who", "actor"),
        ExportColumn("action", "action"),
        ExportColumn("object", "object_type"),
        ExportColumn("object id", "object_id"),
        ExportColumn("note", "note"),
        ExportColumn("before", lambda r: _json(r.before)),
        ExportColumn("after", lambda r: _json(r.after)),
    )


# --- The fund's timeline: read-only, rebuilt from the ledger ----------------------------


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    """The fund's accounts, a row per business day (DESIGN.md "The fund's accounts"): the
    NAV, quota and units at the close; the day's capital, flows, the positions' P&L, the
    cash's carry, the fees and the fund's P&L and return net of them; the NAV curve of the
    rows shown above."""

    # The units, the cash and the CDI are on the day's page: the list fits 1,280 px.
    list_display = (
        "date",
        "nav_shown",
        "quota_shown",
        "flow_shown",
        "positions_pnl_shown",
        "carry_shown",
        "management_shown",
        "performance_shown",
        "pnl_shown",
        "return_pct",
        "provision_shown",
        "drawdown_pct",
    )
    ordering = ("-date",)  # the latest day first
    nav_shown = money_column("nav", f"NAV ({BASE})")
    quota_shown = quota_column("quota", "quota")
    units_shown = quota_column("units", "units")
    flow_shown = money_column("flow", f"subscriptions − redemptions ({BASE})")
    positions_pnl_shown = money_column("positions_pnl", f"positions' P&L ({BASE})")
    carry_shown = money_column("carry", f"carry of the cash ({BASE})")
    management_shown = money_column("management_fee", f"management fee ({BASE})")
    performance_shown = money_column("performance_fee", f"performance fee ({BASE})")
    pnl_shown = money_column("pnl", f"P&L net of fees ({BASE})")
    return_pct = percent_column("daily_return", "return net of fees", places=4)
    cdi_pct = percent_column("cdi", "CDI", places=4)
    cash_shown = money_column("cash", f"cash ({BASE})")
    provision_shown = money_column("performance_provision", f"performance provision ({BASE})")
    # A day's page: every figure of its accounts, in the fund's words.
    capital_shown = money_column("capital", f"capital at the start of the day ({BASE})")
    funded_shown = money_column("funded_value", f"funded holdings at the close ({BASE})")
    paid_shown = money_column("performance_paid", f"performance fee paid ({BASE})")
    gross_return_pct = percent_column("gross_return", "return before fees", places=4)
    hurdle_shown = column("hurdle_quota", "hurdle quota (unrounded)", number)
    gross_shown = money_column("gross_exposure", f"gross exposure ({BASE})")
    net_shown = money_column("net_exposure", f"net exposure ({BASE})")
    fieldsets = (
        (None, {"fields": ("date",)}),
        (
            "The day",
            {
                "fields": (
                    ("capital_shown", "flow_shown", "cdi_pct"),
                    ("positions_pnl_shown", "carry_shown", "cash_shown"),
                    ("management_shown", "performance_shown", "paid_shown"),
                    ("pnl_shown", "return_pct", "gross_return_pct"),
                )
            },
        ),
        (
            "At the close",
            {
                "fields": (
                    ("nav_shown", "quota_shown", "units_shown"),
                    ("provision_shown", "hurdle_shown", "funded_shown"),
                    ("gross_shown", "net_shown", "positions"),
                )
            },
        ),
    )
    readonly_fields = (
        "date",
        *(name for _, o in fieldsets[1:] for row in o["fields"] for name in row),
    )
    date_hierarchy = "date"
    list_per_page = 100

    @admin.display(description="drawdown (peak)")
    def drawdown_pct(self, snapshot: PortfolioSnapshot) -> str:
        found = getattr(self, "_drawdowns", {}).get(snapshot.date)
        if found is None:
            return "—"
        return f"{found.value:.2%} (peak {found.peak_date})" if found.value else "0.00%"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # The drawdown of the time-weighted NAV index, over the whole timeline, once a page.
        self._drawdowns = selectors.drawdown_history()
        extra_context = {"title": "The fund's accounts, day by day", **(extra_context or {})}
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an error page
            days = list(changelist.queryset.order_by("date").values_list("date", "nav", "flow"))
            flows = [(i, flow_label(flow)) for i, (_, _, flow) in enumerate(days) if flow]
            response.context_data["nav_chart"] = line_chart(  # type: ignore[attr-defined]
                [d.isoformat() for d, _, _ in days],
                [float(nav) for _, nav, _ in days],
                markers=flows,
                width=1160,  # the list's width at 1,280 px; narrower windows scale it down
                height=240,
            )
        return response


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(BookAmounts, ReadOnlyAdmin):
    list_display = (
        "date",
        "instrument",
        "strategy",
        "quantity_shown",
        "price_shown",
        "fx_rate_shown",
        "notional",
        "unrealized",
        "realized",
        "daily",
    )
    quantity_shown = number_column("quantity", "quantity")
    price_shown = quote_column("price", "close")
    fx_rate_shown = number_column("fx_rate", "FX rate")
    list_filter = ("strategy", "instrument__asset_class", "instrument__currency")
    search_fields = ("instrument__symbol", "strategy__code")
    date_hierarchy = "date"
    list_select_related = ("instrument", "strategy")
