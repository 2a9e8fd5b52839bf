"""The inline SVG charts (core/charts.py): value axes at nice ticks inside the data's range,
flat, single-point and empty series, markers; and the morning pack's use of them, with the
proposals it listed shown as they stand when the page is read."""

import datetime as dt
import itertools
import math
import random
import re
from decimal import Decimal

import pytest
import time_machine

from briefing import render, services
from core.calendar import business_days
from core.charts import backtest_chart, bar_chart, date_ticks, line_chart, nice_ticks
from tests.fixtures.briefing_pack import PACK_DATE
from trading import services as trading_services
from trading.models import TradeProposal

# --- Ticks -----------------------------------------------------------------------------------


def ticks(low: float, high: float) -> list[tuple[float, str]]:
    return [(t.value, t.label) for t in nice_ticks(low, high)]


def test_a_nav_of_a_billion_gets_ticks_a_step_of_2m_apart():
    # Span 12M: a step of 1M gives 13 ticks, 2M the first with at most 6.
    assert ticks(1_051_000_000, 1_063_000_000) == [
        (1_052_000_000.0, "1.052bn"),
        (1_054_000_000.0, "1.054bn"),
        (1_056_000_000.0, "1.056bn"),
        (1_058_000_000.0, "1.058bn"),
        (1_060_000_000.0, "1.060bn"),
        (1_062_000_000.0, "1.062bn"),
    ]


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        # 2M would give 7 (1,050 … 1,062); 2.5M gives 6, with a fourth decimal.
        (1_050_000_000, 1_062_500_000, ["1.0500bn", "1.0525bn", "1.0550bn", "1.0575bn"]),
        # The fixture fund: 11,000,000 … 11,065,200 at 20k (10k would give 7).
        (11_000_000, 11_065_200, ["11.00M", "11.02M", "11.04M", "11.06M"]),
        # A range too narrow for bn with 3 decimals is written in M.
        (1_057_000_000, 1_057_100_000, ["1,057.00M", "1,057.02M", "1,057.04M"]),
        (0, 1, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (-3.2, 4.7, ["-2", "0", "2", "4"]),
        (-1_500, -200, ["-1.50k", "-1.25k", "-1.00k", "-0.75k", "-0.50k", "-0.25k"]),
        (10, 35, ["10", "15", "20", "25", "30", "35"]),
        (0.013, 0.019, ["0.014", "0.016", "0.018"]),
    ],
)
def test_hand_picked_ranges(low, high, labels):
    shown = [label for _, label in ticks(low, high)]
    assert shown[: len(labels)] == labels


def test_ticks_are_nice_inside_the_range_3_to_6_and_told_apart():
    rng = random.Random(7)
    for _ in range(2_000):
        scale = 10 ** rng.uniform(-3, 10)
        low = rng.uniform(-1, 1) * scale
        high = low + rng.uniform(1e-4, 2) * scale
        found = nice_ticks(low, high)
        values = [t.value for t in found]
        assert 3 <= len(found) <= 6, (low, high, values)
        assert all(low - 1e-9 * scale <= v <= high + 1e-9 * scale for v in values)
        step = values[1] - values[0]
        assert all(abs((b - a) / step - 1) < 1e-6 for a, b in itertools.pairwise(values))
        mantissa = step / 10 ** math.floor(round(math.log10(step), 9))
        assert any(abs(mantissa - nice) < 1e-6 for nice in (1, 2, 2.5, 5)), (low, high, step)
        labels = [t.label for t in found]
        assert len(set(labels)) == len(labels), labels  # adjacent ticks distinguishable


def test_a_flat_range_has_one_tick_at_its_value_and_none_no_range():
    assert ticks(1_057_123_456, 1_057_123_456) == [(1_057_123_456, "1.057bn")]
    assert ticks(5, 5) == [(5, "5")]
    assert ticks(-2_000_000, -2_000_000) == [(-2_000_000, "-2M")]
    assert ticks(0, 0) == [(0.0, "0")]
    assert ticks(2, 1) == [] and ticks(float("nan"), 1) == []


