"""One alert per limit and breach (DESIGN.md "Risk", limits): the breach's days, its
utilization on the last of them and its worst, resolution, and checks of any day in any
order, any number of times.

The limit: DV01 of 2,000.00. Each day's check is stored as the EOD stores it (the risk
snapshot's limit row), then applied to the alerts. The week of Mar 11–15, 2024 (business
days, Mon–Fri):
    Mar 11  2,500.00  utilization 2,500 / 2,000 = 1.25   breach
    Mar 12  3,000.00  3,000 / 2,000 = 1.50               breach
    Mar 13  2,200.00  2,200 / 2,000 = 1.10               breach
    Mar 14  1,900.00  1,900 / 2,000 = 0.95               warning: back under
    Mar 15  2,100.00  2,100 / 2,000 = 1.05               breach: a new breach
So the first breach is Mar 11–13, 3 days, worst 1.50, last 1.10, resolved on Mar 14; the
second opens on Mar 15.
"""

import datetime as dt
import importlib
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client

from portfolio.models import AuditRecord
from risk import selectors, services
from risk.models import RiskAlert, RiskLimit, RiskSnapshot
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
migration = importlib.import_module("risk.migrations.0006_alerts_per_breach")

MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in range(11, 16))
WEEK = {MON: "2500", TUE: "3000", WED: "2200", THU: "1900", FRI: "2100"}
FIRST_BREACH = (MON, WED, 3, "resolved", Decimal("2200"), Decimal("1.1"), Decimal("1.5"), THU)
SECOND_BREACH = (FRI, FRI, 1, "open", Decimal("2100"), Decimal("1.05"), Decimal("1.05"), None)


@pytest.fixture
def dv01() -> RiskLimit:
    return RiskLimit.objects.create(name="DV01", metric="dv01", limit=Decimal("2000"))


def check(limit: RiskLimit, day: dt.date, value: str) -> list[RiskAlert]:
    """The limit check of `day` as the EOD takes it: the day's check stored (its risk
    snapshot's limit row), then applied to the alerts."""
    checked = selectors.LimitValue(limit, Decimal(value))
    RiskSnapshot.objects.update_or_create(
        date=day,
        defaults={
            "nav": Decimal("10000000.00"),
            "window": 20,
            "exposures": {},
            "dv01_by_currency": {},
            "limits": [checked.as_dict()],
        },
    )
    return services.alerts_update(as_of=day, values=[checked])


def alerts() -> list[tuple[Any, ...]]:
    """Every alert, oldest first: first and last day, days, status, value and utilization
    of the last day, worst utilization, the day found back under."""
    return list(
        RiskAlert.objects.order_by("date").values_list(
            "date",
            "last_day",
            "days",
            "status",
            "value",
            "utilization",
            "worst_utilization",
            "resolved_on",
        )
    )


def test_three_days_in_breach_are_one_alert(dv01: RiskLimit) -> None:
    for day in (MON, TUE, WED):
        [alert] = check(dv01, day, WEEK[day])
    assert alerts() == [
        (MON, WED, 3, "open", Decimal("2200"), Decimal("1.1"), Decimal("1.5"), None)
    ]
    assert alert.pk == RiskAlert.objects.get().pk  # the check returns the day's alert


def test_back_under_resolves_it_and_a_new_breach_opens_a_second(dv01: RiskLimit) -> None:
    for day, value in WEEK.items():
        check(dv01, day, value)
    assert alerts() == [FIRST_BREACH, SECOND_BREACH]
    first = RiskAlert.objects.get(date=MON)
    assert first.resolved_at is not None and first.days == 3


def test_running_a_days_check_again_changes_nothing(dv01: RiskLimit) -> None:
    for day, value in WEEK.items():
        check(dv01, day, value)
    before = list(RiskAlert.objects.order_by("pk").values())
    audited = AuditRecord.objects.count()
    for day in reversed(WEEK):
        check(dv01, day, WEEK[day])
        check(dv01, day, WEEK[day])
    assert list(RiskAlert.objects.order_by("pk").values()) == before  # resolved_at too
    assert AuditRecord.objects.count() == audited


