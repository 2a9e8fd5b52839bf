"""Admin screens of performance: snapshots, read-only; the NAV history with its chart."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from pms_site.charts import line_chart
from portfolio.admin import ReadOnlyAdmin

from .models import PortfolioSnapshot, PositionSnapshot


@admin.register(PortfolioSnapshot)
class PortfolioSnapshotAdmin(ReadOnlyAdmin):
    """The NAV history: one row per business day, the NAV curve of the rows shown above."""

    list_display = (
        "date",
        "nav",
        "pnl",
        "flow",
        "return_pct",
        "gross_exposure",
        "net_exposure",
        "positions",
    )
    date_hierarchy = "date"
    list_per_page = 100

    @admin.display(description="return")
    def return_pct(self, snapshot: PortfolioSnapshot) -> str:
        return f"{snapshot.daily_return:.4%}"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
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
