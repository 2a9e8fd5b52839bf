"""The emailed morning pack (its charts as PNG images inline), the pack's numbers as a person
reads them, and the stored stress scenarios in its risk section, on the briefed fund
(tests/fixtures/briefing_pack.py): at the close of Fri Mar 15, 2024 MACRO holds 1 ESH4 (USD,
×50) at 5080 with X = 5.05, RV 10 INDJ24 (BRL, ×1) at 102,000."""

import datetime as dt
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email.message import Message
from io import BytesIO
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from briefing import charts_png, render, services
from portfolio import services as book_services
from risk.services import scenario_create
from tests.fixtures.briefing_pack import PACK_DATE


def generate(**kwargs: Any) -> Any:
    return services.morning_pack_generate(date=PACK_DATE, actor="test", **kwargs)


@pytest.fixture
def emailed(briefed: None, settings: Any, django_capture_on_commit_callbacks: Any) -> Message:
    """The pack of Mar 18 as sent: the message as it goes on the wire, parsed back."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PMS_MORNING_PACK_RECIPIENTS = ["pm@fund.example"]
    with django_capture_on_commit_callbacks(execute=True):
        generate(send=True)
    [sent] = mail.outbox
    return message_from_bytes(sent.message().as_bytes())


def parts(message: Message, kind: str) -> list[Message]:
    return [part for part in message.walk() if part.get_content_type() == kind]


def test_the_emailed_charts_are_png_images_the_html_shows_by_content_id(emailed: Message) -> None:
    # multipart/related: the text-or-HTML alternatives, then the images the HTML refers to.
    assert emailed.get_content_type() == "multipart/related"
    payload = emailed.get_payload()
    assert isinstance(payload, list)
    assert [part.get_content_type() for part in payload if isinstance(part, Message)] == [
        "multipart/alternative",
        *["image/png"] * 3,
    ]
    [html_part] = parts(emailed, "text/html")
    html_bytes = html_part.get_payload(decode=True)
    assert isinstance(html_bytes, bytes)
    html = html_bytes.decode()
    assert "<svg" not in html
    images = parts(emailed, "image/png")
    # NAV curve, MTD P&L by strategy, limit utilization: each drawn for a 600 px wide email,
    # at twice that in pixels, with its height as the email's <img> says it.
    sizes = {"nav-chart.png": (600, 230), "strategy-chart.png": (600, 84)}
    for image in images:
        cid = image["Content-ID"]
        assert cid.startswith("<") and cid.endswith(">")
        assert image.get_content_disposition() == "inline"
        tag = re.search(rf'<img src="cid:{re.escape(cid[1:-1])}" alt="([^"]+)" [^>]*>', html)
        assert tag is not None, cid  # each image is shown, and has a text in its place
        png = image.get_payload(decode=True)
        assert isinstance(png, bytes) and 1_000 < len(png) < 60_000
        with Image.open(BytesIO(png)) as drawn:
            assert drawn.format == "PNG"
            width, height = drawn.size
        assert f'width="{width // 2}" height="{height // 2}"' in tag.group(0)
        assert width == 2 * 600 and 60 < height // 2 < 400
        name = image.get_filename()
        if name in sizes:
            assert (width // 2, height // 2) == sizes[name]
    # The MTD P&L by strategy in the chart's text: MACRO 45,200.00, RV 20,000.00.
    assert 'alt="MTD P&amp;L by strategy: MACRO 45,200.00; RV 20,000.00"' in html
    assert "breach: Gross" in html  # the limits chart's text names the breach


def test_the_charts_draw_the_same_from_several_threads(briefed: None) -> None:
    """Each chart is a Figure on a canvas of its own: threads drawing at once get the
    images one thread draws."""
    sections = generate().sections
    alone = {name: chart.png for name, chart in charts_png.pack_charts(sections).items()}
    with ThreadPoolExecutor(max_workers=4) as pool:
        drawn = list(pool.map(lambda _: charts_png.pack_charts(sections), range(8)))
    assert all({n: c.png for n, c in charts.items()} == alone for charts in drawn)


def test_a_limit_named_with_dollar_signs_is_drawn_as_text() -> None:
    """Two "$" in matplotlib's text start a formula: "R$ 50% & US$" would fail the drawing
    and "R$ 2mm / US$ 400k" lose its signs. The fund's names are text."""
    names = ["Perda R$ 50% & US$ 1mm", "R$ {a US$", "Stop R$ 2mm / US$ 400k"]
    limits = [{"name": n, "utilization": "0.5", "status": "ok"} for n in names]
    chart = charts_png.utilization_chart(limits)
    assert Image.open(BytesIO(chart.png)).format == "PNG"


def test_the_pack_writes_money_with_separators_and_cents(briefed: None) -> None:
    pack = generate()
    page, _ = render.email(pack)
    text = render.text(pack)
    for shown in (render.html(pack), page):
        # Gross: 1 × 5080 × 50 × 5.05 = 1,282,700.00 plus 10 × 102,000 × 1 = 1,020,000.00.
        assert "Gross 2,302,700.00" in shown
        # NAV 11,065,200.00; VaR 95% 41,000.00 (the snapshot's); the day's P&L 10,200.00.
        assert ">11,065,200.00<" in shown and "VaR 95% 41,000.00" in shown
        assert "10,200.00" in shown
        # Quantities and prices as entered (no ".000000"); the sell of 3 ESH4 unsigned.
        assert "<td>1</td><td>5,080</td><td>1,282,700.00</td>" in shown
        assert "<td>102,000</td>" in shown and "sell 3 ESH4" in shown
        assert "1243.9" not in shown and ".000000" not in shown
    assert "NAV 11,065,200.00" in text and "day +0.09% (10,200.00)" in text
    assert "MACRO: -4,800.00 / 45,200.00 / 45,200.00" in text
    assert "sell 3 ESH4" in text


