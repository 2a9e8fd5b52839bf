"""Every admin write goes through the owning app's service: the same rules as the API, and
an audit record. Each form is driven as a user would post it."""

from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from portfolio import services as book_services
from portfolio.models import (
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FxRate,
    Instrument,
    Price,
    Strategy,
)
from risk.models import RiskAlert, RiskLimit, StressScenario
from tests.conftest import TODAY
from tests.factories import PASSWORD

YESTERDAY = TODAY.replace(day=14)

INSTRUMENT_FORM = {
    "symbol": "INDJ24",
    "name": "INDJ24 instrument",
    "asset_class": "equity",
    "currency": "BRL",
    "quote_type": "price",
    "settlement": "margined",
    "pricing": "linear",
    "maturity": "",
    "root": "",
    "multiplier": "1",
    "dv01": "0",
    "lot_size": "1",
    "is_active": "on",
}


@pytest.fixture
def admin(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", PASSWORD))
    return client


def audits(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action, actor="boss").order_by("id"))


def refused(page: Any, message: str) -> None:
    """The form shown again with the rule's message (nothing saved)."""
    assert page.status_code == 200, page.status_code
    assert message in page.content.decode(), message


def test_a_traded_instrument_keeps_its_multiplier(admin, ibov, macro):
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "MACRO", D("2"), D("100"), TODAY)],
        actor="t",
        source="api",
    )
    url = f"/admin/portfolio/instrument/{ibov.pk}/change/"
    page = admin.post(url, {**INSTRUMENT_FORM, "multiplier": "2"})
    refused(page, "Cannot change multiplier: INDJ24 has trades.")
    assert Instrument.objects.get(pk=ibov.pk).multiplier == D("1")
    assert audits("instrument.update") == []

    renamed = admin.post(url, {**INSTRUMENT_FORM, "name": "Ibovespa mini"})
    assert renamed.status_code == 302
    (record,) = audits("instrument.update")
    assert (record.before["name"], record.after["name"]) == ("INDJ24 instrument", "Ibovespa mini")
    assert record.object_id == str(ibov.pk)


def test_the_service_refuses_what_the_form_let_through(admin, ibov, macro, monkeypatch):
    """The first trade booked after the form was checked: the service, under the row's
    lock, refuses the change; the admin says why and writes nothing."""
    from portfolio.admin import InstrumentAdmin

    monkeypatch.setattr(InstrumentAdmin, "check_service", None)  # the form saw no trades
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "MACRO", D("2"), D("100"), TODAY)],
        actor="t",
        source="api",
    )
    url = f"/admin/portfolio/instrument/{ibov.pk}/change/"
    page = admin.post(url, {**INSTRUMENT_FORM, "multiplier": "2"}, follow=True)
    assert "Cannot change multiplier: INDJ24 has trades." in page.content.decode()
    assert Instrument.objects.get(pk=ibov.pk).multiplier == D("1")
    assert audits("instrument.update") == []


def test_instruments_and_strategies_added_and_changed_are_audited(admin):
    added = admin.post(
        "/admin/portfolio/instrument/add/",
        {**INSTRUMENT_FORM, "symbol": "DI1F27", "quote_type": "yield", "dv01": "0"},
    )
    refused(added, "A yield-quoted instrument needs a positive dv01.")
    di1 = {**INSTRUMENT_FORM, "symbol": "DI1F27", "quote_type": "yield", "pricing": "di1"}
    refused(admin.post("/admin/portfolio/instrument/add/", di1), "A DI1 needs its maturity")
    assert not Instrument.objects.exists()
    assert (
        admin.post(
            "/admin/portfolio/instrument/add/", {**INSTRUMENT_FORM, "symbol": "WDOJ24"}
        ).status_code
        == 302
    )
    assert [r.after["symbol"] for r in audits("instrument.create")] == ["WDOJ24"]

    form = {"code": "MACRO", "name": "Macro", "description": "", "risk_budget": "1000"}
    assert admin.post("/admin/portfolio/strategy/add/", form | {"min_trade_fraction": "0.1"})
    strategy = Strategy.objects.get(code="MACRO")
    changed = admin.post(
        f"/admin/portfolio/strategy/{strategy.pk}/change/",
        form | {"risk_budget": "2500", "min_trade_fraction": "0.1"},
    )
    assert changed.status_code == 302
    assert [r.after["code"] for r in audits("strategy.create")] == ["MACRO"]
    (update,) = audits("strategy.update")
    assert (update.before["risk_budget"], update.after["risk_budget"]) == ("1000.00", "2500.00")


