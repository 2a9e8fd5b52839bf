"""The fund's NAV against the administrator's (DESIGN.md "The fund's accounts",
Reconciliation; API.md `/api/official-nav/`, `/api/nav/reconciliation/`): the official
rows upserted by the API and `import_official_nav` (all or nothing, bad rows named), each
day's status, the `nav_break` alert a break opens and a correction resolves, the eod's
check, and where a break shows (verify_system, the dashboard, the pack).

Most tests set the fund's side by hand, one snapshot a day of NAV 10,000,000.00 and
10,000,000.00000000 units (quota 1.00000000), so that each official figure below is a
difference chosen in basis points: with the default tolerance, 1 bp of an official NAV of
10,000,000.00 is 1,000.00.
"""

import datetime as dt
from decimal import Decimal as D
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.test import Client

from briefing.selectors import Sections
from ops import pipelines, verification
from portfolio import services
from portfolio.models import AuditRecord, Instrument, OfficialNav, PortfolioSnapshot, Strategy
from risk.models import NAV_BREAK, RiskAlert
from tests.conftest import TODAY
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

TUE, WED, THU = dt.date(2024, 3, 12), dt.date(2024, 3, 13), dt.date(2024, 3, 14)
NAV, UNITS = "10000000.00", "10000000.00000000"


def snapshot(day: dt.date, nav: str = NAV, units: str = UNITS) -> None:
    """The fund's side of `day`: its NAV and units, the quota NAV / units."""
    PortfolioSnapshot.objects.create(
        date=day,
        nav=D(nav),
        units=D(units),
        quota=(D(nav) / D(units)).quantize(D("0.00000001")),
        pnl=D(0),
        daily_return=D(0),
        positions=0,
    )


def official(day: dt.date, nav: str = NAV, units: str = UNITS, quota: str = "1") -> dict[str, str]:
    return {"date": str(day), "nav": nav, "quota": quota, "units": units}


def post(client: Any, rows: Any) -> Any:
    return client.post("/api/official-nav/", rows, format="json")


def reconciliation(client: Any, **query: str) -> list[dict[str, Any]]:
    answer = client.get("/api/nav/reconciliation/", query)
    assert answer.status_code == 200, answer.content[:300]
    rows: list[dict[str, Any]] = answer.json()["results"]
    return rows


def alerts() -> list[tuple[dt.date, str]]:
    """(day, status) of the NAV break alerts, oldest first."""
    return list(
        RiskAlert.objects.filter(source=NAV_BREAK).order_by("date").values_list("date", "status")
    )


@pytest.fixture
def ops(api_client_for: Any) -> Any:
    return api_client_for("ops")


@pytest.fixture
def viewer(api_client_for: Any) -> Any:
    return api_client_for("viewer")


# --- The official rows: upsert, list, refusals ---------------------------------------------


def test_upsert_lists_and_audits(ops, viewer):
    rows = [official(WED), official(THU, nav="10001000.00", quota="1.0001")]
    assert post(ops, rows).json() == {"created": 2, "updated": 0}
    assert post(ops, [official(THU)]).json() == {"created": 0, "updated": 1}
    listed = viewer.get("/api/official-nav/", {"start": str(THU)}).json()
    assert listed["count"] == 1
    [row] = listed["results"]
    assert {k: row[k] for k in ("date", "nav", "quota", "units")} == {
        "date": "2024-03-14",
        "nav": "10000000.00",
        "quota": "1.00000000",
        "units": "10000000.00000000",
    }
    assert row["received_at"].endswith("Z")
    assert AuditRecord.objects.filter(action="official_nav.upsert").count() == 2
    assert post(viewer, rows).status_code == 403
    assert OfficialNav.objects.get(date=THU).nav == D("10000000.00")  # the viewer wrote nothing


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (official(THU, nav="-1"), "nav"),
        (official(THU, nav="0"), "nav"),
        (official(THU, quota="0"), "quota"),
        (official(THU, units="1.000000001"), "units"),  # nine places: units have eight
        (official(THU, nav="1e20"), "nav"),  # past the largest NAV
        ({**official(THU), "date": "2024-03-16"}, "date"),  # a Saturday
        ({**official(THU), "date": "2024-02-13"}, "date"),  # Carnival: a B3 holiday
        ({**official(THU), "date": "2024-03-18"}, "date"),  # after today (2024-03-15)
        ({**official(THU), "date": "14/03/2024"}, "date"),
        ({**official(THU), "received_at": "2024-03-14T00:00:00Z"}, "received_at"),
        ({"date": str(THU), "nav": NAV, "units": UNITS}, "quota"),
        ({"date": str(THU), "quota": "1", "units": UNITS}, "nav"),
    ],
)
def test_a_bad_row_is_400_naming_its_index_and_field_and_writes_nothing(ops, row, field):
    answer = post(ops, [official(WED), row])
    assert answer.status_code == 400
    assert field in answer.json()["1"], answer.json()
    assert not OfficialNav.objects.exists()
    assert not AuditRecord.objects.filter(action="official_nav.upsert").exists()


