"""Writes of the fund's accounts: the terms, a rebuild of the accounts from a day, the
capital flows' conversion to units (DESIGN.md "The fund's accounts").

The accounts are a chain: each day starts from the close before it. The timeline
(`timeline.snapshots_build`) walks them beside the positions; a change that moves the
accounts only — new terms, a capital flow — walks them again from its day over the stored
positions' P&L (`accounts_rebuild`), without replaying the ledger.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max

from core import inputs
from core.bulk import bulk_update_rows
from core.calendar import business_days, next_business_day, on_or_after, previous_business_day
from core.signals import data_changed

from ..accounts import ZERO, Accounts, AccountsDay, Converted, Flow, TermsInForce, convert
from ..models import CapitalFlow, FundTerms, PortfolioSnapshot
from ..selectors import (
    WITHOUT_ACCOUNTS,
    AccountsWalk,
    TermsSchedule,
    accounts_at_close,
    inception,
)
from .audit import audit_record, model_state

# PostgreSQL advisory lock of the fund's timeline: its rebuilds, terms and flows queue.
TIMELINE_LOCK = 0x504D5354  # "PMST"


def timeline_lock() -> None:
    """Order the writes of the fund's timeline (snapshots built, accounts rebuilt, flows
    converted): two at once would interleave their deletes and inserts, or both pass a
    check of the units outstanding. SQLite runs one writing transaction at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TIMELINE_LOCK])


# What must follow the fund's accounts when a rebuild moves them: the NAV against the
# administrator's, whose alerts are risk's. The ops app registers it at start-up (the
# dependency rule has portfolio import neither); each is called with the first and the last
# day moved and the actor, inside the rebuild's transaction.
AccountsMoved = Callable[[dt.date, dt.date, str], None]
_followers: list[AccountsMoved] = []


def accounts_moved_register(follower: AccountsMoved) -> None:
    """Call `follower(first, last, actor)` after each rebuild of the accounts (once)."""
    if follower not in _followers:
        _followers.append(follower)


def accounts_moved(first: dt.date, last: dt.date, actor: str) -> None:
    for follower in _followers:
        follower(first, last, actor)


# The snapshot's columns an `AccountsDay` sets.
ACCOUNTS_FIELDS = (
    "nav",
    "pnl",
    "flow",
    "daily_return",
    "positions_pnl",
    "capital",
    "cash",
    "carry",
    "cdi",
    "management_fee",
    "performance_fee",
    "performance_paid",
    "performance_provision",
    "units",
    "quota",
    "hurdle_quota",
    "gross_return",
)


def fund_accounts_fields(day: AccountsDay) -> dict[str, Any]:
    """A fund snapshot's accounts columns (ACCOUNTS_FIELDS) and date, from its day."""
    close = day.close
    return {
        "date": day.day,
        "nav": close.nav,
        "pnl": day.pnl,
        "flow": day.flow,
        "daily_return": day.daily_return,
        "positions_pnl": day.positions_pnl,
        "capital": day.capital,
        "cash": day.cash,
        "carry": day.carry,
        "cdi": day.cdi,
        "management_fee": day.management_fee,
        "performance_fee": day.performance_fee,
        "performance_paid": day.performance_paid,
        "performance_provision": close.provision,
        "units": close.units,
        "quota": close.quota,
        "hurdle_quota": close.hurdle_quota,
        "gross_return": day.gross_return,
    }


def resume_day(start: dt.date) -> dt.date:
    """The first day a rebuild from `start` (on or after the inception) can write: `start`
    itself when the accounts of the close before it are stored, else the day after the
    latest close before it that has them (or the inception): each day's accounts start
    from the close before."""
    first = inception()
    if first is None or start <= first:
        return start
    stored = PortfolioSnapshot.objects.exclude(WITHOUT_ACCOUNTS)
    if stored.filter(date=previous_business_day(start)).exists():
        return start
    last = stored.filter(date__lt=start).aggregate(last=Max("date"))["last"]
    return next_business_day(last) if last else first


def accounts_start(day: dt.date) -> tuple[Accounts | None, Decimal]:
    """The accounts business day `day` starts from and the funded holdings' value at that
    close: nothing on the inception; the stored close before it after (`resume_day`
    says which day has one)."""
    first = inception()
    if first is None or day <= first:
        return None, ZERO
    found = accounts_at_close(previous_business_day(day))
    if found is None:
        raise ValidationError(
            {"date": [f"No snapshot of {previous_business_day(day)}: build it first."]}
        )
    return found


def flows_converted(converted: Iterable[tuple[int, Converted]]) -> list[dict[str, Any]]:
    """Store each flow's conversion where it moved (the quota before its day changed); what
    moved, for the audit: [{id, amount, units, quota}]."""
    rows = [(pk, c.amount, c.units, c.quota) for pk, c in converted]
    stored = dict(
        (pk, (amount, units, quota))
        for pk, amount, units, quota in CapitalFlow.objects.filter(
            pk__in=[row[0] for row in rows]
        ).values_list("pk", "amount", "units", "quota")
    )
    moved = [row for row in rows if stored.get(row[0]) != row[1:]]
    bulk_update_rows(CapitalFlow, ("amount", "units", "quota"), moved)
    return [
        {"id": pk, "amount": f"{amount:f}", "units": f"{units:f}", "quota": f"{quota:f}"}
        for pk, amount, units, quota in moved
    ]


