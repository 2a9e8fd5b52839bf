"""Writes of the administrator's official NAV, quota and units: checked row by row and
written all or nothing, as market data is."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import inputs
from core.errors import RowErrors
from core.rows import (
    RowErrorMap,
    reject_dates_outside,
    reject_dates_where,
    reject_duplicates,
    reject_out_of_bounds,
    rows_upsert,
)

from ..models import OfficialNav
from ..selectors import inception
from .audit import audit_record

FIGURES = ("nav", "quota", "units")


def before_inception(day: Any, first: Any) -> str:
    return f"{day} is before the fund's inception {first}: the fund has no NAV to reconcile."


def official_navs_check(rows: Sequence[Mapping[str, Any]]) -> None:
    """The rules of official NAVs (RowErrors by row): a business day of the fund in the
    dates it accepts, a positive NAV, quota and units within bounds, each date once."""
    errors: RowErrorMap = {}
    reject_dates_outside(rows, errors)
    reject_dates_where(rows, inputs.business_day_problem, errors)
    first = inception()
    if first is not None:  # nothing of the fund exists before it to reconcile with
        reject_dates_where(
            rows, lambda day: None if day >= first else before_inception(day, first), errors
        )
    reject_out_of_bounds(rows, "nav", inputs.FLOW_MAX, errors)
    reject_out_of_bounds(rows, "quota", inputs.QUOTA_MAX, errors)
    reject_out_of_bounds(rows, "units", inputs.FLOW_MAX, errors)
    reject_duplicates(rows, ("date",), errors)
    if errors:
        raise RowErrors(errors)


@transaction.atomic
def official_navs_upsert(*, rows: Sequence[Mapping[str, Any]], actor: str) -> tuple[int, int]:
    """Upsert the administrator's NAV, quota and units per date. Rows: {date, nav, quota,
    units}; a date sent again replaces its figures (a correction) and its time received.

    Every row is checked before anything is written; one bad row rejects the batch. The
    alerts of the days' reconciliation are risk's: callers that write official NAVs
    (ops) update them in the same transaction.
    """
    official_navs_check(rows)
    received = timezone.now()
    created, updated = rows_upsert(
        OfficialNav,
        ("date",),
        (*FIGURES, "received_at"),
        [{"date": r["date"], **{f: r[f] for f in FIGURES}, "received_at": received} for r in rows],
    )
    days = [r["date"] for r in rows]
    audit_record(
        actor=actor,
        action="official_nav.upsert",
        after={"created": created, "updated": updated, "first": min(days), "last": max(days)},
    )
    return created, updated