def test_the_same_day_twice_or_no_list_is_refused(ops):
    answer = post(ops, [official(THU), official(THU, nav="1.00")])
    assert answer.status_code == 400 and "date" in answer.json()["1"]
    assert post(ops, official(THU)).status_code == 400  # an object, not a list of rows
    assert post(ops, []).status_code == 400
    assert not OfficialNav.objects.exists()


def test_the_reconciliation_query_is_checked(viewer):
    answer = viewer.get("/api/nav/reconciliation/", {"start": "2024-03-14x"})
    assert answer.status_code == 400 and "start" in answer.json()
    answer = viewer.get("/api/nav/reconciliation/", {"start": str(THU), "end": str(WED)})
    assert answer.status_code == 400 and "end" in answer.json()


# --- Each day's status and its alert --------------------------------------------------------


def test_a_5_bp_difference_is_a_break_with_an_alert(ops, viewer):
    # The fund's NAV 10,005,000.00 against the official 10,000,000.00: 5,000.00, and
    # 5,000 / 10,000,000 × 10,000 = 5.00 bp, above the tolerance of 1 bp.
    snapshot(THU, nav="10005000.00")
    post(ops, [official(THU)])
    [day] = reconciliation(viewer)
    assert day == {
        "date": "2024-03-14",
        "nav": "10005000.00",
        "official_nav": "10000000.00",
        "difference": "5000.00",
        "difference_bp": "5.00",
        "quota": "1.00050000",  # 10,005,000 / 10,000,000
        "official_quota": "1.00000000",
        "units": UNITS,
        "official_units": UNITS,
        "status": "break",
    }
    assert alerts() == [(THU, "open")]
    alert = RiskAlert.objects.get(source=NAV_BREAK)
    assert alert.limit is None and alert.last == THU
    assert "5,000.00 (5.00 bp; tolerance 1 bp)" in alert.message
    assert AuditRecord.objects.filter(action="riskalert.open", object_id=str(alert.pk)).exists()
    listed = viewer.get("/api/risk/alerts/", {"status": "open"}).json()["results"]
    assert [row["id"] for row in listed] == [alert.pk]


def test_a_units_difference_is_a_break(ops, viewer):
    # The same NAV; the administrator counts a thousandth of a unit more, a ten-billionth
    # of the fund (SQLite reads decimals to 15 significant digits: a hundred-millionth of
    # a unit on 10,000,000 is below them there, not on PostgreSQL).
    snapshot(THU)
    post(ops, [official(THU, units="10000000.001")])
    [day] = reconciliation(viewer)
    assert (day["difference"], day["difference_bp"], day["status"]) == ("0.00", "0.00", "break")
    assert alerts() == [(THU, "open")]
    message = RiskAlert.objects.get(source=NAV_BREAK).message
    assert message == "units 10,000,000.00000000, the administrator's 10,000,000.00100000"


@pytest.mark.parametrize(
    ("nav", "bp"),
    [
        ("10000500.00", "0.50"),  # 500.00 of 10,000,000.00: 0.5 bp
        ("9999000.00", "-1.00"),  # 1,000.00 below: 1 bp is within, not above, the tolerance
    ],
)
def test_a_difference_within_the_tolerance_is_ok(ops, viewer, nav, bp):
    snapshot(THU, nav=nav)
    post(ops, [official(THU)])
    [day] = reconciliation(viewer)
    assert (day["difference_bp"], day["status"]) == (bp, "ok")
    assert alerts() == []


def test_the_tolerance_is_a_setting(ops, viewer, settings):
    # 0.50 bp is a break when the fund tolerates 0.25 bp.
    settings.PMS_NAV_TOLERANCE_BP = D("0.25")
    snapshot(THU, nav="10000500.00")
    post(ops, [official(THU)])
    assert [day["status"] for day in reconciliation(viewer)] == ["break"]


