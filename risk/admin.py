"""Admin screens of risk: limits with their live utilization, alerts with an acknowledge
action, scenarios editable, snapshots read-only."""

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from core.admin import ReadOnlyAdmin, ServiceAdmin
from core.errors import Conflict

from . import selectors, services
from .models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario


@admin.register(RiskLimit)
class RiskLimitAdmin(ServiceAdmin):
    list_display = (
        "name",
        "metric",
        "scope",
        "limit",
        "warning_fraction",
        "value",
        "utilization",
        "status",
        "is_active",
    )
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

    @admin.display(description="value")
    def value(self, limit: RiskLimit) -> Any:
        live = self._value(limit)
        return "—" if live is None else live.value

    @admin.display(description="utilization")
    def utilization(self, limit: RiskLimit) -> str:
        live = self._value(limit)
        if live is None or live.utilization is None:
            return "—"
        return f"{live.utilization:.1%}"

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
        "value",
        "utilization",
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

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Actions need change permission; alerts still have no editable field.
        return obj is None and request.user.has_perm("risk.change_riskalert")

    @admin.action(description="Acknowledge selected open alerts")
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
        "nav",
        "var_95",
        "var_99",
        "es_95",
        "es_99",
        "window",
        "window_used",
        "drawdown_pct",
        "computed_at",
    )

    @admin.display(description="drawdown (peak)")
    def drawdown_pct(self, snapshot: RiskSnapshot) -> str:
        drawdown = snapshot.drawdown or {}
        if not drawdown:
            return "—"
        return f"{Decimal(drawdown['value']):.4%} (peak {drawdown['peak_date']})"

    date_hierarchy = "date"
