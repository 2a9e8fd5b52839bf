"""Admin screens of the trade workflow: proposals with their rationale and what-if, decided
from their page or the dashboard (approve, modify-and-approve, reject: the API's rules and
services, the 409 when someone decided first), or in bulk by actions; signals read-only."""

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import (
    DateRangeFilter,
    ExportAdmin,
    ReadOnlyAdmin,
    SelectFilter,
    back_url,
    has_model_permission,
    number_column,
)
from core.errors import Conflict
from core.exports import MONEY, ExportColumn
from core.formatting import brt, number, price

from . import services
from .api import serializers as s
from .models import Signal, TradeProposal
from .presentation import decision_context, new_breaches, rationale_rows, size, var_change

BASE = settings.PMS_BASE_CURRENCY


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdmin):
    """Signals arrive through the API or `import_signals` (audited); here they are read."""

    list_display = ("date", "strategy", "instrument", "score_shown", "created_at")
    score_shown = number_column("score", "score")
    list_filter = ("strategy", "instrument__asset_class")
    search_fields = ("instrument__symbol", "strategy__code")
    date_hierarchy = "date"
    list_select_related = ("instrument", "strategy")


def _figure(what_if: dict[str, Any], key: str) -> Decimal | None:
    """An amount of a proposal's what-if (stored as text), as a number; None without one."""
    value = what_if.get(key)
    return None if value in (None, "") else Decimal(str(value))


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
CHOOSE = "Choose approve, modify or reject."


class Refused(Exception):
    """A decision posted from the admin that was not made: the message says why."""


def not_pending(proposal: TradeProposal) -> str:
    """A proposal decided (or expired) before this decision: who decided it and when, in
    São Paulo time."""
    return f"{proposal}: already {proposal.standing(brt)}; only a pending proposal is decided."


class DecisionForm(forms.Form):
    """One decision on one proposal, as the decision panel (`decision.html`) posts it.

    The figures are read by the API's own serializer, so that the admin and the API accept
    the same input; the form adds what only the page has: a size typed in the proposal's
    direction, and a field filled for another decision (refused rather than dropped, which
    would book the proposed quantity instead of the one typed)."""

    decision = forms.ChoiceField(
        choices=[(name, name) for name in DECISIONS],
        error_messages={"required": CHOOSE, "invalid_choice": CHOOSE},
    )
    price = forms.CharField(required=False)
    quantity = forms.CharField(required=False)
    size = forms.CharField(required=False)
    reason = forms.CharField(required=False)
    note = forms.CharField(required=False)
    confirm = forms.BooleanField(required=False)

    def __init__(self, data: Any, *, proposal: TradeProposal) -> None:
        super().__init__(data)
        self.proposal = proposal
        self.arguments: dict[str, Any] = {}  # the service's, once the form is valid

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        decision = data.get("decision")
        if decision is None:  # the decision field says what to choose
            return data
        # A page left open on a decided proposal: say so rather than judge the input. A
        # status never returns to pending, so this read cannot refuse wrongly; the service
        # checks the status again on the locked row, which keeps two decisions from both
        # passing.
        if self.proposal.status != TradeProposal.Status.PENDING:
            raise ValidationError(not_pending(self.proposal))
        posted = {name: data[name] for name in ("price", "quantity", "size", "reason", "note")}
        if decision == "modify" and posted["size"]:
            size = posted.pop("size")
            if size[:1] in "+-":
                direction = self.proposal.direction
                self.add_error(
                    "size", f"give it without a sign, in the proposal's direction ({direction})."
                )
                return data
            # The API's quantity is signed; the page asks for a size in the proposal's
            # direction (a PM types 1,000 to sell 1,000 of a sell proposal).
            posted["quantity"] = size if self.proposal.quantity > 0 else f"-{size}"
        self.arguments = self._parsed(decision, posted, data["confirm"])
        return data

    def _parsed(self, decision: str, posted: dict[str, str], confirm: bool) -> dict[str, Any]:
        """The posted figures as the API's serializer for `decision` reads them; the
        serializer's errors become this form's, field by field."""
        parser = DECISIONS[decision][0]
        fields = parser().fields
        stray = sorted(name for name, value in posted.items() if value and name not in fields)
        if stray:
            raise ValidationError(f"{', '.join(stray)}: not part of {decision}.")
        given: dict[str, Any] = {name: posted[name] for name in fields if posted.get(name)}
        if "reason" in fields:  # a blank reason is the service's to refuse ("Say why …")
            given.setdefault("reason", "")
        if "confirm" in fields:
            given["confirm"] = confirm
        parsed = parser(data=given)
        if parsed.is_valid():
            return dict(parsed.validated_data)
        for name, errors in parsed.errors.items():
            self.add_error(name, [str(error) for error in errors])
        return {}

    def refusal(self) -> str:
        """Why the decision was not made, in one message: the decision to choose, the
        proposal's standing, a stray or signed field, or the API's errors by field."""
        errors = {name: [str(m) for m in messages] for name, messages in self.errors.items()}
        plain = [*errors.pop("decision", []), *errors.pop(NON_FIELD_ERRORS, [])]
        if plain:
            return " ".join(plain)
        if "size" in errors:
            return f"Size: {' '.join(errors['size'])}"
        text = " ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
        return f"{self.proposal}: {text}"


