"""The pack's "what drives VaR" and its backtest line, on the risk tests' books: the
hand-worked 5-position book (tests/fixtures/risk_book.py) and the constructed backtest series
(tests/risk/test_backtest.py)."""

import datetime as dt
from decimal import Decimal
from typing import Any

from briefing import render, services
from tests.fixtures.backtest import DAYS
from tests.shown import shown_backtest, shown_decomposition

PACK_DATE = dt.date(2024, 3, 18)  # Monday: reads Friday Mar 15's close


def test_what_drives_var_is_the_data_dates_decomposition(timeline: Any) -> None:
    pack = services.morning_pack_generate(date=PACK_DATE, actor="test")
    drivers = pack.sections["risk"]["drivers"]
    live = shown_decomposition(by="position")  # the book bought on Mar 15, unchanged
    assert drivers["confidence"] == 0.99 and drivers["var"] == live["var"]
    assert drivers["positions"] == live["rows"]  # all 5 positions: the top 5
    assert sum(Decimal(row["component_var"]) for row in drivers["positions"]) == Decimal(
        drivers["var"]
    )
    page = render.html(pack)
    assert 'id="var-drivers"' in page and "DI1F27/MACRO" in page


def test_the_backtest_line_is_the_basel_window_known_at_the_data_date(
    history: Any,
) -> None:
    pack = services.morning_pack_generate(date=PACK_DATE, actor="test")
    line = pack.sections["risk"]["backtest"]
    # The 250 snapshots to Mar 14 (Mar 15's has no next day yet): 6 exceptions, yellow.
    assert (line["start"], line["end"]) == (DAYS[0].isoformat(), DAYS[-2].isoformat())
    assert (line["observations"], line["exceptions"], line["expected"]) == (250, 6, "2.500000")
    assert line["traffic_light"] == "yellow"
    assert line["kupiec_p_value"] == shown_backtest()["kupiec"]["p_value"]
    page = render.html(pack)
    assert "6 exceptions in 250 days (expected 2.5)" in page
    assert '<span class="warning">yellow</span>' in page


def test_the_risk_section_has_the_dv01_by_tenor(timeline: Any) -> None:
    pack = services.morning_pack_generate(date=PACK_DATE, actor="test")
    # The book's one rate position, short 100 DI1F27 at 25 per bp, has no maturity.
    assert pack.sections["risk"]["dv01_by_tenor"] == [{"bucket": "no maturity", "dv01": "-2500.00"}]
    page = render.html(pack)
    assert 'id="dv01-by-tenor"' in page and "<th>no maturity</th>" in page
    assert "DV01 by tenor (per bp): no maturity -2,500" in render.text(pack)
