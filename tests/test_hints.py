"""Every command an error message or verify_system suggests runs as written, and fixes
what it was suggested for."""

import datetime as dt
import re
import shlex
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from attribution import selectors as attribution
from core.errors import Conflict
from ops import health, verification
from portfolio import services as book_services
from portfolio.models import PortfolioSnapshot
from risk import services as risk_services
from risk.models import RiskSnapshot
from tests.conftest import TODAY
from tests.fixtures.fees_fund import D2, D3
from tests.fixtures.risk_book import DAYS

HINT = re.compile(r"`manage\.py ([^`]+)`")


def run_hint(message: str) -> str:
    """Run the one `manage.py …` command `message` names, as written; answer it."""
    [command] = HINT.findall(message)
    call_command(*shlex.split(command), stdout=StringIO())
    return command


@pytest.fixture
def fund(book: Any, settings: Any) -> Any:
    settings.PMS_RISK_WINDOW = 20
    settings.PMS_PIPELINE_RETRIES = 0
    return book


def test_the_backfill_hints_of_a_period_work(fund):
    with pytest.raises(ValidationError) as error:
        attribution.period_resolve("mtd")
    assert run_hint(error.value.messages[0]) == "backfill_snapshots"
    assert attribution.period_resolve("mtd").end == TODAY
    PortfolioSnapshot.objects.filter(date__in=DAYS[5:8]).delete()
    with pytest.raises(ValidationError) as error:
        attribution.period_resolve("itd")
    assert run_hint(error.value.messages[0]) == (
        "backfill_snapshots --start 2024-02-23 --end 2024-02-27"
    )
    assert attribution.period_resolve("itd").start == DAYS[0]


def test_the_hint_of_a_snapshot_without_its_timeline_works(fund):
    with pytest.raises(ValidationError) as error:
        risk_services.risk_snapshot_take(date=DAYS[-2], actor="risk")
    run_hint(error.value.messages[0])
    assert risk_services.risk_snapshot_take(date=DAYS[-2], actor="risk").date == DAYS[-2]


def test_the_hint_of_marking_backwards_works(fund):
    with pytest.raises(Conflict) as error:
        book_services.mark_to_market(as_of=DAYS[-3], actor="ops")
    assert run_hint(str(error.value)) == "run_pipeline eod --date 2024-03-13"
    assert RiskSnapshot.objects.filter(date=DAYS[-3]).exists()


def test_the_hint_of_a_late_pipeline_works(fund, settings, tmp_path):
    """Monday evening, the end of day has not run: verify_system says which command runs
    it; once run, the check passes."""
    settings.PMS_BACKUP_DIR = tmp_path
    with time_machine.travel(dt.datetime(2024, 3, 18, 23, 0, tzinfo=dt.UTC), tick=False):
        call_command("setup_schedules", stdout=StringIO())
        health.heartbeat()
        status, detail = verification.pipeline_runs()
        assert status == "fail"
        assert "eod has not succeeded for 2024-03-18" in detail
        commands = HINT.findall(detail)
        assert commands == [
            "run_pipeline eod --date 2024-03-18",
            "run_pipeline preopen --date 2024-03-18",
        ]
        for command in commands:
            call_command(*shlex.split(command), stdout=StringIO())
        assert verification.pipeline_runs() == ("ok", "the latest runs succeeded, none late")


def test_the_hint_of_snapshots_stored_before_the_accounts_works(fees_fund):
    """Two days of tests/fixtures/fees_fund.py as they were stored before the fund had
    accounts (a NAV, no units): verify_system warns with the command that rebuilds them;
    run, they have their accounts again (D3: NAV 1,004,962.25, 1,000,000 units, worked out
    there) and the check passes."""
    PortfolioSnapshot.objects.filter(date__in=[D2, D3]).update(units=0, quota=0, management_fee=0)
    status, detail = verification.fund_accounts()
    assert status == "warn"
    assert detail.startswith("2 snapshot(s) from 2024-03-01 to 2024-03-04 were stored before")
    assert run_hint(detail) == "backfill_snapshots --start 2024-03-01 --end 2024-03-04"
    d3 = PortfolioSnapshot.objects.get(date=D3)
    assert (f"{d3.nav}", f"{d3.units}", f"{d3.management_fee}") == (
        "1004962.25",
        "1000000.00000000",
        "100.86",
    )
    status, detail = verification.fund_accounts()
    assert status == "ok"
    assert detail == (
        "every snapshot has its accounts; 2024-03-05: NAV 1,013,283.53, quota 1.01328353, "
        "units 1,000,000.00000000"
    )
