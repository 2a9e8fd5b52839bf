"""How a proposal reads to a person: its size in its units and in the base currency, its
rationale in the fund's words, its what-if (VaR 95% and each limit, before → after, in
their units, the limits it would newly breach) and the decision panel the proposal's page
and the dashboard show."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from core import inputs
from core.formatting import money, number, percent, price
from risk.models import limit_figure
from risk.selectors import breached

from .models import TradeProposal

BASE = settings.PMS_BASE_CURRENCY


def readable(value: Any) -> str:
    """A value without a label of its own: numbers with separators, to 4 places at most and
    no trailing zeros; the rest as is."""
    try:
        return number(Decimal(str(value)), 4)
    except (InvalidOperation, ValueError):
        return str(value)


def _figures(rationale: dict[str, Any], *keys: str) -> list[Decimal] | None:
    """The rationale's numbers under `keys`, or None when one is missing or not a number."""
    try:
        return [Decimal(str(rationale[key])) for key in keys]
    except (KeyError, InvalidOperation, ValueError):
        return None


def _market_rows(proposal: TradeProposal) -> list[tuple[str, str]]:
    """The signal, the volatility and the market the trade was sized at."""
    r, instrument, rows = proposal.rationale, proposal.instrument, []
    if (score := _figures(r, "score")) is not None:
        rows.append(("Signal", f"score {number(score[0])} of {r.get('signal_date', '—')}"))
    if (sigma := _figures(r, "sigma")) is not None:
        daily = (
            f"{number(sigma[0], 2)} bp a day"
            if r.get("sigma_unit") == "bp"
            else f"{percent(sigma[0], 2)} a day"
        )
        days = r.get("sigma_days")
        rows.append(("Volatility (σ)", f"{daily}, over the last {days} daily moves"))
    if (last := _figures(r, "price")) is not None:
        rows.append(("Price", f"{price(last[0], instrument)}, close of {r.get('price_date')}"))
    fx = _figures(r, "fx_rate")
    if fx is not None and instrument.currency != BASE:
        rows.append(("FX rate", f"{number(fx[0], 4)} {BASE} per {instrument.currency}"))
    return rows


def _sizing_rows(proposal: TradeProposal) -> list[tuple[str, str]]:
    """How the size follows: target = score × risk budget ÷ (σ × value of one unit), the
    trade from the current position to it, in lots, if not too small."""
    r, one, rows = proposal.rationale, unit_word(proposal), []
    units = f"{one}s"
    if (unit := _figures(r, "unit_value")) is not None:
        value = (
            f"{money(unit[0])} {BASE} per bp (its DV01)"
            if r.get("sigma_unit") == "bp"
            else f"{money(unit[0])} {BASE} (its notional)"
        )
        rows.append((f"Value of one {one}", value))
    if (budget := _figures(r, "risk_budget")) is not None:
        rows.append(
            ("Strategy's risk budget", f"{money(budget[0])} {BASE} of daily P&L volatility")
        )
    if (target := _figures(r, "target")) is not None:
        formula = f"score × risk budget ÷ (σ × value of one {one})"
        rows.append(("Target position", f"{number(target[0], 2)} {units} = {formula}"))
    if (current := _figures(r, "current")) is not None:
        rows.append(("Current position", f"{number(current[0])} {units}"))
    lot = _figures(r, "lot_size")
    lots = "" if lot is None else f", in lots of {number(lot[0])}"
    rows.append(("Trade", f"{size(proposal)}{lots}"))
    smallest = _figures(r, "min_trade_fraction", "target")
    if smallest is not None:
        fraction, of = smallest
        least = f"{number(fraction * abs(of), 2)} {units}"
        rows.append(("Smallest trade proposed", f"{percent(fraction, 0)} of the target: {least}"))
    return rows


# The rationale's keys the rows above put in words; any other is shown as it is named.
RATIONALE_KEYS = {
    "signal_date", "score", "sigma", "sigma_unit", "sigma_days", "price", "price_date",
    "fx_rate", "unit_value", "risk_budget", "target", "current", "lot_size",
    "min_trade_fraction", "notional",
}  # fmt: skip