def test_a_correction_resolves_the_alert_and_a_new_difference_opens_it_again(ops, viewer):
    snapshot(THU, nav="10005000.00")
    post(ops, [official(THU)])
    alert = RiskAlert.objects.get(source=NAV_BREAK)
    # The administrator re-sends the day: 10,005,000.00, the fund's own NAV.
    assert post(ops, [official(THU, nav="10005000.00", quota="1.0005")]).json() == {
        "created": 0,
        "updated": 1,
    }
    assert [day["status"] for day in reconciliation(viewer)] == ["ok"]
    assert alerts() == [(THU, "resolved")]
    resolved = AuditRecord.objects.get(action="riskalert.resolve", object_id=str(alert.pk))
    assert (resolved.before["status"], resolved.after["status"]) == ("open", "resolved")
    # A later correction that breaks again opens the same day's alert again.
    post(ops, [official(THU, nav="10010000.00", quota="1.001")])
    assert alerts() == [(THU, "open")]
    assert RiskAlert.objects.get(source=NAV_BREAK).pk == alert.pk  # one alert per day


def test_missing_days_and_the_period(ops, viewer):
    # TUE: the fund's only; WED: both, equal; THU: the administrator's only.
    snapshot(TUE)
    snapshot(WED)
    post(ops, [official(WED), official(THU)])
    days = reconciliation(viewer)
    assert [(d["date"], d["status"]) for d in days] == [
        ("2024-03-12", "missing"),
        ("2024-03-13", "ok"),
        ("2024-03-14", "missing"),
    ]
    assert (days[0]["official_nav"], days[0]["difference"], days[2]["nav"]) == (None, None, None)
    assert alerts() == []  # one side only is not a break
    only = reconciliation(viewer, start=str(WED), end=str(WED))
    assert [d["date"] for d in only] == ["2024-03-13"]


# --- The import -----------------------------------------------------------------------------


def csv_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "official.csv"
    path.write_text(text)
    return str(path)


def test_import_writes_every_row_and_reconciles(tmp_path):
    snapshot(WED)
    snapshot(THU, nav="10005000.00")
    out = StringIO()
    call_command(
        "import_official_nav",
        csv_file(
            tmp_path,
            "date,nav,quota,units\n"
            f"2024-03-13,{NAV},1.00000000,{UNITS}\n"
            f"2024-03-14,{NAV},1.00000000,{UNITS}\n",
        ),
        stdout=out,
    )
    text = out.getvalue()
    assert "Reading" in text and "2 created, 0 updated" in text
    assert "1 day(s) reconcile with the administrator's, 1 in break (2024-03-14)" in text
    assert "GET /api/nav/reconciliation/?start=2024-03-14&end=2024-03-14" in text
    assert alerts() == [(THU, "open")]


def test_import_names_every_bad_line_and_writes_nothing(tmp_path):
    path = csv_file(
        tmp_path,
        "date,nav,quota,units\n"
        f"2024-03-13,{NAV},1,{UNITS}\n"  # line 2: good
        f"13/03/2024,{NAV},1,{UNITS}\n"  # line 3: not a date
        f"2024-03-16,{NAV},1,{UNITS}\n"  # line 4: a Saturday
        f"2024-03-14,-5,1,{UNITS}\n"  # line 5: a negative NAV
        f"2024-03-13,{NAV},1,{UNITS}\n",  # line 6: line 2's date again
    )
    with pytest.raises(CommandError) as error:
        call_command("import_official_nav", path, stdout=StringIO())
    message = str(error.value)
    assert "nothing imported" in message
    for line, field in ((3, "date"), (4, "date"), (5, "nav"), (6, "date")):
        assert f"line {line}: {field}:" in message, message
    assert "line 2:" not in message
    assert "line 6: date: Same date as line 2." in message  # the file's line, not an index
    assert not OfficialNav.objects.exists()


def test_import_refuses_an_unknown_column_or_a_missing_one(tmp_path):
    with pytest.raises(CommandError, match="unknown column"):
        call_command(
            "import_official_nav",
            csv_file(tmp_path, f"date,nav,quota,units,fees\n2024-03-14,{NAV},1,{UNITS},0\n"),
        )
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_official_nav", csv_file(tmp_path, f"date,nav\n2024-03-14,{NAV}\n"))
    assert not OfficialNav.objects.exists()


