"""Admin screens of the trade workflow: proposals with their rationale and what-if, decided
by actions (approve at the last price; reject asks for the reason); signals read-only."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import ReadOnlyAdmin
from core.errors import Conflict
from risk.selectors import breached

from . import services
from .models import Signal, TradeProposal


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    """Signals arrive through the API or `import_signals` (audited); here they are read."""

    list_display = ("date", "strategy", "instrument", "score", "created_at")
    list_filter = ("strategy", "instrument__asset_class")
    search_fields = ("instrument__symbol", "strategy__code")
    date_hierarchy = "date"
    list_select_related = ("instrument", "strategy")


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> SafeString:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in header))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


@admin.register(TradeProposal)
class TradeProposalAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "strategy",
        "instrument",
        "direction",
        "quantity",
        "score",
        "status",
        "var_95_change",
        "breaches_after",
        "decided_by",
        "decided_at",
    )
    list_filter = ("status", "strategy", "instrument__asset_class", "date")
    search_fields = ("instrument__symbol", "strategy__code", "decided_by", "decision_note")
    date_hierarchy = "date"
    list_select_related = ("instrument", "strategy")
    readonly_fields = ("rationale_table", "what_if_table")
    fields = (
        ("date", "strategy", "instrument"),
        ("quantity", "score", "status"),
        "rationale_table",
        "what_if_table",
        ("decided_by", "decided_at"),
        "decision_note",
        ("executed_quantity", "executed_price", "trade"),
        "created_at",
    )
    actions = ["approve_at_last_price", "reject"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Actions need change permission; a proposal has no field to edit by hand.
        return obj is None and request.user.has_perm("trading.change_tradeproposal")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for row in self.fields for f in (row if isinstance(row, tuple) else (row,))]

    @admin.display(description="VaR 95% before → after")
    def var_95_change(self, proposal: TradeProposal) -> str:
        what_if = proposal.what_if

        def shown(value: str | None) -> str:
            return "—" if value is None else f"{float(value):,.0f}"

        change = f"{shown(what_if['var_95_before'])} → {shown(what_if['var_95_after'])}"
        return f"{change} (no VaR yet)" if what_if.get("unavailable") else change

    @admin.display(description="limits breached after")
    def breaches_after(self, proposal: TradeProposal) -> str:
        names = breached(proposal.what_if["limits_after"])
        return ", ".join(names) or "—"

    @admin.display(description="rationale")
    def rationale_table(self, proposal: TradeProposal) -> SafeString:
        return _table(list(proposal.rationale.items()), ("input", "value"))

    @admin.display(description="what-if (this trade alone)")
    def what_if_table(self, proposal: TradeProposal) -> SafeString:
        what_if = proposal.what_if
        var_note = what_if.get("unavailable") or ""
        rows = [("VaR 95%", "", what_if["var_95_before"], what_if["var_95_after"], var_note, "")]
        rows += [
            (b["name"], b["limit"], b["value"], a["value"], b["status"], a["status"])
            for b, a in zip(what_if["limits_before"], what_if["limits_after"], strict=True)
        ]
        return _table(rows, ("", "limit", "before", "after", "status before", "status after"))

    def _decide_each(
        self, request: HttpRequest, queryset: QuerySet[TradeProposal], decide: Any, verb: str
    ) -> None:
        """One decision per proposal, each its own transaction; failures are reported."""
        done = 0
        pending = queryset.filter(status=TradeProposal.Status.PENDING)
        for pk in pending.values_list("pk", flat=True):
            try:
                decide(pk)
                done += 1
            except (Conflict, ValidationError) as exc:
                text = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
                self.message_user(request, f"Proposal {pk}: {' '.join(text)}", messages.ERROR)
        self.message_user(request, f"{verb} {done} proposal(s).")

    @admin.action(description="Approve selected pending proposals at the last price")
    def approve_at_last_price(
        self, request: HttpRequest, queryset: QuerySet[TradeProposal]
    ) -> None:
        actor = request.user.get_username()
        self._decide_each(
            request,
            queryset,
            lambda pk: services.proposal_approve(proposal_id=pk, actor=actor),
            "Approved",
        )

    @admin.action(description="Reject selected pending proposals …")
    def reject(
        self, request: HttpRequest, queryset: QuerySet[TradeProposal]
    ) -> TemplateResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            actor, reason = request.user.get_username(), form.cleaned_data["reason"]
            self._decide_each(
                request,
                queryset,
                lambda pk: services.proposal_reject(proposal_id=pk, reason=reason, actor=actor),
                "Rejected",
            )
            return None
        return TemplateResponse(
            request,
            "admin/trading/tradeproposal/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject proposals",
                "opts": self.model._meta,
                "form": form,
                "proposals": queryset.filter(status=TradeProposal.Status.PENDING),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )
