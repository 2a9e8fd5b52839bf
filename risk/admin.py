"""Admin screens of risk: limits with their live utilization, alerts with an acknowledge
action, scenarios editable, snapshots read-only."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import inputs
from core.admin import (
    DateRangeFilter,
    ExportAdmin,
    ReadOnlyAdmin,
    ServiceAdmin,
    back_url,
    has_model_permission,
    money_column,
    percent_column,
)
from core.errors import Conflict
from core.exports import ExportColumn
from core.formatting import brt, percent
from portfolio.models import Strategy

from . import selectors, services
from .admin_stress import ScenarioForm, StressAdminMixin
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


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        max_length=inputs.NOTE_MAX,
        error_messages={
            "required": "Say what is done about the alert: a note is required.",
            "max_length": "A note is at most %(limit_value)d characters (it has %(show_value)d).",
        },
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="What is done about the breach: kept with the alert and in the audit trail.",
    )


class AlertStrategyFilter(admin.SimpleListFilter):
    """The alerts of the limits on a strategy (an alert has a strategy through its limit's
    scope, not a field of its own)."""

    title = "strategy"
    parameter_name = "strategy"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, code) for code in Strategy.objects.values_list("code", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[RiskAlert]) -> QuerySet[RiskAlert]:
        if not self.value():
            return queryset
        on_strategy = RiskLimit.ScopeType.STRATEGY
        return queryset.filter(limit__scope_type=on_strategy, limit__scope_value=self.value())


@admin.register(RiskAlert)
class RiskAlertAdmin(ExportAdmin, ReadOnlyAdmin):
    """One row per limit and breach, the newest first: its days and its utilization."""

    list_display = (
        "in_breach",
        "days",
        "subject",
        "status",
        "value_shown",
        "utilization_shown",
        "worst_shown",
        "acknowledged",
        "resolved_shown",
    )
    list_filter = (("date", DateRangeFilter), "status", AlertStrategyFilter, "limit__metric")
    search_fields = ("limit__name", "source", "message", "acknowledged_by", "note")
    date_hierarchy = "date"
    ordering = ("-date", "-pk")
    list_select_related = ("limit",)
    export_columns = (
        ExportColumn("in breach from", "date"),
        ExportColumn("to", "last"),
        ExportColumn("business days", "days"),
        ExportColumn("limit", "limit.name"),
        ExportColumn("scope", lambda a: a.limit.scope if a.limit else ""),
        ExportColumn("raised by", "source"),
        ExportColumn("status", "status"),
        ExportColumn("value, last day", "value"),
        ExportColumn("used, last day (1 = at the limit)", "utilization", "0.0%"),
        ExportColumn("worst used (1 = at the limit)", "worst_utilization", "0.0%"),
        ExportColumn("message", "message"),
        ExportColumn("opened at (UTC)", "opened_at"),
        ExportColumn("acknowledged by", "acknowledged_by"),
        ExportColumn("acknowledged at (UTC)", "acknowledged_at"),
        ExportColumn("note", "note"),
        ExportColumn("resolved on", "resolved_on"),
    )
    actions = ["acknowledge"]
    utilization_shown = percent_column("utilization", "used, last day")
    worst_shown = percent_column("worst_utilization", "worst")

    @admin.display(description="in breach", ordering="date")
    def in_breach(self, alert: RiskAlert) -> SafeString:
        if alert.last == alert.date:
            return format_html('<span class="pms-nowrap">{}</span>', alert.date)
        return format_html(
            '<span class="pms-nowrap">{}</span> – <span class="pms-nowrap">{}</span>',
            alert.date,
            alert.last,
        )

    @admin.display(description="acknowledged", ordering="acknowledged_at")
    def acknowledged(self, alert: RiskAlert) -> SafeString:
        if not alert.acknowledged_by:
            return format_html("{}", "—")
        return format_html(
            "{} <small>{}</small><br><small>{}</small>",
            alert.acknowledged_by,
            brt(alert.acknowledged_at),
            alert.note,
        )

    @admin.display(description="resolved on", ordering="resolved_on")
    def resolved_shown(self, alert: RiskAlert) -> SafeString:
        return format_html('<span class="pms-nowrap">{}</span>', alert.resolved_on or "—")

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

    def _acknowledge_each(self, request: HttpRequest, pks: Any, note: str) -> int:
        """Each alert through the service (read again under its lock); one acknowledged or
        resolved meanwhile is named, not acknowledged twice."""
        done = 0
        for pk in pks:
            try:
                services.alert_acknowledge(
                    alert_id=pk, actor=request.user.get_username(), note=note
                )
                done += 1
            except Conflict as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except RiskAlert.DoesNotExist:
                self.message_user(request, f"There is no alert {pk}.", messages.ERROR)
        return done

    def acknowledge_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """One alert acknowledged from the dashboard (POST, with its note), as the API does."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_acknowledge_permission(request):
            raise PermissionDenied
        form = AcknowledgeForm(request.POST)
        if not form.is_valid():  # the form's own words: a note missing, or too long
            self.message_user(request, " ".join(map(str, form.errors["note"])), messages.ERROR)
        elif self._acknowledge_each(request, [pk], form.cleaned_data["note"]):
            self.message_user(request, f"Acknowledged alert {pk}.", messages.SUCCESS)
        return HttpResponseRedirect(back_url(request, reverse("admin:risk_riskalert_changelist")))

    @admin.action(description="Acknowledge selected open alerts …", permissions=["acknowledge"])
    def acknowledge(
        self, request: HttpRequest, queryset: QuerySet[RiskAlert]
    ) -> TemplateResponse | None:
        """Asks for the note first, then acknowledges each open alert selected with it."""
        form = AcknowledgeForm(request.POST if "apply" in request.POST else None)
        open_alerts = queryset.filter(status=RiskAlert.Status.OPEN)
        if form.is_valid():
            pks = list(open_alerts.values_list("pk", flat=True))
            done = self._acknowledge_each(request, pks, form.cleaned_data["note"])
            self.message_user(request, f"Acknowledged {done} alert(s).")
            return None
        return TemplateResponse(
            request,
            "admin/risk/riskalert/acknowledge.html",
            {
                **self.admin_site.each_context(request),
                "title": "Acknowledge alerts",
                "opts": self.model._meta,
                "form": form,
                "alerts": open_alerts.select_related("limit"),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(StressScenario)
class StressScenarioAdmin(StressAdminMixin, ServiceAdmin):
    """Scenarios: shocks in rows (the service's rules, errors by row) or a past window; each
    run on the live book from the stress page."""

    form = ScenarioForm
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

    nav_shown = money_column("nav", f"NAV ({BASE})")
    var_95_shown = money_column("var_95", f"VaR 95% ({BASE})")
    var_99_shown = money_column("var_99", f"VaR 99% ({BASE})")
    es_95_shown = money_column("es_95", f"ES 95% ({BASE})")
    es_99_shown = money_column("es_99", f"ES 99% ({BASE})")

    @admin.display(description="drawdown (peak)")
    def drawdown_pct(self, snapshot: RiskSnapshot) -> str:
        drawdown = snapshot.drawdown or {}
        if not drawdown:
            return "—"
        return f"{Decimal(drawdown['value']):.2%} (peak {drawdown['peak_date']})"

    date_hierarchy = "date"
