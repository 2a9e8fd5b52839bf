"""How a proposal reads to a person: its what-if (VaR 95% and each limit, before → after,
in their units) and the decision panel the proposal's page and the dashboard show."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest

from core import inputs
from core.formatting import money, number
from risk.models import limit_figure
from risk.selectors import breached

from .models import TradeProposal


def readable(value: Any) -> str:
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
            _amount(what_if.get("var_95_before")),
            _amount(what_if.get("var_95_after")),
            what_if.get("unavailable") or "",
        )
    ]
    after_of = {row.get("name"): row for row in what_if.get("limits_after") or []}
    for before in what_if.get("limits_before") or []:
        after = after_of.get(before.get("name"), {})
        metric = before.get("metric", "")
        status, then = before.get("status", ""), after.get("status", "")
        rows.append(
            (
                before.get("name", ""),
                limit_figure(metric, before.get("limit")),
                limit_figure(metric, before.get("value")),
                limit_figure(metric, after.get("value")),
                status if status == then else f"{status} → {then}",
            )
        )
    return rows


def var_change(proposal: TradeProposal) -> str:
    what_if = proposal.what_if
    before, after = _amount(what_if.get("var_95_before")), _amount(what_if.get("var_95_after"))
    change = f"{before} → {after}"
    return f"{change} (no VaR yet)" if what_if.get("unavailable") else change


def breaches_after(proposal: TradeProposal) -> str:
    """The limits the trade would leave in breach, by name."""
    return ", ".join(breached(proposal.what_if.get("limits_after") or []))


def decision_context(
    request: HttpRequest, proposal: TradeProposal, *, open_what_if: bool = False
) -> dict[str, Any]:
    """What the decision panel (`decision.html`) shows: the proposal, its what-if (folded
    unless `open_what_if`), and the forms when it is pending and the user may decide."""
    return {
        "proposal": proposal,
        "open": open_what_if,
        "var_change": var_change(proposal),
        "breaches_after": breaches_after(proposal),
        "note_max": inputs.NOTE_MAX,
        "quantity": number(abs(proposal.quantity)),
        "size": f"{abs(proposal.quantity).normalize():f}",  # the modify form's, unsigned
        "what_if": what_if_rows(proposal),
        "can_decide": proposal.status == TradeProposal.Status.PENDING
        and request.user.has_perm("trading.decide_tradeproposal"),
        "next": request.get_full_path(),
    }
