"""The admin's fund's accounts and terms, on the fund of tests/fixtures/fees_fund.py (its
accounts worked out by hand there)."""

from decimal import Decimal as D

from django.contrib.auth.models import Group, User
from django.test import Client

from portfolio.models import AuditRecord, CapitalFlow, FundTerms, PortfolioSnapshot
from tests.factories import PASSWORD
from tests.fixtures.fees_fund import D1, D2, D4


def staff(group: str) -> Client:
    user = User.objects.create_user(f"{group}-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


def test_the_accounts_read_in_the_funds_words(fees_fund):
    page = staff("viewer").get("/admin/portfolio/portfoliosnapshot/").content.decode()
    assert "The fund&#x27;s accounts, day by day" in page
    for header in (
        "NAV (BRL)",
        "Quota",
        "Subscriptions − redemptions (BRL)",
        "Positions&#x27; P&amp;L (BRL)",
        "Carry of the cash (BRL)",
        "Management fee (BRL)",
        "Performance fee (BRL)",
        "P&amp;L net of fees (BRL)",
        "Return net of fees",
        "Performance provision (BRL)",
    ):
        assert header in page, header
    day = PortfolioSnapshot.objects.get(date=D4)
    row = page[page.index(f"/admin/portfolio/portfoliosnapshot/{day.pk}/change/") :]
    row = row[: row.index("</tr>")]
    # D4: NAV and quota at the close; the day's positions' P&L, carry, fees, the fund's
    # P&L 8,321.28 and its return 8,321.28 / 1,004,962.25 = 0.82802%; the provision.
    for cell in (
        "1,013,283.53",
        "1.01328353",
        "10,000.00",
        "401.98",
        "100.50",
        "1,980.20",
        "8,321.28",
        "0.8280%",
        "2,920.64",
    ):
        assert f'<span class="num">{cell}</span>' in row, cell
    # D3's performance fee is the provision given back: 940.44 − 1,959.99.
    assert '<span class="num">-1,019.55</span>' in page
    detail = staff("pm").get(f"/admin/portfolio/portfoliosnapshot/{day.pk}/change/")
    text = detail.content.decode()
    # The day's page: its capital (all of it cash), the CDI, the units, the hurdle.
    for label, value in (
        ("Capital at the start of the day (BRL)", "1,004,962.25"),
        ("Cash (BRL)", "1,004,962.25"),
        ("CDI", "0.0400%"),
        ("Units", "1,000,000.00000000"),
        # 1.0004⁴ = 1.0016009602560256 (SQLite keeps it as a float: 15 digits)
        ("Hurdle quota (unrounded)", "1.001600960256"),
    ):
        assert label in text and value in text, label


def test_a_change_of_the_terms_in_the_admin_rebuilds_the_accounts(fees_fund):
    """As PATCH /api/fund/ (tests/portfolio/test_fund_api.py works the figures out): the
    management fee doubled from D3 takes D4's NAV from 1,013,283.53 to 1,013,122.42."""
    ops = staff("ops")
    form = {
        "effective_from": "2024-03-04",
        "initial_quota": "1",
        "management_fee": "0.0504",
        "performance_fee": "0.2",
        "hurdle": "1",
        "payment_months": ["6", "12"],
        "cash_yield": "1",
        "financing_spread": "0",
    }
    answer = ops.post("/admin/portfolio/fundterms/add/", form)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    navs = dict(PortfolioSnapshot.objects.values_list("date", "nav"))
    assert (f"{navs[D2]}", f"{navs[D4]}") == ("1008640.10", "1013122.42")
    assert AuditRecord.objects.filter(action="fund_terms.change", actor="ops-user").exists()
    listed = ops.get("/admin/portfolio/fundterms/").content.decode()
    assert "5.04% a year" in listed and "2.52% a year" in listed
    assert "June, December" in listed

    # A wrong value is refused on the form, next to its field; nothing is written.
    wrong = ops.post("/admin/portfolio/fundterms/add/", {**form, "payment_months": ["13"]})
    assert wrong.status_code == 200
    assert "Select a valid choice. 13 is not one of the available choices." in (
        wrong.content.decode()
    )
    assert FundTerms.objects.count() == 2
    # No month ticked, or a Saturday: refused next to the field, the form kept as typed.
    for wrong, field_error in (
        ({**form, "payment_months": []}, "A list of months, 1 to 12"),
        ({**form, "effective_from": "2024-03-02"}, "2024-03-04"),  # the next business day
    ):
        page = ops.post("/admin/portfolio/fundterms/add/", wrong)
        assert page.status_code == 200 and field_error in page.content.decode()
        assert 'value="0.0504"' in page.content.decode()
    assert FundTerms.objects.count() == 2
    # The first change, changed in its turn: 5.04% from D1 too. D1: management
    # cents(1,000,000 × 0.0002) = 200.00; G = 1,000,000 + 400 − 200 = 1,000,200.00, under
    # the hurdle's 1,000,400: no provision; NAV 1,000,200.00 (was 1,000,300.00).
    first = FundTerms.objects.get(effective_from=D1)
    page = f"/admin/portfolio/fundterms/{first.pk}/change/"
    assert 'value="0.02520000"' in ops.get(page).content.decode()
    assert ops.post(page, {**form, "management_fee": "0.0504"}).status_code == 302
    assert f"{PortfolioSnapshot.objects.get(date=D1).nav}" == "1000200.00"
    # A viewer may read the terms but not add a change.
    assert staff("viewer").post("/admin/portfolio/fundterms/add/", form).status_code == 403


def test_a_new_change_starts_from_the_terms_in_force_and_a_flow_may_be_units(fees_fund):
    ops = staff("ops")
    form = ops.get("/admin/portfolio/fundterms/add/").content.decode()
    assert 'value="0.02520000"' in form  # the management fee in force, not 0
    assert 'value="0.20000000"' in form  # nor the performance fee
    # 1,000 units on D4 at D3's quota 1.00496225 (fees_fund): cents(1,004.96225) = 1,004.96.
    flow = {"date": "2024-03-05", "amount": "", "units": "1000", "note": "in units"}
    assert ops.post("/admin/portfolio/capitalflow/add/", flow).status_code == 302
    stored = CapitalFlow.objects.get(note="in units")
    assert (stored.amount, stored.units, stored.entered) == (D("1004.96"), D("1000"), "units")