# --- The eod, verify_system, the dashboard and the pack ------------------------------------


@pytest.fixture
def fund(ibov: Instrument, macro: Strategy) -> None:
    """10,000,000.00 subscribed on WED; 10 INDJ24 (BRL, ×1) bought at 100,000 on WED; a
    redemption of 500,000.00 on THU. Closes: 100,000 on WED, 101,000 on THU (the fund's;
    the administrator values THU at 100,500), 102,000 on TODAY. No terms, no CDI: no carry,
    no fees. The timeline is built to THU.

    WED: NAV 10,000,000.00; 10,000,000 / quota 1 = 10,000,000 units; quota 1.
    THU: the redemption cancels 500,000 / 1.00000000 = 500,000 units: 9,500,000 units;
    P&L 10 × 1,000 = 10,000.00; NAV 10,000,000 − 500,000 + 10,000 = 9,510,000.00. The
    administrator's P&L 10 × 500 = 5,000.00: NAV 9,505,000.00, quota 9,505,000 / 9,500,000
    = 1.00052631… → 1.00052632; a difference of 5,000.00, 5,000 / 9,505,000 × 10,000 =
    5.26 bp: a break."""
    services.capital_flow_create(date=WED, amount=D("10000000"), note="seed", actor="t")
    services.capital_flow_create(date=THU, amount=D("-500000"), note="out", actor="t")
    services.prices_upsert(
        rows=[
            {"instrument": "INDJ24", "date": day, "price": D(close)}
            for day, close in ((WED, "100000"), (THU, "101000"), (TODAY, "102000"))
        ],
        actor="t",
    )
    services.trades_book(
        requests=[services.TradeRequest("INDJ24", "MACRO", D("10"), D("100000"), WED)],
        actor="t",
        source="api",
    )
    services.snapshots_build(start=WED, end=THU, actor="t")


FUND_OFFICIAL = [
    official(WED),
    official(THU, nav="9505000.00", quota="1.00052632", units="9500000"),
    # TODAY: P&L 10 × (102,000 − 100,500) = 15,000.00 on 9,505,000.00: 9,520,000.00;
    # quota 9,520,000 / 9,500,000 = 1.00210526…
    official(TODAY, nav="9520000.00", quota="1.00210526", units="9500000"),
]


def test_the_eod_reconciles_its_day_and_the_days_in_break(fund, ops, viewer):
    post(ops, FUND_OFFICIAL)
    assert [d["status"] for d in reconciliation(viewer)] == ["ok", "break", "missing"]
    assert alerts() == [(THU, "open")]
    assert verification.reconciliation()[0] == verification.FAIL
    # Operations correct THU's close to the administrator's and rebuild THU: it reconciles,
    # and its alert resolves with the rebuild.
    services.prices_upsert(
        rows=[{"instrument": "INDJ24", "date": THU, "price": D("100500")}], actor="t"
    )
    services.snapshots_build(start=THU, end=THU, actor="t")
    assert PortfolioSnapshot.objects.get(date=THU).nav == D("9505000.00")
    assert alerts() == [(THU, "resolved")]
    # TODAY's eod builds TODAY (9,520,000.00, as the administrator's) and checks it.
    summary = pipelines.eod_snapshots(TODAY, "pipeline:eod")
    assert "NAV 9,520,000.00" in summary
    assert "2024-03-15 reconciles with the administrator's NAV" in summary
    assert [d["status"] for d in reconciliation(viewer)] == ["ok", "ok", "ok"]
    assert alerts() == [(THU, "resolved")]
    status, detail = verification.reconciliation()
    assert status == verification.OK
    assert detail == "3 official NAVs from 2024-03-13 to 2024-03-15: every day both have reconciles"