@pytest.mark.parametrize(
    "order",
    [
        [FRI, THU, WED, TUE, MON],  # a backfill run backwards
        [WED, MON, FRI, TUE, THU],
        [THU, FRI, MON, WED, TUE],
        [TUE, THU, MON, FRI, WED],
    ],
)
def test_checks_in_any_order_give_the_same_alerts(dv01: RiskLimit, order: list[dt.date]) -> None:
    for day in order:
        check(dv01, day, WEEK[day])
    assert alerts() == [FIRST_BREACH, SECOND_BREACH]


def test_an_acknowledged_alert_stays_so_until_its_breach_ends(dv01: RiskLimit) -> None:
    [alert] = check(dv01, MON, WEEK[MON])
    services.alert_acknowledge(alert_id=alert.pk, actor="risk", note="cutting DI1F27")
    check(dv01, TUE, WEEK[TUE])
    alert.refresh_from_db()
    assert (alert.status, alert.days, alert.note) == ("acknowledged", 2, "cutting DI1F27")
    check(dv01, WED, WEEK[WED])
    check(dv01, THU, WEEK[THU])
    alert.refresh_from_db()
    assert (alert.status, alert.days, alert.acknowledged_by) == ("resolved", 3, "risk")


def test_a_day_checked_last_joins_the_breaches_either_side(dv01: RiskLimit) -> None:
    """Mon and Wed checked first are two breaches; Tue's check makes them one (the older
    alert kept, with the later one's acknowledgement; the later one's removal audited)."""
    check(dv01, MON, WEEK[MON])
    [later] = check(dv01, WED, WEEK[WED])
    services.alert_acknowledge(alert_id=later.pk, actor="pm", note="waiting for the roll")
    assert len(alerts()) == 2
    check(dv01, TUE, WEEK[TUE])
    [joined] = RiskAlert.objects.all()
    assert (joined.date, joined.last_day, joined.days) == (MON, WED, 3)
    assert joined.worst_utilization == Decimal("1.5") and joined.utilization == Decimal("1.1")
    assert (joined.status, joined.acknowledged_by) == ("acknowledged", "pm")
    assert AuditRecord.objects.filter(action="riskalert.fold", object_id=str(later.pk)).exists()


def test_a_day_checked_again_under_splits_its_breach(dv01: RiskLimit) -> None:
    """Tue's check run again with a corrected 1,900.00: Mon alone (resolved on Tue, worst
    1.25) and Wed alone (a breach of its own, 1.10); back to 3,000.00, one breach again."""
    for day in (MON, TUE, WED):
        check(dv01, day, WEEK[day])
    check(dv01, TUE, "1900")
    assert alerts() == [
        (MON, MON, 1, "resolved", Decimal("2500"), Decimal("1.25"), Decimal("1.25"), TUE),
        (WED, WED, 1, "open", Decimal("2200"), Decimal("1.1"), Decimal("1.1"), None),
    ]
    check(dv01, TUE, WEEK[TUE])
    assert alerts() == [
        (MON, WED, 3, "open", Decimal("2200"), Decimal("1.1"), Decimal("1.5"), None)
    ]


def test_a_one_day_breach_checked_again_under_is_resolved_and_kept(dv01: RiskLimit) -> None:
    [alert] = check(dv01, FRI, WEEK[FRI])
    services.alert_acknowledge(alert_id=alert.pk, actor="risk", note="seen")
    check(dv01, FRI, "1900")
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_on, alert.note) == ("resolved", FRI, "seen")
    check(dv01, THU, WEEK[WED])  # the day before in breach: a breach of its own
    assert [(a[0], a[1], a[3]) for a in alerts()] == [
        (THU, THU, "resolved"),  # Fri's check found it under
        (FRI, FRI, "resolved"),
    ]
    check(dv01, FRI, WEEK[FRI])  # and in breach again: Thu and Fri are one breach
    assert [(a[0], a[1], a[2], a[3]) for a in alerts()] == [(THU, FRI, 2, "acknowledged")]


def test_the_breach_runs_over_weekends_and_holidays(dv01: RiskLimit) -> None:
    """Fri Feb 9, 2024 and Wed Feb 14 are consecutive business days on B3 (Carnival
    Monday and Tuesday): one breach of 2 days."""
    check(dv01, dt.date(2024, 2, 9), "2500")
    check(dv01, dt.date(2024, 2, 14), "2600")
    assert alerts() == [
        (
            dt.date(2024, 2, 9),
            dt.date(2024, 2, 14),
            2,
            "open",
            Decimal("2600"),
            Decimal("1.3"),
            Decimal("1.3"),
            None,
        )
    ]