def test_a_price_outside_the_band_needs_confirm(admin, ibov):
    book_services.prices_upsert(
        rows=[{"instrument": "INDJ24", "date": YESTERDAY, "price": D("100")}], actor="t"
    )
    form = {"instrument": ibov.pk, "date": TODAY.isoformat(), "price": "200"}
    refused(admin.post("/admin/portfolio/price/add/", form), "confirm it if it is right")
    assert not Price.objects.filter(date=TODAY).exists()

    assert admin.post("/admin/portfolio/price/add/", form | {"confirm": "on"}).status_code == 302
    price = Price.objects.get(instrument=ibov, date=TODAY)
    assert price.price == D("200")
    (record,) = audits("prices.upsert")
    assert record.after == {"created": 1, "updated": 0, "instruments": ["INDJ24"]}

    # A change is to the close only (the instrument and date are the row's key), under
    # the same band: back within 25% of the previous close needs no confirm.
    fixed = admin.post(f"/admin/portfolio/price/{price.pk}/change/", {"price": "120"})
    assert fixed.status_code == 302
    assert Price.objects.get(pk=price.pk).price == D("120")
    assert audits("prices.upsert")[-1].after["updated"] == 1
    # Nothing is deleted from the admin: the list offers no delete.
    assert admin.get(f"/admin/portfolio/price/{price.pk}/delete/").status_code == 403


def test_benchmark_rates_follow_the_api_rules(admin):
    form = {"benchmark": "CDI", "date": TODAY.isoformat(), "rate": "13.65"}
    refused(admin.post("/admin/portfolio/benchmarkrate/add/", form), "A daily rate as a fraction")
    added = admin.post("/admin/portfolio/benchmarkrate/add/", form | {"rate": "0.000415"})
    assert added.status_code == 302
    assert BenchmarkRate.objects.get(date=TODAY).rate == D("0.000415")
    assert audits("benchmark_rates.upsert")[0].after["benchmarks"] == ["CDI"]
    listed = admin.get("/admin/portfolio/benchmarkrate/").content.decode()
    # 0.000415 a day is 0.0415%; (1.000415)^252 = exp(252 × 0.00041491) = 1.11022: 11.02%
    assert "0.0415%" in listed and "11.02%" in listed

    # A change corrects the rate (the benchmark and date are the row's key), by the rules.
    rate = BenchmarkRate.objects.get(date=TODAY)
    change = f"/admin/portfolio/benchmarkrate/{rate.pk}/change/"
    refused(admin.post(change, {"rate": "0.5"}), "A daily rate as a fraction")
    assert admin.post(change, {"rate": "0.0004"}).status_code == 302
    assert BenchmarkRate.objects.get(pk=rate.pk).rate == D("0.0004")
    assert audits("benchmark_rates.upsert")[-1].after == {
        "created": 0,
        "updated": 1,
        "benchmarks": ["CDI"],
    }


def test_fx_rates_and_flows_follow_the_api_rules(admin):
    form = {"currency": "BRL", "date": TODAY.isoformat(), "rate": "1"}
    refused(admin.post("/admin/portfolio/fxrate/add/", form), "is the base currency")
    added = admin.post("/admin/portfolio/fxrate/add/", form | {"currency": "USD", "rate": "5.1"})
    assert added.status_code == 302
    assert FxRate.objects.get(currency="USD", date=TODAY).rate == D("5.1")
    assert audits("fx_rates.upsert")[0].after["currencies"] == ["USD"]
    rate = FxRate.objects.get(currency="USD", date=TODAY)
    change = f"/admin/portfolio/fxrate/{rate.pk}/change/"
    refused(admin.post(change, {"rate": "0"}), "Above 0 and at most")
    assert admin.post(change, {"rate": "5.2"}).status_code == 302
    assert FxRate.objects.get(pk=rate.pk).rate == D("5.2")
    assert audits("fx_rates.upsert")[-1].after["updated"] == 1

    flow = {"date": TODAY.isoformat(), "note": "Launch"}
    refused(
        admin.post("/admin/portfolio/capitalflow/add/", flow | {"amount": "0"}),
        "A capital flow cannot be zero.",
    )
    assert (
        admin.post("/admin/portfolio/capitalflow/add/", flow | {"amount": "1000000"}).status_code
        == 302
    )
    (created,) = audits("capital_flow.create")
    assert created.after["amount"] == "1000000.00"
    saved = CapitalFlow.objects.get()
    assert admin.get(f"/admin/portfolio/capitalflow/{saved.pk}/delete/").status_code == 403