def test_a_change_of_terms_opens_and_resolves_its_breaks_at_once(fund, ops):
    # The administrator's WED and THU are the fund's (THU: 9,510,000.00 on 9,500,000 units).
    post(ops, [official(WED), official(THU, nav="9510000.00", quota="1.00105263", units="9500000")])
    assert alerts() == []
    # Then the terms charge 5.04% a year from THU: THU's management fee is its capital,
    # 10,000,000 − 500,000 = 9,500,000.00, × 0.0504 / 252 = 1,900.00; its NAV 9,508,100.00 is
    # 1,900 / 9,510,000 × 10,000 = 2.0 bp below the administrator's: the change opens its
    # alert at once, and the eod still names it.
    services.fund_terms_change(effective_from=THU, actor="ops", management_fee=D("0.0504"))
    assert PortfolioSnapshot.objects.get(date=THU).nav == D("9508100.00")
    assert alerts() == [(THU, "open")]
    assert AuditRecord.objects.filter(action="riskalert.open", actor="ops").count() == 1
    summary = pipelines.eod_snapshots(TODAY, "pipeline:eod")
    assert "still in break: 2024-03-14" in summary
    # Back to the administrator's terms (none charged from THU): it resolves at once.
    services.fund_terms_change(effective_from=THU, actor="ops", management_fee=D("0"))
    assert alerts() == [(THU, "resolved")]


def test_the_eod_opens_the_alert_of_its_own_day(fund, ops):
    # TODAY's NAV is 9,510,000.00 + 10 × (102,000 − 101,000) = 9,520,000.00; the
    # administrator's is 1,000.00 short: 1,000 / 9,519,000 × 10,000 = 1.0505… → 1.05 bp,
    # just above the tolerance.
    post(ops, [official(TODAY, nav="9519000.00", quota="1.002", units="9500000")])
    assert alerts() == []  # no snapshot of TODAY yet: nothing to reconcile
    summary = pipelines.eod_snapshots(TODAY, "pipeline:eod")
    assert "NAV break on 2024-03-15: NAV 9,520,000.00, the administrator's 9,519,000.00: " in (
        summary
    )
    assert "(1.05 bp; tolerance 1 bp)" in summary
    assert alerts() == [(TODAY, "open")]
    assert AuditRecord.objects.filter(action="riskalert.open", actor="pipeline:eod").count() == 1


def test_verify_system_names_the_days_in_break_and_where_to_read_them(fund, ops):
    status, detail = verification.reconciliation()
    assert status == verification.WARN and "manage.py import_official_nav FILE" in detail
    post(ops, FUND_OFFICIAL[:2])
    status, detail = verification.reconciliation()
    assert status == verification.FAIL
    assert detail == (
        "2 official NAVs from 2024-03-13 to 2024-03-14; in break: 2024-03-14: "
        "GET /api/nav/reconciliation/?start=2024-03-14&end=2024-03-14"
    )


def test_verify_system_warns_of_a_day_with_one_side_only(ops):
    # The administrator has TUE and THU; the fund has all three days: WED has one side.
    for day in (TUE, WED, THU):
        snapshot(day)
    post(ops, [official(TUE), official(THU)])
    status, detail = verification.reconciliation()
    assert status == verification.WARN
    assert detail.endswith(
        "one side only on 2024-03-13: GET /api/nav/reconciliation/?start=2024-03-13&end=2024-03-13"
    )


def test_the_dashboard_and_the_pack_show_the_breaks(fund, ops):
    services.mark_to_market(as_of=TODAY, actor="t")
    post(ops, FUND_OFFICIAL[:2])
    user = User.objects.create_user("pm-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="pm"))
    client = Client()
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    assert "NAV breaks with the administrator (1)" in page
    # THU: 9,510,000.00 against 9,505,000.00, 5,000.00 or 5.26 bp; the units agree.
    assert (
        '<tr><td>2024-03-14</td><td class="num">9,510,000.00</td>'
        '<td class="num">9,505,000.00</td><td class="num">5,000.00<br><small>5.26 bp'
        "</small></td><td>agree</td></tr>"
    ) in page
    # The admin's official NAVs: each day beside the fund's NAV, with its status.
    listed_page = client.get("/admin/portfolio/officialnav/").content.decode()
    for day, status in ((WED, 'ok">ok'), (THU, 'breach">break')):
        row = listed_page[listed_page.index(f'/change/">{day}</a>') :]
        assert f'<span class="pms-status pms-{status}</span>' in row[: row.index("</tr>")], day
    # The pack of TODAY reads THU's close: its data quality lists THU.
    [listed] = Sections(TODAY, THU).data_quality()["nav_breaks"]
    assert listed == {
        "date": "2024-03-14",
        "nav": "9510000.00",
        "official_nav": "9505000.00",
        "difference": "5000.00",
        "difference_bp": "5.26",
        "units": "9500000.00000000",
        "official_units": "9500000.00000000",
        "units_differ": False,
        "status": "break",
    }