def rationale_rows(proposal: TradeProposal) -> list[tuple[str, str]]:
    """The rationale in the fund's words, figures formatted: the market the trade was sized
    at, then how its size follows from it."""
    others = [
        (key.replace("_", " ").capitalize(), readable(value))
        for key, value in proposal.rationale.items()
        if key not in RATIONALE_KEYS
    ]
    return [*_market_rows(proposal), *_sizing_rows(proposal), *others]


def _amount(value: str | None) -> str:
    return money(value)


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


def what_if_note(proposal: TradeProposal) -> str:
    """How the what-if was computed, in words: the book and history it is of, and what it
    could not see."""
    what_if = proposal.what_if
    if "as_of" not in what_if:
        return ""
    days = what_if.get("window_used") or what_if.get("window")
    note = f"The book of {what_if['as_of']} with this trade alone; VaR over {days} days of history"
    if what_if.get("short_history"):
        note += f" (fewer than the {what_if.get('window')} asked)"
    if what_if.get("missing_history"):
        note += f"; {proposal.instrument} has no history in that window: it adds nothing to VaR"
    return f"{note}."


def var_change(proposal: TradeProposal) -> str:
    what_if = proposal.what_if
    before, after = _amount(what_if.get("var_95_before")), _amount(what_if.get("var_95_after"))
    change = f"{before} → {after}"
    return f"{change} (no VaR yet)" if what_if.get("unavailable") else change


def new_breaches(proposal: TradeProposal) -> str:
    """The limits the trade would breach that are not in breach before it, by name (a
    limit already in breach is the book's, not the trade's: its row says so)."""
    what_if = proposal.what_if
    before = set(breached(what_if.get("limits_before") or []))
    return ", ".join(n for n in breached(what_if.get("limits_after") or []) if n not in before)


def unit_word(proposal: TradeProposal) -> str:
    """What one of the proposal's quantity is: a unit of a currency or of a funded holding,
    a contract of anything else."""
    instrument = proposal.instrument
    funded = instrument.settlement == instrument.Settlement.FUNDED
    return "unit" if funded or instrument.asset_class == instrument.AssetClass.FX else "contract"


def notional(proposal: TradeProposal) -> Decimal | None:
    """The proposed trade's notional in the base currency, as sizing worked it out at the
    price and FX rate it sized at (a DI1's from its unit price); None for a proposal sized
    before sizing kept it."""
    try:
        return Decimal(proposal.rationale["notional"])
    except (KeyError, TypeError, InvalidOperation):
        return None


def size(proposal: TradeProposal) -> str:
    """The trade in its units and in the base currency: "sell 40 contracts (notional
    1,234.00 BRL)"."""
    quantity, one = abs(proposal.quantity), unit_word(proposal)
    shown = f"{proposal.direction} {number(quantity)} {one if quantity == 1 else f'{one}s'}"
    amount = notional(proposal)
    return shown if amount is None else f"{shown} (notional {money(abs(amount))} {BASE})"


def decision_context(
    request: HttpRequest, proposal: TradeProposal, *, open_what_if: bool = False
) -> dict[str, Any]:
    """What the decision panel (`decision.html`) shows: the proposal, its what-if (folded
    unless `open_what_if`), and the forms when it is pending and the user may decide."""
    return {
        "proposal": proposal,
        "open": open_what_if,
        "var_change": var_change(proposal),
        "new_breaches": new_breaches(proposal),
        "what_if_note": what_if_note(proposal),
        "size": size(proposal),
        "note_max": inputs.NOTE_MAX,
        "modify_size": f"{abs(proposal.quantity).normalize():f}",  # the form's, unsigned
        "what_if": what_if_rows(proposal),
        "can_decide": proposal.status == TradeProposal.Status.PENDING
        and request.user.has_perm("trading.decide_tradeproposal"),
        "next": request.get_full_path(),
    }