def walked(
    walk: AccountsWalk, day: dt.date, positions_pnl: Decimal, funded: Decimal
) -> AccountsDay:
    """`walk.day`, refused (ValidationError, nothing written) when the fund's units would
    fall to zero or below: a redemption given as an amount converts to more units when
    the quota before it falls (new terms, a back-dated flow), and a fund without units
    has no quota."""
    try:
        accounts = walk.day(day, positions_pnl, funded)
    except InvalidOperation:
        raise ValidationError({"detail": [f"The fund's units on {day} overflow."]}) from None
    if accounts.close.units <= 0 and accounts.flows:
        raise ValidationError(
            {
                "detail": [
                    f"On {day} the fund's flows, converted at the quota {accounts.flows[0].quota} "
                    f"of the close before, would leave {accounts.close.units:f} units: "
                    "nothing was changed."
                ]
            }
        )
    return accounts


def _stored_run(start: dt.date) -> list[Any]:
    """The stored days from `start` on, up to the first business day without one: what
    the accounts take of each (named rows: pk, date, positions_pnl, funded_value)."""
    stored = PortfolioSnapshot.objects.filter(date__gte=start).order_by("date")
    rows: list[Any] = list(
        stored.values_list("pk", "date", "positions_pnl", "funded_value", named=True)
    )
    if not rows:
        return []
    run = []
    for day, row in zip(business_days(start, rows[-1].date), rows, strict=False):
        if row.date != day:
            break
        run.append(row)
    return run


@transaction.atomic
def accounts_rebuild(*, start: dt.date, actor: str) -> int:
    """Walk the fund's accounts again over every stored day from `start` (up to a day
    without a snapshot, which the eod builds whole), from the stored positions' P&L and
    funded value: the positions do not move when the terms or the flows do. Returns the
    days rewritten."""
    timeline_lock()
    first = inception()
    if first is None:
        return 0
    start = resume_day(max(on_or_after(start), first))
    rows = _stored_run(start)
    if not rows:
        return 0
    before, funded = accounts_start(start)
    walk = AccountsWalk([row.date for row in rows], before, TermsSchedule())
    updates = []
    for row in rows:
        fields = fund_accounts_fields(walked(walk, row.date, row.positions_pnl, funded))
        funded = row.funded_value
        updates.append((row.pk, *(fields[name] for name in ACCOUNTS_FIELDS)))
    bulk_update_rows(PortfolioSnapshot, ACCOUNTS_FIELDS, updates)
    flows = flows_converted(walk.converted)
    data_changed.send(sender=PortfolioSnapshot)
    audit_record(
        actor=actor,
        action="accounts.rebuild",
        after={
            "start": rows[0].date,
            "end": rows[-1].date,
            "days": len(rows),
            "flows_converted_again": flows,
        },
    )
    accounts_moved(rows[0].date, rows[-1].date, actor)
    return len(rows)


# --- The terms --------------------------------------------------------------------------------

TERMS_FIELDS = TermsInForce._fields  # what a change of terms may set


def payment_months_problem(months: Any) -> str | None:
    if (
        not isinstance(months, list)
        or not months
        or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months)
    ):
        return (
            "A list of months, 1 to 12: [6, 12] pays on the last business day of June and December."
        )
    return None


def fund_terms_check(*, instance: FundTerms | None = None, changes: Mapping[str, Any]) -> None:
    """The rules of a change of terms that its form can show next to its fields: a business
    day in the fund's dates, at least one payment month."""
    errors: dict[str, list[str]] = {}
    day = changes.get("effective_from")
    problem = day and (inputs.date_problem(day) or inputs.business_day_problem(day))
    if problem:
        errors["effective_from"] = [problem]
    months = changes.get("payment_months")
    if months is not None and payment_months_problem(months):
        errors["payment_months"] = [str(payment_months_problem(months))]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def fund_terms_change(*, effective_from: dt.date, actor: str, **changes: Any) -> FundTerms:
    """The fund's terms from `effective_from`: those in force then with `changes`, stored
    (replacing a change of the same date), audited, and the accounts rebuilt from that
    day."""
    timeline_lock()
    unknown = sorted(set(changes) - set(TERMS_FIELDS))
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    fund_terms_check(changes={**changes, "effective_from": effective_from})
    if "payment_months" in changes:
        changes["payment_months"] = sorted(set(changes["payment_months"]))
    in_force = FundTerms.objects.filter(effective_from__lte=effective_from).last()
    before = model_state(in_force) if in_force else None
    values = {name: getattr(in_force, name) for name in TERMS_FIELDS} if in_force else {}
    terms = FundTerms.objects.filter(effective_from=effective_from).first() or FundTerms(
        effective_from=effective_from
    )
    if terms.pk and all(getattr(terms, name) == value for name, value in changes.items()):
        return terms  # the same terms again (a request sent twice): nothing to change
    for name, value in {**values, **changes, "created_by": actor}.items():
        setattr(terms, name, value)
    terms.full_clean(validate_unique=False)
    terms.save()
    audit_record(
        actor=actor, action="fund_terms.change", obj=terms, before=before, after=model_state(terms)
    )
    accounts_rebuild(start=effective_from, actor=actor)
    return terms