# --- The line chart ----------------------------------------------------------------------------


def gridlines(svg: str) -> list[str]:
    return re.findall(r'<line class="tick"[^>]*>', svg)


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="end"[^>]*>([^<]*)</text>', svg)


def test_the_line_chart_labels_its_axis_at_the_nice_ticks():
    labels = [f"2024-03-{day:02d}" for day in range(11, 16)]
    svg = line_chart(labels, [1_051e6, 1_055e6, 1_063e6, 1_060e6, 1_057e6])
    assert len(gridlines(svg)) == 6
    assert axis_labels(svg)[:6] == [f"1.0{n}bn" for n in (52, 54, 56, 58, 60, 62)]
    assert "1.1bn" not in svg and "<polyline" in svg
    assert "2024-03-11" in svg and "2024-03-15" in svg


def test_a_flat_series_is_drawn_across_the_middle_with_its_value():
    svg = line_chart(["a", "b", "c"], [7.0, 7.0, 7.0], height=200)
    [grid] = gridlines(svg)
    middle = 12 + (200 - 12 - 24) / 2
    assert f'y1="{middle:.1f}"' in grid
    assert "7</text>" in svg
    points = re.search(r'points="([^"]*)"', svg)
    assert points and {p.split(",")[1] for p in points.group(1).split()} == {f"{middle:.1f}"}


def test_a_single_point_is_a_dot_and_no_series_says_so():
    svg = line_chart(["2024-03-15"], [11_065_200.0])
    assert "<circle" in svg and "<polyline" not in svg and "11.07M" in svg
    assert re.findall(r'class="date"[^>]*>([^<]*)<', svg) == ["15 Mar 2024"]  # its axis
    assert 'data-date="2024-03-15" data-value="11,065,200.00"' in svg  # on hover
    empty = line_chart([], [])
    assert empty.startswith("<svg") and "no data" in empty


def test_negative_values():
    svg = line_chart(["a", "b", "c"], [-3.2, 4.7, 1.0])
    assert axis_labels(svg)[:4] == ["-2", "0", "2", "4"]


def test_markers_at_an_index_or_a_label_are_drawn_with_their_text():
    labels = ["2024-03-12", "2024-03-13", "2024-03-14", "2024-03-15"]
    svg = line_chart(
        labels,
        [10e6, 10.1e6, 11.1e6, 11.2e6],
        markers=[(0, "subscription 10,000,000"), ("2024-03-14", "<b>"), ("2024-01-01", "gone")],
    )
    assert svg.count('<g class="marker">') == 2  # the unknown label is left out
    assert "<title>2024-03-12: subscription 10,000,000</title>" in svg
    assert "&lt;b&gt;" in svg and "<b>" not in svg  # escaped
    assert "gone" not in svg
    # Positional, as portfolio/admin.py calls it: no markers.
    assert '<g class="marker">' not in line_chart(labels, [1.0, 2.0, 3.0, 4.0])


# --- Dated axes and values on hover ----------------------------------------------------------


def date_labels(svg: str) -> list[str]:
    return re.findall(r'class="date"[^>]*>([^<]*)</text>', svg)