def _decided(form: DecisionForm, actor: str) -> str:
    """Make the form's decision through the API's service; what it did, or Refused."""
    decision, proposal = form.cleaned_data["decision"], form.proposal
    _, decide, verb = DECISIONS[decision]
    try:
        decided = decide(proposal_id=proposal.pk, **form.arguments, actor=actor)
    except services.ProposalNotPending as refused:  # decided meanwhile: the locked row's
        raise Refused(not_pending(refused.proposal)) from None
    except (Conflict, ValidationError) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        raise Refused(f"{proposal}: {text}") from None
    if decision == "reject":
        return f"Rejected {decided}."
    trade, now = decided.trade, decided.proposal
    return (
        f"{verb}: {'bought' if trade.quantity > 0 else 'sold'} "
        f"{number(abs(trade.quantity))} {now.instrument} at {price(trade.price, now.instrument)} "
        f"for {now.strategy}; the position is now {number(decided.position.quantity)}. "
        f"Proposal {now.date} {now.instrument} / {now.strategy} is now {now.status}."
    )


@admin.register(TradeProposal)
class TradeProposalAdmin(ExportAdmin, ReadOnlyAdmin):
    list_display = (
        "date",
        "strategy",
        "instrument",
        "side_quantity",
        "score_shown",
        "status",
        "var_95_change",
        "new_breaches_shown",
        "decided_by",
        "decided_at",
    )
    list_filter = (
        ("date", DateRangeFilter),
        "status",
        "strategy",
        ("instrument", SelectFilter),
        "instrument__asset_class",
    )
    search_fields = ("instrument__symbol", "strategy__code", "decided_by", "decision_note")
    date_hierarchy = "date"
    ordering = ("-date", "-id")  # the latest proposals first
    list_select_related = ("instrument", "strategy")
    export_columns = (
        ExportColumn("date", "date"),
        ExportColumn("strategy", "strategy.code"),
        ExportColumn("instrument", "instrument.symbol"),
        ExportColumn("side", "direction"),
        ExportColumn("quantity (+ buys, − sells)", "quantity"),
        ExportColumn("score", "score"),
        ExportColumn("status", "status"),
        ExportColumn(
            f"VaR 95% before ({BASE})", lambda p: _figure(p.what_if, "var_95_before"), MONEY
        ),
        ExportColumn(
            f"VaR 95% after ({BASE})", lambda p: _figure(p.what_if, "var_95_after"), MONEY
        ),
        ExportColumn("new limit breaches", new_breaches),
        ExportColumn("decided by", "decided_by"),
        ExportColumn("decided at (UTC)", "decided_at"),
        ExportColumn("decision note", "decision_note"),
        ExportColumn("executed quantity", "executed_quantity"),
        ExportColumn("executed price", "executed_price"),
        ExportColumn("proposed at (UTC)", "created_at"),
    )
    readonly_fields = ("side_quantity", "score_shown", "rationale_table")
    change_form_template = "admin/trading/tradeproposal/change_form.html"
    fields = (
        ("date", "strategy", "instrument"),
        ("side_quantity", "score_shown", "status"),
        "rationale_table",  # the what-if is the panel above the fields
        ("decided_by", "decided_at"),
        "decision_note",
        ("executed_quantity", "executed_price", "trade"),
        "created_at",
    )
    actions = ["approve_at_last_price", "reject"]

    score_shown = number_column("score", "score")

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "decide")

    @admin.display(description="trade")
    def side_quantity(self, proposal: TradeProposal) -> str:
        return size(proposal)

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
        """Approve, modify-and-approve or reject one proposal, as the API does; the message
        says what happened and where the proposal stands now."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_decide_permission(request):
            raise PermissionDenied
        back = back_url(request, reverse("admin:trading_tradeproposal_change", args=[pk]))
        proposal = get_object_or_404(
            TradeProposal.objects.select_related("instrument", "strategy"), pk=pk
        )
        form = DecisionForm(request.POST, proposal=proposal)
        try:
            if not form.is_valid():
                raise Refused(form.refusal())
            done = _decided(form, request.user.get_username())
            self.message_user(request, done, messages.SUCCESS)
        except Refused as refused:
            self.message_user(request, str(refused), messages.ERROR)
        return HttpResponseRedirect(back)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for row in self.fields for f in (row if isinstance(row, tuple) else (row,))]

    @admin.display(description="VaR 95% before → after")
    def var_95_change(self, proposal: TradeProposal) -> str:
        return var_change(proposal)

    @admin.display(description="new limit breaches")
    def new_breaches_shown(self, proposal: TradeProposal) -> str:
        return new_breaches(proposal) or "—"

    @admin.display(description="rationale")
    def rationale_table(self, proposal: TradeProposal) -> SafeString:
        return _table(rationale_rows(proposal), ("", "how the size follows"))

    def _decide_each(
        self, request: HttpRequest, queryset: QuerySet[TradeProposal], decide: Any, verb: str
    ) -> None:
        """One decision per proposal, each its own transaction; failures are reported (one
        decided meanwhile with who decided it and when)."""
        done = 0
        pending = queryset.filter(status=TradeProposal.Status.PENDING)
        for pk in pending.values_list("pk", flat=True):
            try:
                decide(pk)
                done += 1
            except services.ProposalNotPending as refused:
                self.message_user(request, not_pending(refused.proposal), messages.ERROR)
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
