"""Invariants of attribution on the demo fund (two years, 40 positions, three flows)."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F, Sum

from attribution import selectors
from core.calendar import previous_business_day
from portfolio.ledger import to_cents
from portfolio.models import PortfolioSnapshot, PositionSnapshot, Trade
from tests.factories import PASSWORD
from tests.shown import shown_attribution, shown_book


def value_at(day):
    """Unrealized P&L of the positions on `day` + realized P&L of every trade to `day`."""
    unrealized = PositionSnapshot.objects.filter(date=day).aggregate(u=Sum("unrealized_pnl_base"))
    realized = Trade.objects.filter(trade_date__lte=day).aggregate(r=Sum("realized_pnl_base"))
    # SQLite sums decimals as floats: back to the cent.
    return to_cents((unrealized["u"] or D(0)) + (realized["r"] or D(0)))


@pytest.mark.slow
def test_every_period_and_dimension_adds_up(db):
    call_command("load_demo", "--password", PASSWORD, stdout=StringIO())
    last = PortfolioSnapshot.objects.latest("date")
    # The snapshots rebuilt from the ledger agree with the live book, marked the same day:
    # its positions' P&L, its carry and fees, and so the fund's P&L and NAV.
    book = shown_book()
    assert D(book["nav"]) == last.nav
    assert D(book["totals"]["daily_pnl"]) == last.positions_pnl
    assert (D(book["carry"]), D(book["management_fee"]), D(book["performance_fee"])) == (
        last.carry,
        last.management_fee,
        last.performance_fee,
    )
    for period in ("daily", "mtd", "qtd", "ytd", "itd"):
        totals = set()
        for by in selectors.DIMENSIONS:
            report = shown_attribution(selectors.period_resolve(period), by)
            assert sum(D(row["pnl"]) for row in report["rows"]) == D(report["total_pnl"])
            linked = sum(float(row["contribution"]) for row in report["rows"])
            assert abs(linked - float(report["total_return"])) < 1e-10, (period, by)
            totals.add((report["total_pnl"], report["total_return"]))
        assert len(totals) == 1, period  # every dimension splits the same total
        start, end = report["start"], report["end"]
        days = PortfolioSnapshot.objects.filter(date__range=(start, end))
        sums = {
            name: to_cents(total or D(0))
            for name, total in days.aggregate(
                pnl=Sum("pnl"),
                positions=Sum("positions_pnl"),
                CASH=Sum("carry"),
                MANAGEMENT_FEE=Sum(-F("management_fee")),
                PERFORMANCE_FEE=Sum(-F("performance_fee")),
            ).items()
        }
        # The total is the fund's P&L: the positions', the carry, less the fees, and the
        # accounts' rows are those columns' sums (a row that is zero throughout is left out).
        assert D(report["total_pnl"]) == sums["pnl"]
        assert (
            sums["pnl"]
            == sums["positions"] + sums["CASH"] + sums["MANAGEMENT_FEE"] + sums["PERFORMANCE_FEE"]
        )
        rows = {row["key"]: D(row["pnl"]) for row in report["rows"]}
        for key in ("CASH", "MANAGEMENT_FEE", "PERFORMANCE_FEE"):
            assert rows.get(key, D(0)) == sums[key], (period, key)
        # Σ positions' daily P&L = change of unrealized + realized over the period.
        before = previous_business_day(days.earliest("date").date)
        assert sums["positions"] == value_at(end) - value_at(before), period
        # Time-weighted: the product of the stored daily returns.
        product = 1.0
        for daily in days.values_list("daily_return", flat=True):
            product *= 1 + float(daily)
        assert abs(product - 1 - float(report["total_return"])) < 1e-12, period