def test_a_year_of_business_days_is_labelled_by_month_with_the_year_in_january():
    """Jul 1, 2024 to Jun 30, 2025 on the 1,000 px dashboard chart: about 21 business days
    a month at 936 / 249 = 3.76 px each, 79 px between months (≥ 60): a label a month."""
    days = business_days(dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    svg = line_chart([d.isoformat() for d in days], [1e7] * len(days), width=1000)
    assert date_labels(svg) == [
        "Jul 2024", "Aug", "Sep", "Oct", "Nov", "Dec",
        "Jan 2025", "Feb", "Mar", "Apr", "May", "Jun",
    ]  # fmt: skip


def test_a_narrower_chart_labels_quarters_and_a_month_of_days_labels_weeks():
    days = business_days(dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    # 564 px over 249 steps: 2.27 px a day, ~48 px a month (< 60): by quarter.
    svg = line_chart([d.isoformat() for d in days], [1.0] * len(days), width=640)
    assert date_labels(svg) == ["Jul 2024", "Oct", "Jan 2025", "Apr"]
    # June 2025's 21 business days on 564 px: 28 px a day, 141 px a week: each Monday,
    # and Jun 2 is itself a Monday (the first point, labelled once, with its year).
    june = [d for d in days if d.month == 6]
    svg = line_chart([d.isoformat() for d in june], [1.0] * len(june), width=640)
    assert date_labels(svg) == ["2 Jun 2025", "9 Jun", "16 Jun", "23 Jun", "30 Jun"]


def test_date_ticks_label_the_first_point_when_there_is_room_before_the_first_period():
    # Wed Mar 13 to Tue Mar 19, 2024 at 100 px a day: each day; at 20 px a day, the week
    # starting Mon Mar 18 is 100 px from the first point: both labelled.
    days = [dt.date(2024, 3, d) for d in (13, 14, 15, 18, 19)]
    assert [t for _, t in date_ticks(days, 100)] == [
        "13 Mar 2024", "14 Mar", "15 Mar", "18 Mar", "19 Mar",
    ]  # fmt: skip
    assert date_ticks(days, 20) == [(0, "13 Mar 2024"), (3, "18 Mar")]


def test_each_point_shows_its_date_and_value_on_hover():
    labels = ["2024-03-13", "2024-03-14", "2024-03-15"]
    svg = line_chart(labels, [10_000_000.0, 9_510_000.0, 9_520_000.5])
    hits = re.findall(r'<rect class="hit"[^>]*data-date="([^"]*)" data-value="([^"]*)">', svg)
    assert hits == [
        ("2024-03-13", "10,000,000.00"),
        ("2024-03-14", "9,510,000.00"),
        ("2024-03-15", "9,520,000.50"),
    ]
    assert "<title>2024-03-14: 9,510,000.00</title>" in svg  # without the admin's script
    # A flow marked on a day: its hover says it (the area lies over the marker's tooltip).
    marked = line_chart(
        labels,
        [10_000_000.0, 9_510_000.0, 9_520_000.5],
        markers=[(1, "redemption 500,000"), ("2024-03-14", "fee")],
    )
    assert 'data-date="2024-03-14" data-value="9,510,000.00 · redemption 500,000; fee"' in marked
    # Labels that are not dates: the first and last under the axis, as before.
    plain = line_chart(["a", "b", "c"], [1.0, 2.0, 3.0])
    assert date_labels(plain) == [] and ">a</text>" in plain and ">c</text>" in plain


def test_the_backtest_locates_each_exception_by_its_date_and_loss():
    """Three days: a gain of 500 under a VaR of 1,000; a loss of 1,200 beyond a VaR of
    1,000 (an exception); a loss of 300 under a VaR of 900."""
    labels = ["2024-03-13", "2024-03-14", "2024-03-15"]
    svg = backtest_chart(labels, [500.0, -1200.0, -300.0], [1000.0, 1000.0, 900.0],
                         [False, True, False])  # fmt: skip
    hits = re.findall(r'data-date="([^"]*)" data-value="([^"]*)"', svg)
    assert hits == [
        ("2024-03-13", "P&amp;L 500.00 · VaR 1,000.00"),
        ("2024-03-14", "loss 1,200.00 beyond VaR 1,000.00 (exception)"),
        ("2024-03-15", "P&amp;L -300.00 · VaR 900.00"),
    ]
    assert svg.count('class="exception"') == 1
    assert date_labels(svg) == ["13 Mar 2024", "14 Mar", "15 Mar"]


# --- The morning pack ----------------------------------------------------------------------------


def generate():
    return services.morning_pack_generate(date=PACK_DATE, actor="test")


def test_the_pack_marks_the_capital_flows_on_its_nav_chart(briefed):
    pack = generate()
    # The fixture's flows: 10,000,000 on Mar 12, a subscription of 1,000,000 on Mar 14.
    assert pack.sections["headline"]["nav_flows"] == [
        ["2024-03-12", "10000000.00"],
        ["2024-03-14", "1000000.00"],
    ]
    page = render.html(pack)
    chart = page[page.index('<div id="nav-chart">') :]
    chart = chart[: chart.index("</svg>")]
    assert chart.count('<g class="marker">') == 2
    assert "2024-03-14: subscription 1,000,000" in chart


def test_a_pack_stored_without_flows_or_proposal_ids_still_renders(briefed):
    pack = generate()
    del pack.sections["headline"]["nav_flows"]
    for row in pack.sections["proposals"]:
        del row["id"]
    pack.save()
    page = render.html(pack)
    assert '<g class="marker">' not in page and "<polyline" in page
    assert "Proposals pending at generation (1)" in page and "sell 3 ESH4" in page
    assert "Proposals pending at generation: 1" in render.text(pack)


def test_a_proposal_approved_after_generation_shows_approved(briefed, django_assert_num_queries):
    pack = generate()
    [listed] = pack.sections["proposals"]
    page = render.html(pack)
    assert "Proposals pending at generation (1)" in page and ">pending</td>" in page

    # Monday 12:14 UTC: 09:14 in São Paulo, on the pack's own date.
    with time_machine.travel(dt.datetime(2024, 3, 18, 12, 14, tzinfo=dt.UTC), tick=False):
        trading_services.proposal_approve(proposal_id=listed["id"], actor="pm")
    assert TradeProposal.objects.get(pk=listed["id"]).status == "approved"

    with django_assert_num_queries(1):  # the proposals' states, all at once
        page = render.html(pack)
    assert "approved by pm 09:14 BRT" in page and ">pending</td>" not in page
    assert "Proposals pending at generation (1)" in page  # what the pack listed, still
    text = render.text(pack)
    assert "sell 3 ESH4 (approved by pm 09:14 BRT)" in text


def test_a_decision_on_another_day_shows_its_date_and_a_modification_its_quantity(briefed):
    pack = generate()
    [listed] = pack.sections["proposals"]
    # Friday 18:00 UTC (the suite's clock): 15:00 BRT, before the pack's Monday.
    trading_services.proposal_modify_approve(
        proposal_id=listed["id"], quantity=Decimal("-2"), actor="pm"
    )
    page = render.html(pack)
    assert re.search(r"modified to sell 2 and approved by pm 2024-03-15 15:0\d BRT", page)


def test_a_rejected_proposal(briefed):
    pack = generate()
    [listed] = pack.sections["proposals"]
    trading_services.proposal_reject(proposal_id=listed["id"], reason="too much gross", actor="pm")
    assert "rejected by pm 2024-03-15" in render.text(pack)


def test_a_bar_charts_labels_have_the_room_the_longest_needs():
    """ "Cash (carry at the CDI)", 23 characters at about 6.5 px: its right edge at 160 px,
    inside the chart (a fixed 140 px cut its first letters off)."""
    svg = bar_chart(["MACRO", "Cash (carry at the CDI)"], [1_000.0, -250.0])
    edges = [float(x) for x in re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="end"', svg)]
    label_edge = edges[0]
    assert label_edge == round(6.5 * 23) + 10 - 6 and label_edge > 6.5 * 23
    assert bar_chart(["A"], [1.0]).count('<text x="54"') == 1  # at least 60 px: 60 − 6


def test_zero_beside_a_suffix_is_plain_zero():
    """An axis in millions from −1M to 2M: zero reads "0", not "0M"."""
    assert [t.label for t in nice_ticks(-1_200_000, 2_600_000)] == ["-1M", "0", "1M", "2M"]
