"""The workspace's heavier screens on the 1,000-position demo (`load_demo --positions
1000`): the export of every price as CSV and Excel, a stored stress scenario on screen, the
ticket's page, and the emailed morning pack with its PNG charts. Each figure is checked
against what it claims to measure (rows exported, the API's stress P&L, the PNG parts).
Run through benchmarks/run.sh."""

import csv
import email
import io
import statistics
import time
from collections.abc import Callable
from email import policy
from functools import partial
from io import StringIO

from common import PASSWORD
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from briefing import services as briefing
from core.formatting import money
from portfolio.models import Price
from risk.models import StressScenario

POSITIONS = 1000


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def queries_of(fn: Callable[[], object]) -> int:
    """The queries one call makes, counted as it returns (a later call shifts the log)."""
    with CaptureQueriesContext(connection) as queries:
        fn()
    assert len(queries) > 0, "no query counted: the capture is not counting"
    return len(queries)


def body(client: Client, url: str) -> bytes:
    """A page's whole body: a streamed export is timed to its last row."""
    return bytes(client.get(url).getvalue())


def exports(viewer: Client) -> None:
    prices = Price.objects.count()
    url = "/admin/portfolio/price/export."
    rows = list(csv.reader(io.StringIO(viewer.get(url + "csv").getvalue().decode("utf-8-sig"))))
    assert len(rows) == 1 + prices, (len(rows), prices)  # every price, not a page of them
    sheet = load_workbook(io.BytesIO(viewer.get(url + "xlsx").content), read_only=True).active
    rows_read = sum(1 for _ in sheet.iter_rows(values_only=True))
    assert rows_read == 1 + prices, (rows_read, prices)
    for kind in ("csv", "xlsx"):
        counted = queries_of(partial(body, viewer, url + kind))
        took = median_ms(partial(body, viewer, url + kind), 3)
        print(f"export of every price ({prices:,} rows) as {kind}: median {took:7.1f} ms, "
              f"{counted} queries")  # fmt: skip


def stress(risk: Client) -> None:
    scenario = StressScenario.objects.filter(historical_start__isnull=True).first()
    assert scenario is not None, "the demo has no stored shock scenario"
    page_url = f"/admin/risk/stressscenario/run/?scenario={scenario.pk}&run=1"
    page = risk.get(page_url).content.decode()
    api = risk.post("/api/risk/stress/", {"scenario": scenario.pk}, content_type="application/json")
    total = money(api.json()["pnl"])  # the page's figure is the API's
    shown = f'class="num {"neg" if total.startswith("-") else "pos"}">{total}<'
    assert f'id="stress-total" {shown}' in page, total
    rows = len(api.json()["by_position"])
    took = median_ms(lambda: risk.get(page_url), 5)
    print(f"stress page, {scenario.name!r} on {rows:,} positions: median {took:7.1f} ms")


def ticket(pm: Client) -> None:
    assert pm.get("/admin/portfolio/trade/ticket/").status_code == 200
    counted = queries_of(lambda: pm.get("/admin/portfolio/trade/ticket/"))
    took = median_ms(lambda: pm.get("/admin/portfolio/trade/ticket/"), 5)
    print(f"ticket page ({POSITIONS:,} positions to pick from): median {took:7.1f} ms, "
          f"{counted} queries")  # fmt: skip


def emailed_pack() -> None:
    pack = briefing.morning_pack_generate(actor="bench")
    to = ["pm@fund.example"]
    message = briefing.morning_pack_message(pack, to).message()
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    pngs = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 3, len(pngs)  # the NAV, the strategies' P&L, the limits
    took = median_ms(lambda: briefing.morning_pack_message(pack, to).message(), 3)
    sizes = ", ".join(f"{len(p.get_payload(decode=True)) / 1024:.1f} kB" for p in pngs)
    print(f"emailed pack with its 3 PNG charts: median {took:7.1f} ms; PNGs {sizes}; "
          f"message {len(message.as_bytes()) / 1024:.0f} kB")  # fmt: skip


def main() -> None:
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"load_demo --positions {POSITIONS} …")
    call_command("load_demo", positions=POSITIONS, password=PASSWORD, stdout=StringIO())
    exports(client_of("viewer"))
    stress(client_of("risk"))
    ticket(client_of("pm"))
    emailed_pack()


if __name__ == "__main__":
    main()
