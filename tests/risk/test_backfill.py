"""`backfill_risk_snapshots`: the daily risk snapshots of a range from the timeline, so a
fund with history has its VaR backtest at once (the book of tests/fixtures/risk_book.py)."""

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from portfolio.models import PortfolioSnapshot
from risk.models import RiskSnapshot
from tests.conftest import TODAY
from tests.fixtures.risk_book import DAYS


def backfill(*args: str) -> str:
    out = StringIO()
    call_command("backfill_risk_snapshots", *args, stdout=out)
    return out.getvalue()


def test_every_business_day_from_the_inception(timeline: Any, api_client_for: Any) -> None:
    out = backfill("--start", "2024-01-02")
    assert "The fund's inception is 2024-02-16" in out
    assert "21 risk snapshots" in out and "2024-03-15 … 21/21 days" in out
    assert list(RiskSnapshot.objects.values_list("date", flat=True)) == DAYS
    # The snapshot of today, taken from the timeline, is the live book's risk.
    live = api_client_for("viewer").get("/api/risk/live/").json()
    assert RiskSnapshot.objects.get(date=TODAY).var_99 == Decimal(live["var"]["0.99"])
    # Twenty snapshots have their next business day's P&L: the backtest reads them.
    answer = api_client_for("viewer").get("/api/risk/backtest/")
    assert answer.status_code == 200 and answer.json()["observations"] == 20
    # Again: the same snapshots, replaced.
    before = list(RiskSnapshot.objects.values_list("date", "var_95", "var_99", "nav"))
    backfill("--start", "2024-03-01")
    assert list(RiskSnapshot.objects.values_list("date", "var_95", "var_99", "nav")) == before


def test_days_without_a_fund_snapshot_take_nothing_and_name_the_command(timeline: Any) -> None:
    PortfolioSnapshot.objects.filter(date__in=DAYS[3:5]).delete()
    with pytest.raises(CommandError) as error:
        backfill()
    assert "2 business day(s) from 2024-02-21 to 2024-02-22 without a fund snapshot" in str(
        error.value
    )
    assert "`manage.py backfill_snapshots --start 2024-02-21 --end 2024-02-22`" in str(error.value)
    assert not RiskSnapshot.objects.exists()
    call_command(
        "backfill_snapshots", "--start", "2024-02-21", "--end", "2024-02-22", stdout=StringIO()
    )
    assert "21 risk snapshots" in backfill()


def test_no_snapshot_or_a_reversed_range_is_an_error(book: Any) -> None:
    with pytest.raises(CommandError, match=r"run `manage\.py backfill_snapshots` first"):
        backfill()
    call_command("backfill_snapshots", stdout=StringIO())
    with pytest.raises(CommandError, match="start 2024-03-15 is after end 2024-03-14"):
        backfill("--start", "2024-03-15", "--end", "2024-03-14")
    assert not RiskSnapshot.objects.exists()
