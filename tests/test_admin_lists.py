"""The lists a person scans (trades, prices, FX, proposals, alerts, runs, audit): newest
first, filtered by instrument, strategy and date, and exported as CSV and Excel with
exactly the rows the filters select, all pages, in a bounded number of queries."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from ops.models import PipelineRun
from portfolio import services
from portfolio.models import AuditRecord, FxRate, Instrument, Price, Strategy, Trade
from risk.models import RiskAlert, RiskLimit
from tests.conftest import TODAY
from tests.fixtures.trading_fund import DAYS, HISTORY, signal
from trading import services as trading

TRADES = "/admin/portfolio/trade/"
BASE = settings.PMS_BASE_CURRENCY
PRICES = "/admin/portfolio/price/"
LISTS = {  # each list, and the date its rows are ordered by
    TRADES: "trade_date",
    PRICES: "date",
    "/admin/portfolio/fxrate/": "date",
    "/admin/trading/tradeproposal/": "date",
    "/admin/risk/riskalert/": "date",
    "/admin/ops/pipelinerun/": "business_date",
    "/admin/portfolio/auditrecord/": "at",
}
HYPERLINK = '=HYPERLINK("http://example.com","click")'


def book(symbol: str, strategy: str, quantity: str, price: str, day: dt.date, **more: Any) -> None:
    request = services.TradeRequest(
        symbol, strategy, Decimal(quantity), Decimal(price), day, **more
    )
    services.trades_book(requests=[request], actor="pm", source="admin")


@pytest.fixture
def fund(trading_fund) -> dict[str, Any]:
    """The trading fund's 63 days of closes of ESH4, INDJ24 and DI1F27 (189 prices, more
    than a page of 100) and its USD rates, and four trades:
        DAYS[-10]  ESH4   MACRO   +2 at 5,000, fees 12.34, a note that is a formula
                   (k = 51, an odd day: X(USD) 5.05)
        DAYS[-5]   INDJ24 RV      +5 at 100,000 (k = 56, that day's close)
        DAYS[-3]   ESH4   RV      −1 at 5,000
        TODAY      DI1F27 MACRO −100 at 10.50 (the fixture's)
    two proposals of TODAY, two alerts (one on a MACRO limit) and two pipeline runs."""
    book("ESH4", "MACRO", "2", "5000", DAYS[-10], fees=Decimal("12.34"), note=HYPERLINK)
    book("INDJ24", "RV", "5", "100000", DAYS[-5])
    book("ESH4", "RV", "-1", "5000", DAYS[-3])
    signal("ESH4", "MACRO", "0.5")
    signal("INDJ24", "RV", "0.5")
    trading.proposal_generate(date=TODAY, actor="pm")
    on_macro = RiskLimit.objects.create(
        name="MACRO VaR",
        metric="var_95",
        limit=Decimal("1"),
        scope_type="strategy",
        scope_value="MACRO",
    )
    fund_var = RiskLimit.objects.create(name="Fund VaR", metric="var_95", limit=Decimal("1"))
    RiskAlert.objects.create(limit=on_macro, date=DAYS[-2], value=Decimal(2), utilization=2)
    RiskAlert.objects.create(limit=fund_var, date=TODAY, value=Decimal(3), utilization=3)
    for day in (DAYS[-2], TODAY):
        PipelineRun.objects.create(
            pipeline="eod", business_date=day, trigger="schedule", requested_by="test"
        )
    return {
        "ids": {i.symbol: i.pk for i in Instrument.objects.all()}
        | {s.code: s.pk for s in Strategy.objects.all()}
    }


def person(group: str | None) -> Client:
    user = User.objects.create_user(f"staff-{group}", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


def shown(client: Client, url: str, query: dict[str, Any] | None = None) -> Any:
    """The rows a list shows (its first page) and how many its filters select."""
    answer = client.get(url, query or {})
    assert answer.status_code == 200, answer
    changelist = answer.context["cl"]
    return list(changelist.result_list), changelist.result_count


def csv_rows(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(answer: Any) -> list[tuple[Any, ...]]:
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    return list(sheet.iter_rows(values_only=True))


def test_every_list_opens_newest_first_and_exports_all_its_rows(fund):
    viewer = person("viewer")
    for url, field in LISTS.items():
        rows, count = shown(viewer, url)
        keys = [(getattr(row, field), row.pk) for row in rows]
        assert len(keys) > 1, url
        assert keys == sorted(keys, reverse=True), url  # by date, then id, descending
        exported = csv_rows(viewer.get(f"{url}export.csv"))
        assert len(exported) == count + 1, url  # a header, and every row (all pages)
        assert exported[0][0] and xlsx_rows(viewer.get(f"{url}export.xlsx"))[0][0] == exported[0][0]
    rows, count = shown(viewer, PRICES)
    assert (count, len(rows), rows[0].date) == (3 * 63, 100, TODAY)
    assert shown(viewer, TRADES)[0][0].trade_date == TODAY


def test_trades_filter_by_instrument_strategy_and_dates(fund):
    ids, pm = fund["ids"], person("pm")

    def trades(**query: Any) -> list[tuple[dt.date, str, Decimal]]:
        rows, count = shown(pm, TRADES, query)
        assert count == len(rows)
        return [(t.trade_date, t.instrument.symbol, t.quantity) for t in rows]

    assert trades(instrument__id__exact=ids["ESH4"]) == [
        (DAYS[-3], "ESH4", Decimal(-1)),
        (DAYS[-10], "ESH4", Decimal(2)),
    ]
    assert [t[1] for t in trades(strategy__id__exact=ids["RV"])] == ["ESH4", "INDJ24"]
    assert [t[0] for t in trades(trade_date__from=DAYS[-5], trade_date__to=DAYS[-3])] == [
        DAYS[-3],
        DAYS[-5],
    ]
    assert trades(trade_date__from=DAYS[-4], instrument__id__exact=ids["ESH4"]) == [
        (DAYS[-3], "ESH4", Decimal(-1))
    ]
    assert len(trades(instrument__id__exact="")) == 4  # the drop-down's "All"


def test_prices_filter_by_instrument_in_a_drop_down_and_by_dates(fund):
    ids, viewer = fund["ids"], person("viewer")
    page = viewer.get(PRICES).content.decode()
    assert '<select name="instrument__id__exact"' in page
    assert page.count('<option value="') == 1 + 3  # "All", and the instruments with prices
    rows, count = shown(viewer, PRICES, {"instrument__id__exact": ids["DI1F27"]})
    assert count == 63 and {p.instrument.symbol for p in rows} == {"DI1F27"}
    # From the day before yesterday to today: 3 business days of 3 instruments.
    rows, count = shown(viewer, PRICES, {"date__from": HISTORY[-3].isoformat()})
    assert count == 9 and [p.date for p in rows[::3]] == HISTORY[-1:-4:-1]
    rows, count = shown(
        viewer, PRICES, {"date__to": HISTORY[0], "instrument__id__exact": ids["ESH4"]}
    )
    assert [(p.date, p.price) for p in rows] == [(HISTORY[0], Decimal("5000"))]


def test_a_date_that_is_not_one_is_named_and_not_exported(fund):
    viewer = person("viewer")
    page = viewer.get(TRADES, {"trade_date__from": "2024-02-30"})
    assert "trade date from: &#x27;2024-02-30&#x27; is not a date (YYYY-MM-DD)." in (
        page.content.decode()
    )
    backwards = viewer.get(TRADES, {"trade_date__from": TODAY, "trade_date__to": DAYS[-3]})
    assert f"trade date: from {TODAY} is after to {DAYS[-3]}." in backwards.content.decode()
    refused = viewer.get(f"{TRADES}export.csv", {"trade_date__from": "2024-02-30"})
    assert refused.status_code == 302
    assert refused["Location"] == f"{TRADES}?trade_date__from=2024-02-30"


def test_the_audit_trail_and_the_alerts_filter_by_the_fund_day_and_the_strategy(fund):
    viewer = person("viewer")
    # 01:00 UTC on TODAY is 22:00 on the day before in São Paulo: that day's, in the list.
    late = AuditRecord.objects.create(
        at=dt.datetime.combine(TODAY, dt.time(1), tzinfo=dt.UTC), actor="ops", action="x.y"
    )
    on_the_day = AuditRecord.objects.filter(at__gte=late.at).exclude(pk=late.pk).count()
    assert on_the_day > 0
    _, count = shown(viewer, "/admin/portfolio/auditrecord/", {"at__from": TODAY})
    assert count == on_the_day
    page = viewer.get("/admin/portfolio/auditrecord/", {"at__to": "15/03/2024"})
    assert "day (BRT) to: &#x27;15/03/2024&#x27; is not a date (YYYY-MM-DD)." in (
        page.content.decode()
    )
    rows, _ = shown(
        viewer, "/admin/portfolio/auditrecord/", {"at__from": DAYS[-2], "at__to": DAYS[-2]}
    )
    assert late in rows
    rows, count = shown(viewer, "/admin/risk/riskalert/", {"strategy": "MACRO"})
    assert count == 1 and rows[0].limit.name == "MACRO VaR"


TRADE_HEADER = [
    "trade date",
    "instrument",
    "strategy",
    "quantity (+ buys, − sells)",
    "price",
    "fees (BRL)",
    "FX rate",
    "realized P&L (BRL)",
    "of which FX (BRL)",
    "source",
    "booked by",
    "booked at (UTC)",
    "note",
]


def test_the_export_holds_exactly_the_filtered_rows_as_numbers_and_dates(fund):
    ids, viewer = fund["ids"], person("viewer")
    query = {"strategy__id__exact": ids["MACRO"]}
    _, count = shown(viewer, TRADES, query)
    assert count == 2
    # Sorted as the list is: by its second column (instrument), descending.
    by_instrument = csv_rows(viewer.get(f"{TRADES}export.csv", {**query, "o": "-1"}))
    assert [row[1] for row in by_instrument[1:]] == ["ESH4", "DI1F27"]

    text = csv_rows(viewer.get(f"{TRADES}export.csv", query))
    assert text[0] == TRADE_HEADER
    di1, esh4 = text[1], text[2]
    assert di1[:5] == [TODAY.isoformat(), "DI1F27", "MACRO", "-100", "10.5"]
    assert di1[9:11] == ["api", "test"]
    assert di1[11].startswith("2024-03-15T18:00") and di1[11].endswith("Z")
    # An opening trade realizes only its fees: −12.34, a negative number, not quoted.
    assert esh4[:9] == [
        DAYS[-10].isoformat(),
        "ESH4",
        "MACRO",
        "2",
        "5000",
        "12.34",
        "5.05",
        "-12.34",
        "0.00",
    ]
    assert esh4[12] == "'" + HYPERLINK  # text that Excel would run: quoted

    sheet = xlsx_rows(viewer.get(f"{TRADES}export.xlsx", query))
    assert list(sheet[0]) == TRADE_HEADER and len(sheet) == 1 + count
    assert sheet[1][:5] == (dt.datetime.combine(TODAY, dt.time()), "DI1F27", "MACRO", -100, 10.5)
    assert sheet[2][5:8] == (12.34, 5.05, -12.34)
    assert sheet[2][12] == HYPERLINK  # a text cell: shown, never run
    workbook = load_workbook(io.BytesIO(viewer.get(f"{TRADES}export.xlsx", query).content))
    note, fees = workbook.active["M3"], workbook.active["F3"]
    assert (note.data_type, fees.data_type, fees.number_format) == ("s", "n", "#,##0.00")
    assert isinstance(workbook.active["L2"].value, dt.datetime)  # booked at, UTC

    answer = viewer.get(f"{TRADES}export.xlsx", query)
    assert answer["Content-Disposition"] == 'attachment; filename="trades-2024-03-15.xlsx"'


def test_an_export_reads_its_rows_in_a_bounded_number_of_queries(fund):
    ids, viewer = fund["ids"], person("viewer")

    def queries(url: str, kind: str, query: dict[str, Any]) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            answer = viewer.get(f"{url}export.{kind}", query)
            rows = csv_rows(answer) if kind == "csv" else xlsx_rows(answer)
        return len(captured), len(rows) - 1

    for kind in ("csv", "xlsx"):
        one, rows_one = queries(PRICES, kind, {"instrument__id__exact": ids["ESH4"]})
        every, rows_every = queries(PRICES, kind, {})
        assert (rows_one, rows_every) == (63, 189)
        assert one == every <= 8, kind
    # Every list: as many queries for all its rows as for none (no query per row).
    for url, field in LISTS.items():
        none, no_rows = queries(url, "csv", {f"{field}__from": "2099-01-01"})
        every, rows = queries(url, "csv", {})
        assert (no_rows, none) == (0, every) and rows > 1, url


def test_only_who_may_view_a_list_exports_it(fund):
    nobody = person(None)  # staff, in no group: no view permission
    for url in LISTS:
        assert nobody.get(f"{url}export.csv").status_code == 403, url
        assert nobody.get(f"{url}export.xlsx").status_code == 403, url
    anonymous = Client().get(f"{TRADES}export.csv")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    viewer = person("viewer")
    page = viewer.get(TRADES, {"strategy__id__exact": fund["ids"]["RV"]}).content.decode()
    query = f"?strategy__id__exact={fund['ids']['RV']}"
    assert f'href="{TRADES}export.csv{query}"' in page
    assert f'href="{TRADES}export.xlsx{query}"' in page
    assert viewer.get(f"{TRADES}export.pdf").status_code == 404
    assert Trade.objects.count() == 4 and FxRate.objects.exists() and Price.objects.exists()


def test_the_drop_down_offers_ids_as_the_filter_reads_them(fund):
    """With thousands separators on (USE_THOUSAND_SEPARATOR), an id of 1,000 and more must
    still be offered as 12345: "12,345" filtered nothing (Django's ?e=1)."""
    big = Instrument.objects.create(
        symbol="BIGID",
        name="An id past a thousand",
        asset_class="equity",
        currency="BRL",
        quote_type="price",
        pk=12345,
    )
    Price.objects.create(instrument=big, date=HISTORY[-1], price=Decimal("10"))
    page = person("viewer").get(PRICES).content.decode()
    assert '<option value="12345">BIGID</option>' in page
    rows, count = shown(person("pm"), PRICES, {"instrument__id__exact": "12345"})
    assert count == 1 and rows[0].instrument == big


def test_a_trades_page_writes_its_figures_as_the_list_does(fund):
    """The ESH4 trade of 2 at 5,000 with fees 12.34 at USD 5.05 (see the export's test):
    its page shows the FX rate and the FX part of its P&L the list leaves out."""
    trade = Trade.objects.get(instrument__symbol="ESH4", trade_date=DAYS[-10])
    page = person("viewer").get(f"{TRADES}{trade.pk}/change/").content.decode()
    for label, value in (
        ("FX rate", "5.05"),  # stored as 5.050000
        (f"fees ({BASE})", "12.34"),
        (f"realized P&amp;L ({BASE})", "-12.34"),
        (f"of which FX ({BASE})", "0.00"),
    ):
        assert re.search(
            rf"<label[^>]*>{re.escape(label)}:</label>\s*"
            rf'<div class="readonly"><span class="num">{re.escape(value)}</span>',
            page,
            re.IGNORECASE,  # the page writes a label with its first letter capital
        ), label