def scenarios() -> None:
    scenario_create(
        actor="risk",
        name="Equity -20%",
        shocks=[{"target_type": "asset_class", "target": "equity", "shock": "-0.2"}],
    )
    scenario_create(
        actor="risk",
        name="ESH4 +10%",
        shocks=[{"target_type": "instrument", "target": "ESH4", "shock": "0.10"}],
    )
    scenario_create(
        actor="risk",
        name="Mar 13 to 15",
        historical_start=dt.date(2024, 3, 13),
        historical_end=dt.date(2024, 3, 15),
    )


def test_the_risk_section_has_the_stored_scenarios_pnl(briefed: None, api_client_for: Any) -> None:
    scenarios()
    pack = generate()
    stress = {row["name"]: row for row in pack.sections["risk"]["stress"]}
    assert list(stress) == ["ESH4 +10%", "Equity -20%", "Mar 13 to 15"]
    # ESH4 +10%: 1 × 5080 × 50 × 5.05 × 10% = 128,270.00; nothing loses.
    assert (stress["ESH4 +10%"]["pnl"], stress["ESH4 +10%"]["worst"]) == ("128270.00", None)
    # Equity −20%: ESH4 1,282,700 × −20% = −256,540.00; INDJ24 1,020,000 × −20% = −204,000.00.
    equity = stress["Equity -20%"]
    assert equity["pnl"] == "-460540.00"
    assert equity["worst"] == {"instrument": "ESH4", "strategy": "MACRO", "pnl": "-256540.00"}
    # Mar 13 to 15: ESH4's P × X from 5050 × 5.10 = 25,755 to 5080 × 5.05 = 25,654, so
    # 1,282,700 × (−101 / 25,755) = −5,030.20; INDJ24 1,020,000 × (1,000 / 101,000) = 10,099.01.
    replay = stress["Mar 13 to 15"]
    assert (replay["pnl"], replay["worst"]["pnl"]) == ("5068.81", "-5030.20")
    # The same as POST /api/risk/stress/ answers for each, on the live book marked at Mar 15.
    book_services.mark_to_market(as_of=dt.date(2024, 3, 15), actor="ops")
    risk = api_client_for("risk")
    for row in stress.values():
        answer = risk.post("/api/risk/stress/", {"scenario": row["scenario"]}, format="json")
        assert answer.status_code == 200 and answer.json()["pnl"] == row["pnl"]
        losing = [p for p in answer.json()["by_position"] if p["pnl"].startswith("-")]
        assert row["worst"] == min(losing, key=lambda p: float(p["pnl"]), default=None)

    # Kept in the pack's JSON, inside its risk section, beside the keys it had.
    latest = api_client_for("viewer").get("/api/morning-pack/latest/").json()["sections"]["risk"]
    assert latest["stress"] == pack.sections["risk"]["stress"]
    assert {"var", "limits", "alerts", "drivers", "backtest"} <= set(latest)

    page, text = render.html(pack), render.text(pack)
    emailed, _ = render.email(pack)
    for shown in (page, emailed):
        assert '<table id="stress">' in shown
        assert (
            '<tr><td>Equity -20%</td><td class="neg">-460,540.00</td>'
            '<td class="text">ESH4 / MACRO</td><td>-256,540.00</td></tr>'
        ) in shown
        assert '>128,270.00</td><td class="text">none loses</td>' in shown
    assert "Equity -20%: -460,540.00; worst ESH4 / MACRO -256,540.00" in text
    assert "ESH4 +10%: 128,270.00; no position loses" in text


def test_the_stress_scenarios_cost_the_pack_no_query_each(briefed: None) -> None:
    """The book is read once for every scenario; a scenario of shocks reads nothing more."""
    scenario_create(
        actor="risk",
        name="Equity -20%",
        shocks=[{"target_type": "asset_class", "target": "equity", "shock": "-0.2"}],
    )
    generate()  # the pack of the date exists: each generation below replaces it
    with CaptureQueriesContext(connection) as one:
        generate()
    for k in range(3):
        scenario_create(
            actor="risk",
            name=f"USD {k + 1}%",
            shocks=[{"target_type": "currency", "target": "USD", "shock": f"0.0{k + 1}"}],
        )
    with CaptureQueriesContext(connection) as four:
        pack = generate()
    assert len(pack.sections["risk"]["stress"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_pack_without_scenarios_says_nothing_of_stress(briefed: None) -> None:
    pack = generate()
    assert pack.sections["risk"]["stress"] == []
    assert 'id="stress"' not in render.html(pack) and "Stress" not in render.text(pack)


def test_the_charts_draw_with_a_home_nothing_can_be_written_under(tmp_path: Any) -> None:
    """matplotlib keeps its font list under the home directory unless MPLCONFIGDIR says
    where: with a home it cannot write to, the charts still draw, without its warning of a
    temporary directory made anew in each process."""
    home = tmp_path / "home"
    home.write_text("")  # a file: nothing can be made under it, even by root
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
    }
    script = (
        "import django; django.setup()\n"
        "from briefing import charts_png\n"
        "chart = charts_png.bar_chart(['A', 'B'], [1.0, -2.0], name='x', alt='x')\n"
        "print(len(chart.png) > 1000)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={**environment, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"
    assert "temporary cache directory" not in run.stderr and "not a writable" not in run.stderr
