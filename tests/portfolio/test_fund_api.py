"""GET and PATCH /api/fund/, and the live book's accounts against the timeline's, on the fund
of tests/fixtures/fees_fund.py (its accounts worked out by hand there)."""

from decimal import Decimal as D
from typing import Any

import pytest

from portfolio import services
from portfolio.models import AuditRecord, FundTerms, FxRate, PortfolioSnapshot, Price
from tests.conftest import queries_of
from tests.fixtures.fees_fund import D2, D3, D4


def nav_by_day() -> dict[str, str]:
    return {str(day): f"{nav}" for day, nav in PortfolioSnapshot.objects.values_list("date", "nav")}


def test_the_fund_shows_its_accounts_now_and_its_terms(fees_fund, api_client_for):
    fund = api_client_for("viewer").get("/api/fund/").json()
    terms = fund.pop("terms")
    assert fund == {
        "base_currency": "BRL",
        "inception": "2024-02-29",
        "calendar": "BVMF",
        "time_zone": "America/Sao_Paulo",
        "last_mark": "2024-03-05",
        "last_snapshot": "2024-03-05",
        "valuation_date": "2024-03-05",
        # D4's close (fees_fund): NAV 1,013,283.53 over 1,000,000 units; the day's cash,
        # its capital at the start, all of it (margined); the provision accrued since D2.
        "nav": "1013283.53",
        "quota": "1.01328353",
        "units": "1000000.00000000",
        "cash": "1004962.25",
        "performance_provision": "2920.64",
    }
    [given] = terms
    assert given.pop("created_at").endswith("Z")  # UTC
    assert given == {
        "effective_from": "2024-02-29",
        "initial_quota": "1.00000000",
        "management_fee": "0.02520000",
        "performance_fee": "0.20000000",
        "hurdle": "1.00000000",
        "payment_months": [6, 12],
        "cash_yield": "1.00000000",
        "financing_spread": "0.00000000",
        "created_by": "ops",
    }


def test_a_terms_change_from_a_past_day_rebuilds_the_accounts_from_it(
    fees_fund, api_client_for, django_capture_on_commit_callbacks
):
    """The management fee doubles to 5.04% a year (S × 0.0002 a day) from D3.

    D2 is as it was: NAV 1,008,640.10 (provision 1,959.99).
    D3: S 1,008,640.10; carry 403.46 as before; management cents(201.72802) 201.73 (was
        100.86); G = 1,008,640.10 + 1,959.99 − 5,000 + 403.46 − 201.73 = 1,005,801.82;
        over 1,001,200.480064 by 4,601.339936: provision cents(920.2679872) 920.27;
        NAV 1,004,881.55 (was 1,004,962.25: 100.87 more fee, 80.67 less provision).
    D4: S 1,004,881.55; carry cents(401.95262) 401.95; management cents(200.97631) 200.98;
        G = 1,004,881.55 + 920.27 + 10,000 + 401.95 − 200.98 = 1,016,002.79; over
        1,001,600.9602560256 by 14,401.8297439744: provision cents(2,880.36594879488)
        2,880.37; NAV 1,013,122.42 (was 1,013,283.53), quota 1.01312242.
    """
    viewer = api_client_for("viewer")
    assert viewer.get("/api/book/").json()["nav"] == "1013283.53"  # and now cached
    before = nav_by_day()
    audits = AuditRecord.objects.count()
    ops = api_client_for("ops")
    with django_capture_on_commit_callbacks(execute=True):  # the cache hears of the commit
        answer = ops.patch(
            "/api/fund/",
            {"effective_from": "2024-03-04", "management_fee": "0.0504"},
            format="json",
        )
    assert answer.status_code == 200, answer.json()
    fund = answer.json()
    assert (fund["nav"], fund["quota"], fund["performance_provision"]) == (
        "1013122.42",
        "1.01312242",
        "2880.37",
    )
    assert [(t["effective_from"], t["management_fee"]) for t in fund["terms"]] == [
        ("2024-02-29", "0.02520000"),
        ("2024-03-04", "0.05040000"),
    ]
    # The rest of the terms carried from those in force on D3.
    assert fund["terms"][1]["performance_fee"] == "0.20000000"
    assert fund["terms"][1]["created_by"] == "user-ops"
    after = nav_by_day()
    assert after[str(D2)] == before[str(D2)] == "1008640.10"
    assert (after[str(D3)], after[str(D4)]) == ("1004881.55", "1013122.42")
    assert D(before[str(D4)]) - D(after[str(D4)]) == D("161.11")
    # The change and the rebuild are audited; the book shows the new NAV at once.
    change = AuditRecord.objects.get(action="fund_terms.change", actor="user-ops")
    assert change.after["management_fee"] == "0.05040000"
    assert change.after["effective_from"] == "2024-03-04"
    assert AuditRecord.objects.count() == audits + 2  # the change, the rebuild
    book = viewer.get("/api/book/").json()
    assert book["nav"] == "1013122.42"  # written through, after the commit


