"""Admin of the pipelines: the runs with their steps, and "run now"."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from core.admin import DateRangeFilter, ExportAdmin, ReadOnlyAdmin, has_model_permission
from core.errors import Conflict
from core.exports import ExportColumn

from . import pipelines
from .models import Heartbeat, PipelineRun


def step_summary(run: PipelineRun) -> str:
    """Its steps in order, each with its status: "prices succeeded → marks failed"."""
    return " → ".join(f"{s['name']} {s['status']}" for s in run.steps) or "—"


@admin.register(PipelineRun)
class PipelineRunAdmin(ExportAdmin, ReadOnlyAdmin):
    # The attempts are in the run's step table and in the exports: the list fits 1,280 px.
    list_display = (
        "business_date",
        "pipeline",
        "status",
        "step_statuses",
        "seconds",
        "trigger",
        "requested_by",
        "requested_at",
        "error",
    )
    list_filter = (("business_date", DateRangeFilter), "pipeline", "status", "trigger")
    date_hierarchy = "business_date"
    ordering = ("-business_date", "-started_at", "-id")  # the latest date, the latest run first
    export_columns = (
        ExportColumn("business date", "business_date"),
        ExportColumn("pipeline", "pipeline"),
        ExportColumn("status", "status"),
        ExportColumn("steps", step_summary),
        ExportColumn("attempts", "attempts"),
        ExportColumn("seconds", "seconds"),
        ExportColumn("trigger", "trigger"),
        ExportColumn("requested by", "requested_by"),
        ExportColumn("requested at (UTC)", "requested_at"),
        ExportColumn("started at (UTC)", "started_at"),
        ExportColumn("finished at (UTC)", "finished_at"),
        ExportColumn("error", "error"),
        ExportColumn("note", "note"),
    )
    readonly_fields = ("step_table",)
    exclude = ("steps",)
    actions = ["run_now"]

    def has_run_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "run")

    @admin.display(description="steps")
    def step_statuses(self, run: PipelineRun) -> str:
        return step_summary(run)

    @admin.display(description="steps")
    def step_table(self, run: PipelineRun) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    s["name"],
                    s["status"],
                    s.get("attempts", 0),
                    s.get("seconds", ""),
                    s.get("summary") or s.get("error", ""),
                )
                for s in run.steps
            ),
        )
        return format_html_join(
            "",
            "<table><tr><th>step</th><th>status</th><th>attempts</th><th>seconds</th>"
            "<th>result</th></tr>{}</table>",
            [(rows,)],
        )

    @admin.action(
        description="Run now on the cluster (same pipeline and date)", permissions=["run"]
    )
    def run_now(self, request: HttpRequest, queryset: QuerySet[PipelineRun]) -> None:
        for run in queryset:
            try:
                pipelines.pipeline_enqueue(
                    pipeline=run.pipeline,
                    date=run.business_date,
                    actor=request.user.get_username(),
                    trigger="admin",
                )
                self.message_user(request, f"{run.pipeline} {run.business_date} enqueued.")
            except Conflict as conflict:
                self.message_user(request, str(conflict), messages.WARNING)


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    """When each django-q2 cluster was last seen (each qcluster writes its own)."""

    list_display = ("name", "host", "pid", "seen_at")