def test_a_day_checked_again_lower_lowers_the_worst(dv01: RiskLimit) -> None:
    """Mon at 3,000.00 (1.50) and Tue at 2,400.00 (1.20); Mon's check run again with a
    corrected 2,500.00: the worst is 1.25, the stored checks', not the superseded 1.50.
    Wed joined to them by a check of Tue run last gives the same."""
    check(dv01, MON, "3000")
    check(dv01, TUE, "2400")
    check(dv01, MON, "2500")
    assert alerts() == [
        (MON, TUE, 2, "open", Decimal("2400"), Decimal("1.2"), Decimal("1.25"), None)
    ]
    check(dv01, WED, "2200")
    check(dv01, TUE, "3000")
    check(dv01, TUE, "2200")
    assert alerts() == [
        (MON, WED, 3, "open", Decimal("2200"), Decimal("1.1"), Decimal("1.25"), None)
    ]


def test_a_value_not_available_changes_nothing(dv01: RiskLimit) -> None:
    check(dv01, MON, WEEK[MON])
    unavailable = selectors.LimitValue(dv01, None, unavailable="20 returns needed")
    services.alerts_update(as_of=TUE, values=[unavailable])
    assert alerts() == [
        (MON, MON, 1, "open", Decimal("2500"), Decimal("1.25"), Decimal("1.25"), None)
    ]


# --- The migration that folded the daily alerts ------------------------------------------------


def daily(pk: int, limit_id: int, day: dt.date, utilization: str, **fields: Any) -> dict[str, Any]:
    """An alert as the database held it before: one per limit and day."""
    return {
        "id": pk,
        "limit_id": limit_id,
        "date": day,
        "status": "open",
        "value": Decimal(utilization) * 2000,
        "utilization": Decimal(utilization),
        "acknowledged_by": "",
        "acknowledged_at": None,
        "note": "",
        "resolved_at": None,
        **fields,
    }


def test_breach_runs_are_consecutive_business_days() -> None:
    feb = [dt.date(2024, 2, d) for d in (8, 9, 14, 16)]  # Thu, Fri, (Carnival), Wed, Fri
    assert migration.breach_runs(reversed(feb)) == [(feb[0], feb[2]), (feb[3], feb[3])]


def test_the_daily_alerts_fold_into_one_per_limit_and_breach() -> None:
    """Limit 1 in breach Mon–Wed (3 alerts: Tue's acknowledged, Wed's resolved) and Fri
    (Thu under); limit 2 on Wed only. Folded: the Mon–Wed breach is Mon's row with
    Wed's figures, the worst of the three (1.50), Tue's acknowledgement, resolved as Wed's
    was, on Thu (the first later day a stored check found the limit under); Fri and limit
    2's Wed stay as they were, of one day (limit 2's, resolved, on the next business day:
    no later check stored)."""
    acked = dt.datetime(2024, 3, 12, 21, tzinfo=dt.UTC)
    resolved = dt.datetime(2024, 3, 14, 21, tzinfo=dt.UTC)
    rows = [
        daily(3, 1, WED, "1.1", status="resolved", resolved_at=resolved),
        daily(1, 1, MON, "1.25"),
        daily(2, 1, TUE, "1.5", status="acknowledged", acknowledged_by="pm", acknowledged_at=acked),
        daily(5, 1, FRI, "1.05"),
        daily(4, 2, WED, "1.2", status="resolved", resolved_at=resolved),
    ]
    rows[2]["note"] = "cutting"
    kept, folded = migration.fold_daily_alerts(rows, {1: [THU, dt.date(2024, 3, 18)]})
    assert sorted(folded) == [2, 3]
    by_id = {breach["id"]: breach for breach in kept}
    assert sorted(by_id) == [1, 4, 5]
    assert by_id[1] == {
        "id": 1,
        "date": MON,
        "last_day": WED,
        "days": 3,
        "value": Decimal("2200.0"),
        "utilization": Decimal("1.1"),
        "worst_utilization": Decimal("1.5"),
        "status": "resolved",
        "acknowledged_by": "pm",
        "acknowledged_at": acked,
        "note": "cutting",
        "resolved_on": THU,
        "resolved_at": resolved,
    }
    assert (by_id[5]["date"], by_id[5]["last_day"], by_id[5]["days"]) == (FRI, FRI, 1)
    assert (by_id[5]["status"], by_id[5]["worst_utilization"]) == ("open", Decimal("1.05"))
    assert by_id[5]["resolved_on"] is None
    assert (by_id[4]["date"], by_id[4]["days"], by_id[4]["status"]) == (WED, 1, "resolved")
    assert by_id[4]["resolved_on"] == THU


