"""Admin screens of the trade workflow: proposals with their rationale and what-if, decided
from their page or the dashboard (approve, modify-and-approve, reject: the API's rules and
services, the 409 when someone decided first), or in bulk by actions; signals read-only."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import ReadOnlyAdmin, back_url, has_model_permission
from core.errors import Conflict
from core.formatting import money, number
from risk.models import limit_figure
from risk.selectors import breached

from . import services
from .api import serializers as s
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


def _readable(value: Any) -> str:
    """A rationale's value: numbers with separators and no trailing zeros, the rest as is."""
    try:
        return number(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def _amount(value: str | None) -> str:
    return money(value, places=0)


def what_if_rows(proposal: TradeProposal) -> list[tuple[str, str, str, str, str]]:
    """The what-if as a person reads it: VaR 95% and each limit, before → after."""
    what_if = proposal.what_if
    rows = [
        (
            "VaR 95%",
            "",
            _amount(what_if["var_95_before"]),
            _amount(what_if["var_95_after"]),
            what_if.get("unavailable") or "",
        )
    ]
    for before, after in zip(what_if["limits_before"], what_if["limits_after"], strict=True):
        metric = before.get("metric", "")
        change = (
            before["status"]
            if before["status"] == after["status"]
            else (f"{before['status']} → {after['status']}")
        )
        rows.append(
            (
                before["name"],
                limit_figure(metric, before["limit"]),
                limit_figure(metric, before["value"]),
                limit_figure(metric, after["value"]),
                change,
            )
        )
    return rows


def var_change(proposal: TradeProposal) -> str:
    what_if = proposal.what_if
    change = f"{_amount(what_if['var_95_before'])} → {_amount(what_if['var_95_after'])}"
    return f"{change} (no VaR yet)" if what_if.get("unavailable") else change


def decision_context(
    request: HttpRequest, proposal: TradeProposal, *, open_what_if: bool = False
) -> dict[str, Any]:
    """What the decision panel (`decision.html`) shows: the proposal, its what-if (folded
    unless `open_what_if`), and the forms when it is pending and the user may decide."""
    return {
        "proposal": proposal,
        "open": open_what_if,
        "var_change": var_change(proposal),
        "breaches_after": ", ".join(breached(proposal.what_if["limits_after"])),
        "quantity": number(abs(proposal.quantity)),
        "signed": f"{proposal.quantity.normalize():f}",
        "what_if": what_if_rows(proposal),
        "can_decide": proposal.status == TradeProposal.Status.PENDING
        and request.user.has_perm("trading.decide_tradeproposal"),
        "next": request.get_full_path(),
    }


# A decision posted from the proposal's page or the dashboard: the API's parser and service.
DECISIONS: dict[str, tuple[type, Any, str]] = {
    "approve": (s.ApproveSerializer, services.proposal_approve, "Approved"),
    "modify": (
        s.ModifyApproveSerializer,
        services.proposal_modify_approve,
        "Modified and approved",
    ),
    "reject": (s.RejectSerializer, services.proposal_reject, "Rejected"),
}


@admin.register(TradeProposal)
class TradeProposalAdmin(ReadOnlyAdmin):
    list_display = (
        "date",
        "strategy",
        "instrument",
        "side_quantity",
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
    readonly_fields = ("side_quantity", "rationale_table", "what_if_table")
    change_form_template = "admin/trading/tradeproposal/change_form.html"
    fields = (
        ("date", "strategy", "instrument"),
        ("side_quantity", "score", "status"),
        "rationale_table",
        "what_if_table",
        ("decided_by", "decided_at"),
        "decision_note",
        ("executed_quantity", "executed_price", "trade"),
        "created_at",
    )
    actions = ["approve_at_last_price", "reject"]

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "decide")

    @admin.display(description="trade")
    def side_quantity(self, proposal: TradeProposal) -> str:
        return f"{proposal.direction} {number(abs(proposal.quantity))}"

    def get_urls(self) -> list[Any]:
        decide = self.admin_site.admin_view(self.decide_view)
        return [
            path("<int:pk>/decide/", decide, name="trading_tradeproposal_decide"),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        proposal = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if proposal is not None:  # else the admin's own "does not exist" answer
            context["decision"] = decision_context(request, proposal, open_what_if=True)
        return super().change_view(request, object_id, form_url, context)

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Approve, modify-and-approve or reject one proposal, as the API does."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_decide_permission(request):
            raise PermissionDenied
        back = back_url(request, reverse("admin:trading_tradeproposal_change", args=[pk]))
        decision = request.POST.get("decision", "")
        if decision not in DECISIONS:
            self.message_user(request, "Choose approve, modify or reject.", messages.ERROR)
            return HttpResponseRedirect(back)
        parser, decide, verb = DECISIONS[decision]
        fields = parser().fields
        given: dict[str, Any] = {
            name: request.POST[name].strip()
            for name in fields
            if name != "confirm" and request.POST.get(name, "").strip()
        }
        if "reason" in fields:
            given.setdefault("reason", "")
        if "confirm" in fields:
            given["confirm"] = request.POST.get("confirm") == "on"
        data = parser(data=given)
        proposal = get_object_or_404(TradeProposal.objects.select_related("instrument"), pk=pk)
        try:
            if not data.is_valid():
                raise ValidationError(
                    [
                        f"{name}: {' '.join(map(str, errors))}"
                        for name, errors in data.errors.items()
                    ]
                )
            decided = decide(
                proposal_id=pk, **data.validated_data, actor=request.user.get_username()
            )
        except (Conflict, ValidationError) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, f"{proposal}: {text}", messages.ERROR)
            return HttpResponseRedirect(back)
        if decision == "reject":
            self.message_user(request, f"Rejected {proposal}.", messages.SUCCESS)
        else:
            trade = decided.trade
            self.message_user(
                request,
                f"{verb}: {'bought' if trade.quantity > 0 else 'sold'} "
                f"{number(abs(trade.quantity))} {proposal.instrument} at {number(trade.price)} "
                f"for {decided.proposal.strategy}; the position is now "
                f"{number(decided.position.quantity)}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(back)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for row in self.fields for f in (row if isinstance(row, tuple) else (row,))]

    @admin.display(description="VaR 95% before → after")
    def var_95_change(self, proposal: TradeProposal) -> str:
        what_if = proposal.what_if

        change = f"{_amount(what_if['var_95_before'])} → {_amount(what_if['var_95_after'])}"
        return f"{change} (no VaR yet)" if what_if.get("unavailable") else change

    @admin.display(description="limits breached after")
    def breaches_after(self, proposal: TradeProposal) -> str:
        names = breached(proposal.what_if["limits_after"])
        return ", ".join(names) or "—"

    @admin.display(description="rationale")
    def rationale_table(self, proposal: TradeProposal) -> SafeString:
        return _table(
            [(name, _readable(value)) for name, value in proposal.rationale.items()],
            ("input", "value"),
        )

    @admin.display(description="what-if (this trade alone)")
    def what_if_table(self, proposal: TradeProposal) -> SafeString:
        return _table(what_if_rows(proposal), ("", "limit", "before", "after", "status"))

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

    @admin.action(
        description="Approve selected pending proposals at the last price", permissions=["decide"]
    )
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

    @admin.action(description="Reject selected pending proposals …", permissions=["decide"])
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
