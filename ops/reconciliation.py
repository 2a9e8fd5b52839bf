"""The administrator's official NAVs, written and reconciled in one step.

The official NAV is portfolio's (its upsert and the reconciliation's rule), the alert of a
day in break is risk's: a write of official NAVs needs both in one transaction, so the API
and `import_official_nav` call this, where the apps are wired together.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from portfolio.models import OfficialNav
from portfolio.selectors import BREAK, MISSING, OK
from portfolio.services import official_navs_upsert
from risk.selectors import nav_break_days
from risk.services import NavCheck, nav_breaks_update

DAYS_NAMED = 10  # a summary names this many days in break, then counts the rest
STATUSES = (OK, BREAK, MISSING)


def reconciled_summary(check: NavCheck) -> str:
    """What a check found, in one line: the days that reconcile, those in break (named),
    those with one side only."""
    count = {status: sum(day.status == status for day in check.days) for status in STATUSES}
    breaks = check.breaks
    named = ", ".join(str(day) for day in breaks[:DAYS_NAMED])
    more = f" and {len(breaks) - DAYS_NAMED} more" if len(breaks) > DAYS_NAMED else ""
    return (
        f"{count[OK]} day(s) reconcile with the administrator's, {count[BREAK]} in break"
        + (f" ({named}{more})" if breaks else "")
        + f", {count[MISSING]} with one side only"
    )


@transaction.atomic
def official_navs_record(
    *, rows: Sequence[Mapping[str, Any]], actor: str
) -> tuple[tuple[int, int], NavCheck]:
    """Upsert the administrator's NAV, quota and units (all rows or none) and reconcile
    their days, opening or resolving their NAV break alerts: ((created, updated), the
    check)."""
    counts = official_navs_upsert(rows=rows, actor=actor)
    return counts, nav_breaks_update(days=[row["date"] for row in rows], actor=actor)


def official_navs_upsert_and_reconcile(
    *, rows: Sequence[Mapping[str, Any]], actor: str
) -> tuple[int, int]:
    """`official_navs_record` as the market-data endpoints' upsert: (created, updated)."""
    counts, _ = official_navs_record(rows=rows, actor=actor)
    return counts


def accounts_reconciled(first: dt.date, last: dt.date, actor: str) -> None:
    """After a rebuild moved the fund's accounts from `first` to `last` (new terms, a
    back-dated flow, the eod), those days the administrator sent, and those in break,
    reconciled again: a break opens or resolves at once, not at the next eod. Registered
    with portfolio's accounts at start-up (`accounts_moved_register`)."""
    sent = OfficialNav.objects.filter(date__range=(first, last)).values_list("date", flat=True)
    days = set(sent) | {day for day in nav_break_days(through=last) if day >= first}
    if days:
        nav_breaks_update(days=days, actor=actor)