def test_the_migration_folds_the_stored_alerts(dv01: RiskLimit) -> None:
    """The migration's step on the database: 3 daily alerts of Mon–Wed and a pipeline's
    alert become the breach's alert and the pipeline's, each with its last day."""
    for day, value in ((MON, "2500"), (TUE, "3000"), (WED, "2200")):
        RiskAlert.objects.create(
            limit=dv01, date=day, value=Decimal(value), utilization=Decimal(value) / 2000
        )
    RiskAlert.objects.create(source="pipeline:eod", date=TUE, message="failed")
    RiskAlert.objects.update(last_day=None)  # as the migration finds them
    migration.fold_alerts(apps, None)
    assert alerts() == [
        (MON, WED, 3, "open", Decimal("2200"), Decimal("1.1"), Decimal("1.5"), None),
        (TUE, TUE, 1, "open", None, None, None, None),
    ]


def test_a_folded_resolved_breach_stays_resolved_when_a_day_of_it_is_checked_again(
    dv01: RiskLimit,
) -> None:
    """The week's checks stored; the daily alerts of Mon–Wed, resolved by Thu's check,
    folded by the migration: resolved on Thu. Tue's check run again (the same figures)
    leaves it as it is; Thu's again too."""
    resolved = dt.datetime(2024, 3, 14, 21, tzinfo=dt.UTC)
    for day, value in WEEK.items():
        check(dv01, day, value)
    RiskAlert.objects.all().delete()
    for day in (MON, TUE, WED):
        RiskAlert.objects.create(
            limit=dv01,
            date=day,
            value=Decimal(WEEK[day]),
            utilization=Decimal(WEEK[day]) / 2000,
            status="resolved",
            resolved_at=resolved,
        )
    RiskAlert.objects.update(last_day=None)  # as the migration finds them
    migration.fold_alerts(apps, None)
    assert alerts() == [FIRST_BREACH]
    folded = list(RiskAlert.objects.values())
    check(dv01, TUE, WEEK[TUE])
    check(dv01, THU, WEEK[THU])
    assert list(RiskAlert.objects.values()) == folded


# --- The admin -----------------------------------------------------------------------------------


def test_the_admin_lists_breaches_newest_first_and_asks_for_the_note(dv01: RiskLimit) -> None:
    for day, value in WEEK.items():
        check(dv01, day, value)
    user = User.objects.create_user("risk-officer", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="risk"))
    client = Client()
    client.force_login(user)
    listed = client.get("/admin/risk/riskalert/").content.decode()
    assert listed.index("2024-03-15") < listed.index("2024-03-11")  # Fri's breach first
    selected = {
        "action": "acknowledge",
        "_selected_action": [a.pk for a in RiskAlert.objects.all()],
    }
    asked = client.post("/admin/risk/riskalert/", selected).content.decode()
    assert 'name="note"' in asked and "DV01: 1 day in breach, 2024-03-15 to 2024-03-15" in asked
    assert RiskAlert.objects.filter(status="acknowledged").count() == 0
    client.post("/admin/risk/riskalert/", {**selected, "apply": "1", "note": "hedged"})
    # Only the open alert: the resolved breach stays resolved.
    assert sorted(RiskAlert.objects.values_list("status", "note")) == [
        ("acknowledged", "hedged"),
        ("resolved", ""),
    ]
    # As the person who acknowledged it, in the alert and in the audit trail.
    [record] = AuditRecord.objects.filter(action="riskalert.acknowledge")
    assert (record.actor, record.note) == ("risk-officer", "hedged")
    assert RiskAlert.objects.get(status="acknowledged").acknowledged_by == "risk-officer"
