"""A list a person scans, in a real browser (headless Chromium through Playwright, as in
tests/trading/test_browser.py): the trades open newest first, the instrument drop-down
filters them, and both exports download exactly the rows it selects."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser import log_in, needs_chromium, serve
from tests.conftest import TODAY
from tests.fixtures.trading_fund import DAYS
from tests.test_admin_lists import TRADE_HEADER, fund  # noqa: F401  (the fixture)

pytestmark = needs_chromium


@pytest.fixture
def lists(fund, live_server, settings) -> str:  # noqa: F811
    """The fund of tests/test_admin_lists.py, served, with a viewer who may read it."""
    return serve(live_server, settings, "viewer")


def downloaded(page: Any, label: str) -> tuple[str, bytes]:
    with page.expect_download() as download:
        page.click(f"a.pms-export:text-is('{label}')")
    path = download.value.path()
    return download.value.suggested_filename, Path(path).read_bytes()


def test_the_trades_open_newest_first_filter_by_instrument_and_export(lists, page):
    log_in(page, lists, "viewer", then="/admin/portfolio/trade/", wait_for="#result_list")
    dates = page.locator("#result_list td.field-trade_date, #result_list th.field-trade_date")
    newest_first = [day.isoformat() for day in (TODAY, DAYS[-3], DAYS[-5], DAYS[-10])]
    assert dates.all_inner_texts() == newest_first

    page.select_option("select[name=instrument__id__exact]", label="ESH4")
    page.wait_for_url("**instrument__id__exact=*")
    assert page.locator("#result_list tbody tr").count() == 2

    name, body = downloaded(page, "Export CSV")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert name == f"trades-{TODAY.isoformat()}.csv"
    assert rows[0] == TRADE_HEADER and len(rows) == 1 + 2
    assert [row[1] for row in rows[1:]] == ["ESH4", "ESH4"]
    assert [row[3] for row in rows[1:]] == ["-1", "2"]  # newest (the sale) first

    name, body = downloaded(page, "Export Excel")
    sheet = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
    assert name == f"trades-{TODAY.isoformat()}.xlsx"
    assert list(sheet[0]) == TRADE_HEADER and len(sheet) == 1 + 2
    assert [row[3] for row in sheet[1:]] == [-1, 2]
