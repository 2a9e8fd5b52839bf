"""The morning pack: each section's figures (worked out in tests/fixtures/attribution_fund.py),
the page, the email, the API and the command."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_q.models import Task

from briefing import render, selectors, services
from briefing.models import MorningPack
from ops import pipelines
from portfolio import services as book_services
from portfolio.models import BenchmarkRate, PortfolioSnapshot, PositionSnapshot, Price
from risk.models import RiskAlert, RiskLimit
from risk.selectors import LimitValue
from risk.services import alerts_update
from tests.factories import PASSWORD
from tests.fixtures.briefing_pack import D3, PACK_DATE


def generate(**kwargs):
    return services.morning_pack_generate(date=PACK_DATE, actor="test", **kwargs)


def test_each_section_holds_the_figures(briefed):
    sections = generate().sections
    headline = sections["headline"]
    assert (headline["date"], headline["data_date"]) == ("2024-03-18", "2024-03-15")
    assert headline["nav"] == "11065200.00"
    assert (headline["day_pnl"], headline["day_return"]) == ("10200.00", "0.000922659430122")
    # The history starts on Mar 12: MTD = YTD = 35,500 + 19,500 + 10,200, and
    # 1.00355 × 1.0017670 × 1.0009227 − 1 = 0.0062509
    assert headline["mtd_pnl"] == headline["ytd_pnl"] == "65200.00"
    assert headline["mtd_return"].startswith("0.006250")
    # Over the same four days (Mar 12 to 15) the CDI compounds to 1.0004⁴ − 1:
    # 1.00080016² − 1 = 0.0016009602560256
    ytd = headline["vs_benchmark"]["ytd"]
    assert headline["vs_benchmark"]["benchmark"] == "CDI"
    assert ytd["benchmark_return"] == "0.001600960256026"
    assert abs(
        Decimal(ytd["excess_return"]) - (Decimal(ytd["return"]) - Decimal("0.0016009602560256"))
    ) < Decimal("1e-15")
    assert headline["vs_benchmark"]["mtd"] == ytd  # the history starts in March
    assert [row[0] for row in headline["nav_curve"]] == [
        "2024-03-12",
        "2024-03-13",
        "2024-03-14",
        "2024-03-15",
    ]

    assert sections["pnl_by_strategy"] == [
        {"strategy": "MACRO", "day": "-4800.00", "mtd": "45200.00", "ytd": "45200.00"},
        {"strategy": "RV", "day": "15000.00", "mtd": "20000.00", "ytd": "20000.00"},
    ]

    portfolio = sections["portfolio"]
    # ESH4 1 × 5080 × 50 × 5.05 = 1,282,700; INDJ24 10 × 102,000 = 1,020,000
    assert portfolio["positions"] == 2
    assert portfolio["exposures"]["gross"] == "2302700.00"
    assert portfolio["exposures"]["short"] == "0"
    assert portfolio["exposures"]["leverage"] == "0.208103"  # 2,302,700 / 11,065,200
    assert [(p["instrument"], p["daily_pnl"]) for p in portfolio["top_winners"]] == [
        ("INDJ24", "15000.00")
    ]
    assert [(p["instrument"], p["daily_pnl"]) for p in portfolio["top_losers"]] == [
        ("ESH4", "-4800.00")
    ]

    # Key instruments: the largest exposures. 1d: 5080 / 5100 − 1; 102,000 / 100,500 − 1.
    market = {row["instrument"]: row for row in sections["market_overview"]["instruments"]}
    assert list(market) == ["ESH4", "INDJ24"]
    assert (market["ESH4"]["close"], market["ESH4"]["move_1d"]) == ("5080", "-0.003922")
    assert market["INDJ24"]["move_1d"] == "0.014925"
    assert market["ESH4"]["move_1w"] is None  # no close a week before the history starts

    risk = sections["risk"]
    assert (risk["source"], risk["var"]["0.95"], risk["expected_shortfall"]["0.99"]) == (
        "snapshot",
        "41000.00",
        "66000.00",
    )
    assert [(a["limit"], a["status"]) for a in risk["alerts"]] == [("Gross", "open")]
    # Four days of prices decompose no VaR, and no snapshot has its next day's P&L yet.
    assert risk["drivers"] is None and risk["backtest"] is None

    [proposal] = sections["proposals"]
    assert (proposal["direction"], proposal["quantity"], proposal["new_breaches"]) == (
        "sell",
        "-3.000000",
        ["Gross"],
    )

    attribution = sections["attribution"]
    assert (attribution["start"], attribution["total_pnl"]) == ("2024-03-12", "65200.00")
    assert [(r["key"], r["pnl"]) for r in attribution["by_asset_class"]] == [("equity", "65200.00")]
    assert sections["data_quality"] == {
        "stale_prices": [],
        "missing_fx": [],
        "failed_runs": [],
        "nav_breaks": [],  # no official NAV: nothing to break with
        "issues": [
            "VaR decomposition unavailable: 3 daily returns of history to 2024-03-15; VaR "
            "needs at least 20 (PMS_RISK_MIN_WINDOW).",
            "VaR backtest unavailable: No risk snapshot with the next business day's P&L in "
            "that period: take them with `manage.py backfill_risk_snapshots --start "
            "2023-03-14 --end 2024-03-14`.",
        ],
    }


def test_the_risk_section_has_one_row_per_breach(briefed):
    """Gross (limit 0.2× NAV) in breach Mar 13–15: 0.22 (1.10), 0.26 (1.30) and 0.208104
    (1.04052): one alert of 3 days, utilization 104% on its last day, worst 130%."""
    RiskAlert.objects.all().delete()
    gross = RiskLimit.objects.get(name="Gross")
    days = (dt.date(2024, 3, 13), dt.date(2024, 3, 14), D3)
    for day, value in zip(days, ("0.22", "0.26", "0.208104"), strict=True):
        alerts_update(as_of=day, values=[LimitValue(gross, Decimal(value))])
    pack = generate()
    [alert] = pack.sections["risk"]["alerts"]
    assert (alert["limit"], alert["first_day"], alert["last_day"], alert["days"]) == (
        "Gross",
        "2024-03-13",
        "2024-03-15",
        3,
    )
    assert (alert["utilization"], alert["worst_utilization"]) == ("1.040520", "1.300000")
    page = render.html(pack)
    assert (
        "<tr><td>Gross</td><td>2024-03-13 – 2024-03-15</td><td>3</td>"
        '<td class="text note">open</td><td>104%</td><td>130%</td></tr>'
    ) in page


def test_the_failed_runs_are_read_through_the_reader_ops_registers(briefed, monkeypatch):
    """briefing imports nothing of ops: ops registers its reader when it starts."""
    assert selectors._failed_runs is pipelines.failed_runs
    monkeypatch.setattr(selectors, "_failed_runs", None)
    with pytest.raises(ImproperlyConfigured, match="the ops app registers it"):
        generate()


def test_data_quality_reports_what_is_wrong(briefed):
    Price.objects.filter(instrument__symbol="INDJ24", date=dt.date(2024, 3, 15)).delete()
    Task.objects.create(
        id="a" * 32,
        name="eod-2024-03-15",
        func="pipelines.run",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
        result="Step snapshots failed",
    )
    quality = generate().sections["data_quality"]
    assert quality["failed_runs"][0]["name"] == "eod-2024-03-15"
    assert "snapshots failed" in quality["failed_runs"][0]["error"]
    assert quality["stale_prices"] == []  # the snapshots were built with the close
    book_services.snapshots_build(start=D3, end=D3, actor="test")  # now without it
    assert generate().sections["data_quality"]["stale_prices"] == ["INDJ24"]
    PortfolioSnapshot.objects.filter(date=D3).delete()
    PositionSnapshot.objects.filter(date=D3).delete()
    sections = generate().sections
    assert "No snapshot of 2024-03-15" in sections["data_quality"]["issues"][0]
    assert sections["headline"]["nav"] is None and sections["attribution"] is None


def test_regenerating_replaces(briefed):
    first = generate()
    second = generate()
    assert MorningPack.objects.count() == 1
    assert second.pk == first.pk and second.generated_at > first.generated_at


def test_the_page_has_the_figures_and_the_charts(briefed):
    page = render.html(generate())
    assert "11,065,200" in page and "+0.09%" in page and "+0.63%" in page  # NAV, day, MTD
    assert page.count("<svg") == 3  # NAV curve, P&L by strategy, limit utilization
    assert "<polyline" in page and "limit</text>" in page
    assert "Limits in breach: Gross" in page and "sell 3 ESH4" in page
    # YTD over the CDI: 0.62509% − 0.16010% = +0.46%, the CDI's +0.16%
    assert "YTD vs CDI" in page and "+0.46%" in page and "CDI +0.16%" in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_the_email_has_both_parts(briefed, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PMS_MORNING_PACK_RECIPIENTS = ["pm@fund.example", "risk@fund.example"]
    with django_capture_on_commit_callbacks(execute=True):
        generate(send=True)
    [message] = mail.outbox
    assert message.to == ["pm@fund.example", "risk@fund.example"]
    assert message.subject.startswith("PMS morning pack 2024-03-18: NAV 11,065,200")
    assert "NAV 11,065,200" in message.body and "<" not in message.body
    [(html, kind)] = message.alternatives
    # Its charts are PNG images inline (tests/briefing/test_pack_email.py): no SVG.
    assert kind == "text/html" and "<svg" not in html and 'src="cid:' in html
    assert MorningPack.objects.get().sent_to == "pm@fund.example, risk@fund.example"


def test_the_command_says_whom_it_sent_the_pack_to(briefed, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PMS_MORNING_PACK_RECIPIENTS = ["pm@fund.example", "risk@fund.example"]
    out = StringIO()
    call_command("morning_pack", "--date", "2024-03-18", "--send", stdout=out)
    assert len(mail.outbox) == 1
    # The NAV of the pack above, with its separators; the addresses the email went to.
    assert "NAV 11,065,200.00" in out.getvalue()
    assert "sent to pm@fund.example, risk@fund.example" in out.getvalue()


def test_sending_without_recipients_is_refused_and_stores_nothing(briefed, settings):
    settings.PMS_MORNING_PACK_RECIPIENTS = []
    with pytest.raises(CommandError, match="PMS_MORNING_PACK_RECIPIENTS"):
        call_command("morning_pack", "--date", "2024-03-18", "--send")
    assert not MorningPack.objects.exists()
    out = StringIO()
    call_command("morning_pack", "--date", "2024-03-18", stdout=out)
    assert "Morning pack 2024-03-18 (close of 2024-03-15)" in out.getvalue()


def test_api(briefed, api_client_for):
    viewer = api_client_for("viewer")
    assert viewer.get("/api/morning-pack/latest/").status_code == 404
    assert viewer.get("/api/morning-pack/2024-03-18/").status_code == 404
    assert viewer.get("/api/morning-pack/2024-03-18/html/").status_code == 404
    assert viewer.post("/api/morning-pack/generate/", {}).status_code == 403
    ops = api_client_for("ops")
    for body in ({"date": "2024-03-16"}, {"date": "2024-03-20"}, {"when": "now"}):
        answer = ops.post("/api/morning-pack/generate/", body, format="json")
        assert answer.status_code == 400, body
    assert not MorningPack.objects.exists()
    # Without a date: today (a Friday, a business day), from Thursday's close.
    created = ops.post("/api/morning-pack/generate/", {}, format="json")
    assert created.status_code == 201 and created.data["date"] == "2024-03-15"
    created = ops.post("/api/morning-pack/generate/", {"date": "2024-03-18"}, format="json")
    assert created.status_code == 201
    latest = viewer.get("/api/morning-pack/latest/").json()
    assert (latest["date"], latest["cached"], latest["cache_age_seconds"]) == (
        "2024-03-18",
        False,
        None,
    )
    assert set(latest["sections"]) == {
        "headline",
        "market_overview",
        "portfolio",
        "pnl_by_strategy",
        "risk",
        "proposals",
        "attribution",
        "data_quality",
    }
    assert viewer.get("/api/morning-pack/2024-03-15/").json()["data_date"] == "2024-03-14"
    page = viewer.get("/api/morning-pack/2024-03-18/html/")
    assert page["Content-Type"].startswith("text/html") and b"<svg" in page.content
    # Not a date: no such page (404, JSON), nor for a date that cannot exist.
    for path in ("18-03-2024", "2024-13-45", "0001-01-01"):
        answer = viewer.get(f"/api/morning-pack/{path}/")
        assert answer.status_code == 404 and "detail" in answer.json(), path


def test_admin_links_each_pack_to_its_page(briefed):
    pack = generate()
    client = Client()
    client.force_login(User.objects.create_superuser("pm-admin", "p@example.com", PASSWORD))
    listing = client.get("/admin/briefing/morningpack/").content.decode()
    assert f"/admin/briefing/morningpack/{pack.pk}/page/" in listing
    page = client.get(f"/admin/briefing/morningpack/{pack.pk}/page/")
    assert page.status_code == 200 and b"Morning pack" in page.content


def test_a_cdi_not_loaded_for_the_data_date_is_reported(briefed):
    BenchmarkRate.objects.filter(date=D3).delete()
    sections = generate().sections
    # Mar 14's rate is carried to Mar 15: the same 0.04%, so the same figures.
    assert sections["headline"]["vs_benchmark"]["ytd"]["benchmark_return"] == "0.001600960256026"
    assert (
        "The CDI has no rate for 1 of the YTD days (an earlier rate is carried): load them "
        "with `manage.py import_benchmark_rates FILE`." in sections["data_quality"]["issues"]
    )