# --- Capital flows ----------------------------------------------------------------------------


def quota_before(day: dt.date) -> Decimal:
    """The quota a flow of `day` is converted at: the previous close's (`Q_{t−1}`), or the
    initial quota on the fund's first day. Until that close is built the latest stored one
    stands in; the timeline converts the flow again when it builds the day."""
    first = inception()
    schedule = TermsSchedule()
    if first is None or on_or_after(day) <= first:
        return schedule.inception_terms(on_or_after(day)).initial_quota
    latest = (
        PortfolioSnapshot.objects.exclude(WITHOUT_ACCOUNTS)
        .filter(date__lt=on_or_after(day))
        .order_by("-date")
        .values_list("quota", flat=True)
        .first()
    )
    return latest if latest is not None else schedule.inception_terms(first).initial_quota


def units_problem(day: dt.date, units: Decimal) -> str | None:
    """Why a flow of `units` on `day` would leave fewer than no units outstanding, on its
    day (after its other flows) or on any later one."""
    if units >= 0:
        return None
    rows = CapitalFlow.objects.filter(units__isnull=False).order_by("date", "pk")
    flows = list(rows.values_list("date", "units"))
    held = sum((u for date, u in flows if date <= day), ZERO)
    lowest = held
    for date, u in flows:
        if date > day:
            held += u
            lowest = min(lowest, held)
    if lowest + units > 0:
        return None
    if lowest + units == 0:
        return (
            f"Redeems every unit outstanding on {day} ({lowest:f}): the fund would go on "
            "holding its positions for no investor. Leave some units."
        )
    return (
        f"Redeems {-units:f} units but {lowest:f} are outstanding on {day} "
        "(after its flows and the later ones)."
    )


@transaction.atomic
def capital_flow_create(
    *,
    date: dt.date,
    amount: Decimal | None = None,
    units: Decimal | None = None,
    note: str = "",
    actor: str,
) -> CapitalFlow:
    """A subscription or redemption given as an amount or as units, converted at the quota
    of the close before its date, audited; when that date's accounts are stored already
    they are walked again from it."""
    timeline_lock()
    field = "units" if units is not None else "amount"
    if (amount is None) == (units is None):
        raise ValidationError(
            {"amount": ["Give the flow as an amount (base currency) or as units: one of them."]}
        )
    capital_flow_check(changes={"date": date, field: amount if units is None else units})
    first = inception()
    if first is not None and on_or_after(date) < first and PortfolioSnapshot.objects.exists():
        raise ValidationError(
            {
                "date": [
                    f"{date} is before the fund's inception {first}, from which its history "
                    "is built: a flow dated before it would change every day since. Date it "
                    "on or after the inception."
                ]
            }
        )
    quota = quota_before(date)
    try:
        converted = convert(Flow(amount, units), quota)
    except InvalidOperation:  # past the 28 digits of the context: a typo, not a flow
        raise ValidationError({field: [f"Too large at the quota {quota}."]}) from None
    problem = (
        inputs.flow_problem(converted.amount)
        or (not converted.units and f"Issues or cancels no unit at the quota {quota}.")
        or (abs(converted.units) > inputs.UNITS_MAX and f"At most {inputs.UNITS_MAX:,} units.")
        or units_problem(date, converted.units)
    )
    if problem:
        raise ValidationError({field: [problem]})
    flow = CapitalFlow.objects.create(
        date=date,
        amount=converted.amount,
        units=converted.units,
        quota=converted.quota,
        entered=field,
        note=note,
    )
    flow.refresh_from_db()  # as stored: to the cent and to 8 places
    audit_record(actor=actor, action="capital_flow.create", obj=flow, after=model_state(flow))
    if PortfolioSnapshot.objects.filter(date__gte=on_or_after(date)).exists():
        accounts_rebuild(start=date, actor=actor)
    return flow


def capital_flow_check(*, instance: CapitalFlow | None = None, changes: Mapping[str, Any]) -> None:
    """A flow is not zero, within bounds, and dated in the fund's range."""
    date = changes.get("date")
    errors: dict[str, list[str]] = {}
    for field in ("amount", "units"):
        value = changes.get(field)
        wrong = value is not None and inputs.flow_problem(value)
        if wrong:
            errors[field] = [wrong]
    problem = date and (inputs.date_problem(date) or inputs.business_day_problem(date))
    if problem:
        errors["date"] = [problem]
    if errors:
        raise ValidationError(errors)