def test_limits_through_the_admin_keep_their_rules_and_audit(admin, macro):
    form = {
        "name": "Macro gross",
        "metric": "gross_leverage",
        "scope_type": "strategy",
        "scope_value": "NOPE",
        "limit": "3",
        "warning_fraction": "0.8",
        "is_active": "on",
    }
    refused(admin.post("/admin/risk/risklimit/add/", form), "Unknown strategy")
    assert (
        admin.post("/admin/risk/risklimit/add/", form | {"scope_value": "MACRO"}).status_code == 302
    )
    kept = RiskLimit.objects.get(name="Macro gross")
    assert [r.object_id for r in audits("risklimit.create")] == [str(kept.pk)]
    changed = admin.post(
        f"/admin/risk/risklimit/{kept.pk}/change/", form | {"scope_value": "MACRO", "limit": "4"}
    )
    assert changed.status_code == 302
    (update,) = audits("risklimit.update")
    assert (update.before["limit"], update.after["limit"]) == ("3.000000", "4.000000")

    # "Delete selected": each limit through limit_delete, audited; one with alerts on
    # record is refused whole (its alerts protect it), and stays.
    spares = [
        book_services.audited_create(RiskLimit, actor="t", name=name, metric="var_95", limit=D(1))
        for name in ("Spare 1", "Spare 2")
    ]
    RiskAlert.objects.create(limit=kept, date=TODAY, opened_at="2024-03-15T18:00Z")

    def delete_selected(*limits: RiskLimit) -> Any:
        selected = [limit.pk for limit in limits]
        return admin.post(
            "/admin/risk/risklimit/",
            {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
            follow=True,
        )

    assert "Cannot delete" in delete_selected(kept, *spares).content.decode()
    assert RiskLimit.objects.count() == 3
    delete_selected(*spares)
    assert list(RiskLimit.objects.values_list("name", flat=True)) == ["Macro gross"]
    assert sorted(r.object_id for r in audits("risklimit.delete")) == sorted(
        str(limit.pk) for limit in spares
    )


def test_scenarios_through_the_admin_check_their_shocks(admin, ibov):
    form = {"name": "Equity down", "description": "", "historical_start": "", "historical_end": ""}
    # The shocks as the form's rows post them (risk/admin_stress.py's ShocksWidget).
    bad = {"shocks-0-target_type": "instrument", "shocks-0-target": "NOPE"}
    bad["shocks-0-shock"] = "-0.1"
    refused(admin.post("/admin/risk/stressscenario/add/", form | bad), "Unknown instrument")
    assert not StressScenario.objects.exists()
    good = bad | {"shocks-0-target": "INDJ24"}
    assert admin.post("/admin/risk/stressscenario/add/", form | good).status_code == 302
    scenario = StressScenario.objects.get()
    assert scenario.created_by == "boss"
    # Stored as the API stores it: the move to 8 places.
    shock = {"target_type": "instrument", "target": "INDJ24", "shock": "-0.10000000"}
    assert scenario.shocks == [shock]
    assert [r.object_id for r in audits("stressscenario.create")] == [str(scenario.pk)]
    deleted = admin.post(f"/admin/risk/stressscenario/{scenario.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and not StressScenario.objects.exists()
    assert [r.object_id for r in audits("stressscenario.delete")] == [str(scenario.pk)]
