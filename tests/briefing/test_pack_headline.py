"""The morning pack's headline on the fund of tests/fixtures/fees_fund.py (its accounts
worked out by hand there): NAV, quota, the day's, MTD and YTD P&L and returns net of fees,
and the CDI's over the same days. The pack of Wed Mar 6 reads Tue Mar 5's (D4's) close."""

from decimal import Decimal

from briefing import render, services
from portfolio.models import PortfolioSnapshot
from tests.fixtures.fees_fund import D4, FEES_TODAY

NOISE = Decimal("1e-14")  # the returns are the engine's floats, shown to 15 places


def close_to(shown: str, exact: Decimal) -> bool:
    return abs(Decimal(shown) - exact) < NOISE


def test_the_headline_is_net_of_fees_and_beside_the_cdi(fees_fund):
    pack = services.morning_pack_generate(date=FEES_TODAY, actor="test")
    headline = pack.sections["headline"]
    assert (headline["date"], headline["data_date"]) == ("2024-03-06", "2024-03-05")
    assert (headline["nav"], headline["quota"], headline["units"]) == (
        "1013283.53",
        "1.01328353",
        "1000000.00000000",
    )
    assert headline["performance_provision"] == "2920.64"
    # The fund's P&L, net of fees: D4 8,321.28; MTD (D2–D4) 8,340.10 − 3,677.85 + 8,321.28
    # = 12,983.53; YTD adds D1's 300.00.
    assert (headline["day_pnl"], headline["mtd_pnl"], headline["ytd_pnl"]) == (
        "8321.28",
        "12983.53",
        "13283.53",
    )
    # Returns: the day 8,321.28 / 1,004,962.25; MTD the quota from 1.00030000 (D1) to
    # 1.01328353 (D4); YTD from the initial 1.
    day = Decimal("8321.28") / Decimal("1004962.25")
    mtd = Decimal("1.01328353") / Decimal("1.00030000") - 1
    ytd = Decimal("0.01328353")
    assert close_to(headline["day_return"], day)
    assert close_to(headline["mtd_return"], mtd)
    assert close_to(headline["ytd_return"], ytd)
    # The CDI over the same days: 0.0004 a day, compounded over 1, 3 and 4 days.
    vs = headline["vs_benchmark"]
    assert vs["benchmark"] == "CDI"
    for name, fund, cdi in (
        ("day", day, Decimal("0.0004")),
        ("mtd", mtd, Decimal("1.0004") ** 3 - 1),  # 0.001200480064
        ("ytd", ytd, Decimal("1.0004") ** 4 - 1),  # 0.0016009602560256
    ):
        assert close_to(vs[name]["return"], fund), name
        assert close_to(vs[name]["benchmark_return"], cdi), name
        assert close_to(vs[name]["excess_return"], fund - cdi), name
    issues = pack.sections["data_quality"]["issues"]  # (no risk snapshots: said too)
    assert not [issue for issue in issues if "CDI" in issue or "accounts" in issue], issues

    page = render.html(pack)
    assert 'id="quota">quota 1.01328353</div>' in page
    # The day +0.83% beside the CDI's +0.04%; MTD +1.30% beside +0.12%; YTD +1.33%, +0.16%;
    # the P&L with its cents and separators (8,321.28; 12,983.53; 13,283.53).
    assert "+0.83%" in page and "8,321.28 · CDI +0.04%" in page
    assert "+1.30%" in page and "12,983.53 · CDI +0.12%" in page
    assert "+1.33%" in page and "13,283.53 · CDI +0.16%" in page
    assert "Returns net of fees, beside the CDI's over the same days" in page
    # The fund's accounts' rows of P&L by strategy and attribution, in words, not keys.
    assert "<td>Cash (carry at the CDI)</td>" in page and "<td>Management fee</td>" in page
    assert "<td>CASH</td>" not in page and "<td>MANAGEMENT_FEE</td>" not in page
    text = render.text(pack)
    assert "NAV 1,013,283.53   quota 1.01328353" in text
    assert "Over the CDI: day +0.79% (CDI +0.04%)" in text  # 0.828% − 0.04% = 0.788%


def test_a_snapshot_stored_before_the_accounts_is_named_with_its_repair(fees_fund):
    PortfolioSnapshot.objects.filter(date=D4).update(units=0, quota=0)
    pack = services.morning_pack_generate(date=FEES_TODAY, actor="test")
    assert pack.sections["headline"]["quota"] is None
    assert (
        "The snapshot of 2024-03-05 was stored before the fund's accounts (no units, quota "
        "or fees): run `manage.py backfill_snapshots --start 2024-03-05 --end 2024-03-05`, "
        "then generate the pack again."
    ) in pack.sections["data_quality"]["issues"]
