"""A breach is a run of consecutive business days on which a limit is in breach: one alert
per limit and breach. The rule is here once, for the limit check and for the migration
that folded the alerts of the days of a breach into one."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import groupby
from typing import Any

from core.calendar import business_days, next_business_day


def breach_runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The runs of consecutive business days among `days` (business days, in any order,
    repeats allowed): (first, last) of each, oldest first."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if runs and next_business_day(runs[-1][1]) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def days_in_breach(first: dt.date, last: dt.date) -> int:
    """The business days from `first` to `last`, both counted."""
    return len(business_days(first, last))


def worst(*utilizations: Decimal | None) -> Decimal | None:
    """The largest utilization given, None when none is known."""
    known = [u for u in utilizations if u is not None]
    return max(known) if known else None


def fold_daily_alerts(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[int]]:
    """The alerts of a limit's days in breach folded into one alert per breach.

    `rows` are limit alerts as the database held them, one per limit and day (`id`,
    `limit_id`, `date`, `status`, `value`, `utilization`, `acknowledged_by`,
    `acknowledged_at`, `note`, `resolved_at`). Returns (the alert kept for each breach,
    its earliest day's row, with the breach's fields; the ids of the other rows, to
    delete). A breach takes its current value and utilization from its last day, its worst
    utilization from all its days, the latest acknowledgement any of its days had, and is
    resolved when its last day's alert was.
    """
    kept: list[dict[str, Any]] = []
    folded: list[int] = []
    ordered = sorted(rows, key=lambda row: (row["limit_id"], row["date"]))
    for _, of_limit in groupby(ordered, key=lambda row: row["limit_id"]):
        by_day = {row["date"]: row for row in of_limit}  # one per limit and day
        for first, last in breach_runs(by_day):
            run = [row for day, row in by_day.items() if first <= day <= last]
            kept.append(_breach_of(run))
            folded.extend(row["id"] for row in run[1:])
    return kept, folded


def _breach_of(run: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields of one breach from the daily alerts of its days (oldest first)."""
    head, tail = run[0], run[-1]
    acknowledged = [row for row in run if row["acknowledged_at"] is not None]
    ack = max(acknowledged, key=lambda row: row["acknowledged_at"]) if acknowledged else None
    resolved = tail["status"] == "resolved"
    status = "resolved" if resolved else ("acknowledged" if ack else "open")
    return {
        "id": head["id"],
        "date": head["date"],
        "last_day": tail["date"],
        "days": days_in_breach(head["date"], tail["date"]),
        "value": tail["value"],
        "utilization": tail["utilization"],
        "worst_utilization": worst(*(row["utilization"] for row in run)),
        "status": status,
        "acknowledged_by": ack["acknowledged_by"] if ack else "",
        "acknowledged_at": ack["acknowledged_at"] if ack else None,
        "note": ack["note"] if ack else "",
        "resolved_at": tail["resolved_at"] if resolved else None,
    }
