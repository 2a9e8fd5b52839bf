"""Drawdown from the time-weighted NAV index, worked by hand on a fund that falls while
money leaves it: the redemption must not deepen the drawdown.

D0 = Mon Mar 11 … D3 = Thu Mar 14, 2024. Capital 1,000,000.00 on D0; MACRO buys 10 INDJ24
(BRL, ×1) at 100,000 on D0. A redemption of 545,000.00 at the start of D3.
    close      P&L        capital at the start   return     NAV            index I
    D0 100,000       0.00    1,000,000.00         0          1,000,000.00   1
    D1 110,000 100,000.00    1,000,000.00        +10%        1,100,000.00   1.1
    D2 104,500 −55,000.00    1,100,000.00         −5%        1,045,000.00   1.045
    D3  99,275 −52,250.00      500,000.00     −10.45%          447,750.00   0.9357975
The peak is D1 (I = 1.1). Drawdown on D2: 1 − 1.045 / 1.1 = 0.05; on D3:
1 − 0.9357975 / 1.1 = 0.149275. The raw NAV would say 1 − 447,750 / 1,100,000 = 0.592955,
counting the redemption as a loss.
"""

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from briefing import render
from briefing.services import morning_pack_generate
from portfolio import selectors as book_selectors
from portfolio import services as book_services
from portfolio.models import PortfolioSnapshot, Price
from risk import services
from risk.models import RiskAlert, RiskLimit
from tests.factories import PASSWORD
from tests.shown import shown_risk

D0, D1, D2, D3 = (dt.date(2024, 3, day) for day in (11, 12, 13, 14))
CLOSES = {D0: "100000", D1: "110000", D2: "104500", D3: "99275"}


@pytest.fixture
def falling(db: None, ibov: Any, macro: Any) -> None:
    Price.objects.bulk_create(
        Price(instrument=ibov, date=day, price=Decimal(close)) for day, close in CLOSES.items()
    )
    book_services.capital_flow_create(date=D0, amount=Decimal("1000000.00"), actor="ops")
    book_services.capital_flow_create(date=D3, amount=Decimal("-545000.00"), actor="ops")
    book_services.trades_book(
        requests=[book_services.TradeRequest("INDJ24", "MACRO", Decimal(10), Decimal(100000), D0)],
        actor="pm",
        source="api",
    )
    book_services.mark_to_market(as_of=D3, actor="ops")


def test_drawdown_by_hand_a_redemption_is_not_a_loss(falling):
    book_services.snapshots_build(start=D0, end=D3, actor="test")
    navs = list(PortfolioSnapshot.objects.values_list("nav", "daily_return"))
    assert navs == [
        (Decimal("1000000.00"), Decimal("0")),
        (Decimal("1100000.00"), Decimal("0.1")),
        (Decimal("1045000.00"), Decimal("-0.05")),
        (Decimal("447750.00"), Decimal("-0.1045")),
    ]
    history = book_selectors.drawdown_history()
    assert [(history[d].value, history[d].peak_date) for d in (D0, D1, D2, D3)] == [
        (Decimal("0.000000"), D0),
        (Decimal("0.000000"), D1),
        (Decimal("0.050000"), D1),
        (Decimal("0.149275"), D1),
    ]
    assert book_selectors.drawdown(D3) == history[D3]


def test_the_live_day_without_a_snapshot_takes_its_return_from_the_last_one(falling):
    """The timeline to D2 only: the live book of D3 (NAV 447,750.00) against D2's NAV and
    the redemption since: (447,750 − (1,045,000 − 545,000)) / 500,000 = −10.45%."""
    book_services.snapshots_build(start=D0, end=D2, actor="test")
    report = shown_risk(window=20)
    assert (report["as_of"], report["nav"]) == ("2024-03-14", "447750.00")
    assert report["drawdown"] == {
        "as_of": "2024-03-14",
        "value": "0.149275",
        "peak_date": "2024-03-12",
    }


def test_the_limit_the_snapshot_the_pack_and_the_admin_show_it(falling):
    RiskLimit.objects.create(name="Drawdown", metric="drawdown", limit=Decimal("0.10"))
    book_services.snapshots_build(start=D0, end=D3, actor="test")
    snapshot = services.risk_snapshot_take(date=D3, actor="eod", window=20)
    [row] = snapshot.limits
    assert (row["value"], row["utilization"], row["status"]) == ("0.149275", "1.492750", "breach")
    assert snapshot.drawdown == {
        "as_of": "2024-03-14",
        "value": "0.149275",
        "peak_date": "2024-03-12",
    }
    assert RiskAlert.objects.get().value == Decimal("0.149275")
    assert shown_risk(window=20)["drawdown"] == snapshot.drawdown

    pack = morning_pack_generate(date=dt.date(2024, 3, 15), actor="test")
    assert pack.sections["risk"]["drawdown"] == snapshot.drawdown
    assert "Drawdown 14.93% from the peak of 2024-03-12" in render.html(pack)

    admin = Client()
    admin.force_login(User.objects.create_superuser("boss", "boss@example.com", PASSWORD))
    page = admin.get("/admin/portfolio/portfoliosnapshot/").content.decode()
    assert "14.93% (peak 2024-03-12)" in page and "5.00% (peak 2024-03-12)" in page


def test_backfill_builds_nothing_before_the_inception_and_says_so(falling, api_client_for):
    with pytest.raises(CommandError, match="before the fund's inception 2024-03-11"):
        call_command(
            "backfill_snapshots", "--start", "2024-03-01", "--end", "2024-03-08", stdout=StringIO()
        )
    assert not PortfolioSnapshot.objects.exists()
    out = StringIO()
    call_command("backfill_snapshots", "--start", "2024-03-01", stdout=out)
    assert "The fund's inception is 2024-03-11 (its first capital flow)" in out.getvalue()
    # D0 … Friday Mar 15 (today): five days, none before the inception.
    assert list(PortfolioSnapshot.objects.values_list("date", flat=True)) == [
        D0,
        D1,
        D2,
        D3,
        dt.date(2024, 3, 15),
    ]
    itd = api_client_for("viewer").get("/api/attribution/", {"period": "itd"})
    assert itd.status_code == 200, itd.content
    # Σ P&L = 100,000 − 55,000 − 52,250 + (Mar 15: the last close is D3's, no move) = −7,250.
    assert (itd.json()["start"], itd.json()["total_pnl"]) == ("2024-03-11", "-7250.00")
