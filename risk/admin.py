"""Admin screens of risk: limits with their live utilization, alerts with an acknowledge
action, scenarios editable, snapshots read-only."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import (
    ReadOnlyAdmin,
    ServiceAdmin,
    back_url,
    has_model_permission,
    money_column,
    percent_column,
)
from core.errors import Conflict
from core.formatting import percent

from . import selectors, services
from .models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario, limit_figure

BASE = settings.PMS_BASE_CURRENCY


@admin.register(RiskLimit)
class RiskLimitAdmin(ServiceAdmin):
    list_display = (
        "name",
        "metric",
        "scope",
        "limit_shown",
        "warning_shown",
        "value",
        "utilization",
        "status",
        "is_active",
    )
    warning_shown = percent_column("warning_fraction", "warn at", places=0)
    list_filter = ("metric", "scope_type", "is_active")
    search_fields = ("name", "scope_value")
    create_service = staticmethod(services.limit_create)
    update_service = staticmethod(services.limit_update)
    delete_service = staticmethod(services.limit_delete)
    check_service = staticmethod(services.limit_check)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # The live risk once per page, not once per row.
        self._live: dict[int, selectors.LimitValue] = {}
        try:
            risk = selectors.risk_compute()
            self._live = {v.limit.pk: v for v in selectors.limits_evaluate(risk)}
        except ValidationError as exc:
            self.message_user(
                request, f"Live risk unavailable: {' '.join(exc.messages)}", messages.WARNING
            )
        return super().changelist_view(request, extra_context)

    def _value(self, limit: RiskLimit) -> selectors.LimitValue | None:
        return getattr(self, "_live", {}).get(limit.pk)

    @admin.display(description="limit", ordering="limit")
    def limit_shown(self, limit: RiskLimit) -> SafeString:
        return format_html('<span class="num">{}</span>', limit_figure(limit.metric, limit.limit))

    @admin.display(description="value (live)")
    def value(self, limit: RiskLimit) -> SafeString:
        live = self._value(limit)
        shown = "—" if live is None else limit_figure(limit.metric, live.value)
        return format_html('<span class="num">{}</span>', shown)

    @admin.display(description="utilization")
    def utilization(self, limit: RiskLimit) -> str:
        live = self._value(limit)
        if live is None or live.utilization is None:
            return "—"
        return percent(live.utilization, 1)

    @admin.display(description="status")
    def status(self, limit: RiskLimit) -> str:
        live = self._value(limit)
        return "—" if live is None else live.status


@admin.register(RiskAlert)
class RiskAlertAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "subject",
        "status",
        "value_shown",
        "utilization_shown",
        "opened_at",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_at",
    )
    list_filter = ("status", "limit__metric")
    search_fields = ("limit__name", "source", "message", "acknowledged_by", "note")
    date_hierarchy = "date"
    list_select_related = ("limit",)
    actions = ["acknowledge"]
    utilization_shown = percent_column("utilization", "utilization")

    @admin.display(description="value", ordering="value")
    def value_shown(self, alert: RiskAlert) -> SafeString:
        metric = alert.limit.metric if alert.limit else ""
        return format_html('<span class="num">{}</span>', limit_figure(metric, alert.value))

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "acknowledge")

    def get_urls(self) -> list[Any]:
        acknowledge = self.admin_site.admin_view(self.acknowledge_view)
        return [
            path("<int:pk>/acknowledge/", acknowledge, name="risk_riskalert_acknowledge"),
            *super().get_urls(),
        ]

    def acknowledge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One alert acknowledged from the dashboard (POST), as the API does."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_acknowledge_permission(request):
            raise PermissionDenied
        try:
            alert = services.alert_acknowledge(alert_id=pk, actor=request.user.get_username())
            self.message_user(request, f"Acknowledged {alert}.", messages.SUCCESS)
        except Conflict as exc:  # acknowledged or resolved meanwhile
            self.message_user(request, str(exc), messages.WARNING)
        except RiskAlert.DoesNotExist:
            self.message_user(request, f"There is no alert {pk}.", messages.ERROR)
        return HttpResponseRedirect(back_url(request, reverse("admin:risk_riskalert_changelist")))

    @admin.action(description="Acknowledge selected open alerts", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[RiskAlert]) -> None:
        done = 0
        for pk in queryset.filter(status=RiskAlert.Status.OPEN).values_list("pk", flat=True):
            try:
                services.alert_acknowledge(alert_id=pk, actor=request.user.get_username())
                done += 1
            except Conflict as exc:  # acknowledged or resolved meanwhile
                self.message_user(request, str(exc), messages.WARNING)
        self.message_user(request, f"Acknowledged {done} alert(s).")


@admin.register(StressScenario)
class StressScenarioAdmin(ServiceAdmin):
    fields = ("name", "description", "shocks", "historical_start", "historical_end")
    create_service = staticmethod(services.scenario_create)
    update_service = staticmethod(services.scenario_update)
    delete_service = staticmethod(services.scenario_delete)
    check_service = staticmethod(services.scenario_check)
    list_display = ("name", "historical_start", "historical_end", "created_by", "created_at")
    search_fields = ("name", "description")


@admin.register(RiskSnapshot)
class RiskSnapshotAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "nav_shown",
        "var_95_shown",
        "var_99_shown",
        "es_95_shown",
        "es_99_shown",
        "window",
        "window_used",
        "drawdown_pct",
        "computed_at",
    )

    nav_shown = money_column("nav", f"NAV ({BASE})", places=0)
    var_95_shown = money_column("var_95", f"VaR 95% ({BASE})", places=0)
    var_99_shown = money_column("var_99", f"VaR 99% ({BASE})", places=0)
    es_95_shown = money_column("es_95", f"ES 95% ({BASE})", places=0)
    es_99_shown = money_column("es_99", f"ES 99% ({BASE})", places=0)

    @admin.display(description="drawdown (peak)")
    def drawdown_pct(self, snapshot: RiskSnapshot) -> str:
        drawdown = snapshot.drawdown or {}
        if not drawdown:
            return "—"
        return f"{Decimal(drawdown['value']):.2%} (peak {drawdown['peak_date']})"

    date_hierarchy = "date"
