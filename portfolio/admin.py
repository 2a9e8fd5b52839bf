"""Admin screens of the position book. The ledger, the audit trail and positions are read-only:
positions change only through trades and marks."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from core.admin import ReadOnlyAdmin, ServiceAdmin
from core.calendar import today
from core.charts import line_chart

from . import selectors, services
from .models import (
    AuditRecord,
    CapitalFlow,
    FxRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)


@admin.register(Instrument)
class InstrumentAdmin(ServiceAdmin):
    list_display = (
        "symbol",
        "name",
        "asset_class",
        "currency",
        "quote_type",
        "multiplier",
        "dv01",
        "lot_size",
        "is_active",
    )
    list_filter = ("asset_class", "currency", "quote_type", "is_active")
    search_fields = ("symbol", "name")
    create_service = staticmethod(services.instrument_create)
    update_service = staticmethod(services.instrument_update)
    check_service = staticmethod(services.instrument_check)


@admin.register(Strategy)
class StrategyAdmin(ServiceAdmin):
    list_display = ("code", "name", "risk_budget", "min_trade_fraction")
    search_fields = ("code", "name")
    create_service = staticmethod(services.strategy_create)
    update_service = staticmethod(services.strategy_update)


class KeyFixedOnChange:
    """A row of market data is keyed by its date and instrument or currency: a change is to
    its value (another key is another row, added as such). Nothing is deleted: a wrong
    value is corrected, as through the API."""

    key_fields: tuple[str, ...]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.key_fields if obj is not None else ()


class PriceForm(forms.ModelForm):
    confirm = forms.BooleanField(
        required=False, help_text="Confirms a close outside PMS_PRICE_BAND of the previous one."
    )

    class Meta:
        model = Price
        fields = ["instrument", "date", "price"]


@admin.register(Price)
class PriceAdmin(KeyFixedOnChange, ServiceAdmin):
    form = PriceForm
    key_fields = ("instrument", "date")
    create_service = staticmethod(services.price_save)
    update_service = staticmethod(services.price_update)
    check_service = staticmethod(services.price_check)
    list_display = ("instrument", "date", "price")
    list_filter = ("instrument__asset_class", "instrument__currency")
    search_fields = ("instrument__symbol",)
    date_hierarchy = "date"
    list_select_related = ("instrument",)
    autocomplete_fields = ("instrument",)


@admin.register(FxRate)
class FxRateAdmin(KeyFixedOnChange, ServiceAdmin):
    key_fields = ("currency", "date")
    create_service = staticmethod(services.fx_rate_save)
    update_service = staticmethod(services.fx_rate_update)
    check_service = staticmethod(services.fx_rate_check)
    list_display = ("currency", "date", "rate")
    list_filter = ("currency",)
    search_fields = ("currency",)
    date_hierarchy = "date"


@admin.register(CapitalFlow)
class CapitalFlowAdmin(ServiceAdmin):
    """Flows are added, never edited or deleted (as through the API): a correction is a
    flow of its own."""

    fields = ("date", "amount", "note")
    create_service = staticmethod(services.capital_flow_create)
    check_service = staticmethod(services.capital_flow_check)
    list_display = ("date", "amount", "note", "created_at")
    date_hierarchy = "date"
    search_fields = ("note",)


class OpenClosedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(Position.OPEN, "Open"), (Position.CLOSED, "Closed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Position]) -> QuerySet[Position]:
        if self.value() in (Position.OPEN, Position.CLOSED):
            return queryset.filter(closed_at__isnull=self.value() == Position.OPEN)
        return queryset


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = (
        "instrument",
        "strategy",
        "quantity",
        "avg_cost",
        "last_price",
        "price_date",
        "notional_base",
        "unrealized_pnl_base",
        "realized_pnl_base",
        "daily_pnl_base",
        "dv01_base",
        "status",
        "opened_at",
        "closed_at",
    )
    list_filter = (OpenClosedFilter, "strategy", "instrument__asset_class", "instrument__currency")
    search_fields = ("instrument__symbol", "strategy__code")
    date_hierarchy = "opened_at"
    list_select_related = ("instrument", "strategy")
    actions = ["mark_to_market_today"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Actions need change permission; positions still have no editable field.
        return obj is None and request.user.has_perm("portfolio.change_position")

    @admin.action(description="Mark selected open positions to market (as of today)")
    def mark_to_market_today(self, request: HttpRequest, queryset: QuerySet[Position]) -> None:
        result = services.mark_to_market(
            as_of=today(),
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


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = (
        "trade_date",
        "instrument",
        "strategy",
        "quantity",
        "price",
        "fees",
        "fx_rate",
        "realized_pnl_base",
        "source",
        "booked_by",
        "booked_at",
    )
    list_filter = ("source", "strategy", "instrument__asset_class")
    search_fields = ("instrument__symbol", "strategy__code", "booked_by", "note")
    date_hierarchy = "trade_date"
    list_select_related = ("instrument", "strategy")


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "object_type", "object_id", "note")
    list_filter = ("action", "object_type")
    search_fields = ("actor", "action", "object_id", "note")
    date_hierarchy = "at"


# --- The fund's timeline: read-only, rebuilt from the ledger ----------------------------


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    """The NAV history: one row per business day, the NAV curve of the rows shown above."""

    list_display = (
        "date",
        "nav",
        "pnl",
        "flow",
        "return_pct",
        "drawdown_pct",
        "gross_exposure",
        "net_exposure",
        "positions",
    )
    date_hierarchy = "date"
    list_per_page = 100

    @admin.display(description="return")
    def return_pct(self, snapshot: PortfolioSnapshot) -> str:
        return f"{snapshot.daily_return:.4%}"

    @admin.display(description="drawdown (peak)")
    def drawdown_pct(self, snapshot: PortfolioSnapshot) -> str:
        found = getattr(self, "_drawdowns", {}).get(snapshot.date)
        if found is None:
            return "—"
        return f"{found.value:.4%} (peak {found.peak_date})" if found.value else "0.0000%"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # The drawdown of the time-weighted NAV index, over the whole timeline, once a page.
        self._drawdowns = selectors.drawdown_history()
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # not a redirect or an error page
            days = list(changelist.queryset.order_by("date").values_list("date", "nav"))
            response.context_data["nav_chart"] = line_chart(  # type: ignore[attr-defined]
                [d.isoformat() for d, _ in days], [float(nav) for _, nav in days]
            )
        return response


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "instrument",
        "strategy",
        "quantity",
        "price",
        "fx_rate",
        "notional_base",
        "unrealized_pnl_base",
        "realized_pnl_base",
        "daily_pnl_base",
    )
    list_filter = ("strategy", "instrument__asset_class", "instrument__currency")
    search_fields = ("instrument__symbol", "strategy__code")
    date_hierarchy = "date"
    list_select_related = ("instrument", "strategy")