@pytest.mark.parametrize(
    "body, field",
    [
        ({"effective_from": "2024-03-04", "managment_fee": "0.01"}, "managment_fee"),
        ({"management_fee": "0.01"}, "effective_from"),
        ({"effective_from": "2024-03-07", "management_fee": "0.01"}, "effective_from"),
        ({"effective_from": "04/03/2024"}, "effective_from"),
        ({"effective_from": "2024-03-04", "management_fee": "0.5"}, "management_fee"),
        ({"effective_from": "2024-03-04", "management_fee": "-0.01"}, "management_fee"),
        ({"effective_from": "2024-03-04", "management_fee": "٠.٠١"}, "management_fee"),
        ({"effective_from": "2024-03-04", "performance_fee": "0.123456789"}, "performance_fee"),
        ({"effective_from": "2024-03-04", "hurdle": "abc"}, "hurdle"),
        ({"effective_from": "2024-03-04", "initial_quota": "0"}, "initial_quota"),
        ({"effective_from": "2024-03-04", "payment_months": [13]}, "payment_months"),
        ({"effective_from": "2024-03-04", "payment_months": [True]}, "payment_months"),
        ({"effective_from": "2024-03-04", "payment_months": "6,12"}, "payment_months"),
        ({"effective_from": "2024-03-04", "cash_yield": None}, "cash_yield"),
        ({"effective_from": "2024-03-04", "created_by": "me"}, "created_by"),
        ({"effective_from": "2024-03-02", "management_fee": "0.01"}, "effective_from"),  # Sat
    ],
)
def test_bad_terms_are_a_400_naming_the_field_and_write_nothing(
    fees_fund, api_client_for, body, field
):
    before = (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count())
    answer = api_client_for("ops").patch("/api/fund/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()
    assert (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count()) == before


def test_only_ops_change_the_terms(fees_fund, api_client_for):
    before = (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count())
    change = {"effective_from": "2024-03-04", "management_fee": "0.0504"}
    for group in ("viewer", "pm", "risk"):
        assert api_client_for(group).patch("/api/fund/", change, format="json").status_code == 403
    assert api_client_for(None).patch("/api/fund/", change, format="json").status_code == 401
    assert (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count()) == before
    assert api_client_for("viewer").get("/api/fund/").status_code == 200
    assert api_client_for("superuser").patch("/api/fund/", change, format="json").status_code == 200


def book_accounts(book: dict[str, Any]) -> dict[str, str]:
    return {
        name: book[name]
        for name in ("nav", "cash", "carry", "management_fee", "performance_fee", "fees", "quota")
    } | {"units": book["units"], "provision": book["performance_provision"]}


def test_the_book_marked_to_a_day_shows_the_timelines_accounts_of_that_day(
    fees_fund, api_client_for
):
    """The book is marked to D4, which the timeline has built: the live day is D4's, from
    D3's close. D4 (fees_fund): cash 1,004,962.25, carry 401.98, management fee 100.50,
    performance fee 1,980.20 (fees 2,080.70), provision 2,920.64, quota 1.01328353."""
    book = api_client_for("viewer").get("/api/book/").json()
    assert book["valuation_date"] == "2024-03-05"
    snapshot = PortfolioSnapshot.objects.get(date=D4)
    assert book_accounts(book) == {
        "nav": f"{snapshot.nav}",
        "cash": f"{snapshot.cash}",
        "carry": f"{snapshot.carry}",
        "management_fee": f"{snapshot.management_fee}",
        "performance_fee": f"{snapshot.performance_fee}",
        "fees": f"{snapshot.management_fee + snapshot.performance_fee}",
        "quota": f"{snapshot.quota}",
        "units": f"{snapshot.units}",
        "provision": f"{snapshot.performance_provision}",
    }
    assert book_accounts(book) == {
        "nav": "1013283.53",
        "cash": "1004962.25",
        "carry": "401.98",
        "management_fee": "100.50",
        "performance_fee": "1980.20",
        "fees": "2080.70",
        "quota": "1.01328353",
        "units": "1000000.00000000",
        "provision": "2920.64",
    }
    # The book's day P&L is the positions' (10 × 1,000); the fund's adds the carry and
    # takes the fees: 10,000 + 401.98 − 100.50 − 1,980.20 = 8,321.28, the timeline's.
    assert book["totals"]["daily_pnl"] == "10000.00"
    assert f"{snapshot.pnl}" == "8321.28"


def test_the_schema_says_a_change_names_its_date(api_client_for):
    schema = api_client_for("viewer").get("/api/schema/", {"format": "json"}).json()
    patch = schema["paths"]["/api/fund/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body == "#/components/schemas/FundTermsChangeRequest"
    change = schema["components"]["schemas"]["FundTermsChangeRequest"]
    assert change["required"] == ["effective_from"] and change["additionalProperties"] is False
    assert set(change["properties"]) == {
        "effective_from",
        "initial_quota",
        "management_fee",
        "performance_fee",
        "hurdle",
        "payment_months",
        "cash_yield",
        "financing_spread",
    }
    assert {"200", "400", "401", "403"} <= set(patch["responses"])
    fund = schema["components"]["schemas"]["Fund"]["properties"]
    assert {"nav", "quota", "units", "cash", "performance_provision", "terms"} <= set(fund)


def test_the_funds_queries_do_not_grow_with_its_terms_or_its_book(fees_fund, api_client_for, spx):
    viewer = api_client_for("viewer")
    few, _ = queries_of(viewer, "/api/fund/")
    for day, fee in ((D2, "0.01"), (D3, "0.03")):
        services.fund_terms_change(effective_from=day, actor="ops", management_fee=D(fee))
    Price.objects.create(instrument=spx, date=D4, price=D("5000"))
    FxRate.objects.create(currency="USD", date=D4, rate=D("5"))
    services.trades_book(
        requests=[services.TradeRequest("ESH4", "MACRO", D("1"), D("5000"), D4)],
        actor="pm",
        source="api",
    )
    many, answer = queries_of(viewer, "/api/fund/")
    assert len(answer.json()["terms"]) == 3
    assert many == few


def test_nothing_is_dated_before_the_inception_once_the_history_is_built(fees_fund, api_client_for):
    """The fund starts on D1 (Thu Feb 29, 2024) and its days are built from there: a flow
    dated before it would change every day since, and the administrator's NAV of a day
    before it has nothing to reconcile with. Both are 400s naming the date."""
    ops = api_client_for("ops")
    before = (nav_by_day(), AuditRecord.objects.count())
    flow = ops.post("/api/capital-flows/", {"date": "2024-02-28", "amount": "1000"}, format="json")
    assert flow.status_code == 400 and "inception 2024-02-29" in flow.json()["date"][0]
    row = {"date": "2024-02-28", "nav": "1000", "quota": "1", "units": "1000"}
    official = ops.post("/api/official-nav/", [row], format="json")
    assert official.status_code == 400 and "inception" in str(official.json()["0"]["date"])
    assert (nav_by_day(), AuditRecord.objects.count()) == before


def test_no_flow_or_change_of_terms_leaves_the_fund_without_units(fees_fund, api_client_for):
    """fees_fund has 1,000,000 units from D1; D3's quota is 1.00496225."""
    ops = api_client_for("ops")
    before = (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count())
    every = {"date": "2024-03-05", "units": "-1000000"}
    answer = ops.post("/api/capital-flows/", every, format="json")
    assert answer.status_code == 400 and "every unit" in answer.json()["units"][0]
    # 1,004,900.00 out on D4 at D3's quota cancels 1,004,900 / 1.00496225 = 999,938.…
    # units: 61.… are left.
    out = {"date": "2024-03-05", "amount": "-1004900"}
    assert ops.post("/api/capital-flows/", out, format="json").status_code == 201
    kept = (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count())
    assert kept != before
    # A management fee of 20% a year from D2 charges about S × 0.2 / 252 ≈ 794 a day more
    # on D2 and D3 (less a fifth back through the performance provision): D3's quota falls
    # by about 0.0013, to about 1.0037, and the same 1,004,900.00 cancels about 1,001,200
    # units, more than the 1,000,000 there are. Refused; nothing written.
    change = {"effective_from": "2024-03-01", "management_fee": "0.2"}
    answer = api_client_for("ops").patch("/api/fund/", change, format="json")
    assert answer.status_code == 400 and "would leave -" in answer.json()["detail"][0]
    assert (nav_by_day(), FundTerms.objects.count(), AuditRecord.objects.count()) == kept


def test_a_flow_too_large_for_the_quota_is_a_400(fees_fund, api_client_for):
    ops = api_client_for("ops")
    tiny = {"effective_from": "2024-02-29", "initial_quota": "0.00000001"}
    assert ops.patch("/api/fund/", tiny, format="json").status_code == 200
    # 100,000,000,000,000.00 at a quota near 0.00000001 is some 1e22 units: past any fund.
    huge = {"date": "2024-03-05", "amount": "100000000000000"}
    answer = ops.post("/api/capital-flows/", huge, format="json")
    assert answer.status_code == 400 and "amount" in answer.json()


def test_a_day_that_lost_all_the_capital_is_named_not_a_500(fees_fund, api_client_for):
    # D3 as a fund that lost everything it started the day with (1,008,640.10): NAV 0.00.
    lost = {"pnl": D("-1008640.10"), "nav": D("0"), "daily_return": D("-1")}
    PortfolioSnapshot.objects.filter(date=D3).update(**lost)
    viewer = api_client_for("viewer")
    for url in ("/api/attribution/?period=mtd", "/api/performance/?period=ytd"):
        answer = viewer.get(url)
        assert answer.status_code == 400, (url, answer.json())
        assert "lost all its capital on 2024-03-04" in answer.json()["detail"][0], url
    assert viewer.get("/api/attribution/?period=daily").status_code == 200  # D4 alone


def test_the_same_change_twice_changes_once_and_an_amount_worth_no_unit_is_refused(
    fees_fund, api_client_for
):
    ops = api_client_for("ops")
    change = {
        "effective_from": "2024-03-04",
        "management_fee": "0.03",
        "payment_months": [12, 6, 6],
    }
    assert ops.patch("/api/fund/", change, format="json").status_code == 200
    audits = AuditRecord.objects.count()
    assert ops.patch("/api/fund/", change, format="json").status_code == 200
    assert AuditRecord.objects.count() == audits  # no second change, no second rebuild
    assert FundTerms.objects.get(effective_from=D3).payment_months == [6, 12]
    # At a quota of 1,000,000,000 from the inception, 0.004 units round to 0.00000000.
    big = {"effective_from": "2024-02-29", "initial_quota": "1000000000"}
    assert ops.patch("/api/fund/", big, format="json").status_code == 200
    flow = {"date": "2024-03-05", "amount": "-4.00"}
    answer = ops.post("/api/capital-flows/", flow, format="json")
    assert answer.status_code == 400 and "no unit" in answer.json()["amount"][0]
