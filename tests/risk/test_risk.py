"""Live risk, stress, limits and alerts on the hand-checkable book (tests/fixtures/risk_book.py)."""

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from statistics import NormalDist, stdev
from typing import Any

import pytest
from django.core.cache import cache as default_cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolio import services as book_services
from portfolio.models import Price
from risk import selectors, services
from risk.engine import Shock
from risk.models import RiskAlert, RiskLimit, RiskSnapshot
from risk.selectors.market import quotes
from tests.conftest import TODAY
from tests.factories import InstrumentFactory, StrategyFactory
from tests.fixtures.risk_book import DAYS, di, es, ind, usd
from tests.shown import shown_risk


def hand_pnl(
    *, with_macro: bool = True, with_rv: bool = True, es: Callable[[int], Decimal] = es
) -> list[float]:
    """S_k written out position by position, in Decimal, from the paths (k = 1 … 20)."""
    out = []
    for k in range(1, 21):
        total = Decimal(0)
        if with_macro:
            total += Decimal("1015000.00") * (ind(k) / ind(k - 1) - 1)
            total += Decimal("2474940.00") * (es(k) * usd(k) / (es(k - 1) * usd(k - 1)) - 1)
            total += Decimal("501000.00") * (usd(k) / usd(k - 1) - 1)
            # Short 100 DI at 25 per bp: −(−2500) × Δy × 100.
            total += Decimal("2500.00") * (di(k) - di(k - 1)) * 100
        if with_rv:
            total += Decimal("-1237470.00") * (es(k) * usd(k) / (es(k - 1) * usd(k - 1)) - 1)
        out.append(float(total))
    return out


def linear_quantile(values: list[float], p: float) -> float:
    """numpy's default (linear) quantile, written out: h = (n − 1) p between order stats."""
    xs = sorted(values)
    h = (len(xs) - 1) * p
    lo = math.floor(h)
    return xs[lo] + (h - lo) * (xs[min(lo + 1, len(xs) - 1)] - xs[lo])


def cents(value: float) -> str:
    return f"{Decimal(repr(value)).quantize(Decimal('0.01'))}"


def test_historical_var_and_es_match_the_formulas(book: Any) -> None:
    report = shown_risk(window=20, method="historical")
    pnl = hand_pnl()
    assert report["as_of"] == "2024-03-15" and report["nav"] == "10000000.00"
    for a in (0.95, 0.99):
        var = -linear_quantile(pnl, 1 - a)
        tail = [s for s in pnl if s <= -var]
        assert report["var"][str(a)] == cents(var)
        assert report["expected_shortfall"][str(a)] == cents(-sum(tail) / len(tail))
    # n = 20: h = 19 × 0.05 = 0.95, so VaR 95% lies between the two worst scenarios and
    # only the worst is at or beyond it: ES 95% = ES 99% = minus the worst scenario.
    assert report["expected_shortfall"]["0.95"] == cents(-min(pnl))
    assert report["missing_history"] == []


def test_parametric_and_ewma_var_match_the_formulas(book: Any) -> None:
    pnl = hand_pnl()
    sigma_ewma = math.sqrt(
        sum(0.94 ** (19 - i) * s * s for i, s in enumerate(pnl))
        / sum(0.94 ** (19 - i) for i in range(20))
    )
    for method, sigma in (("parametric", stdev(pnl)), ("ewma", sigma_ewma)):
        report = shown_risk(window=20, method=method)
        for a in (0.95, 0.99):
            z = NormalDist().inv_cdf(a)
            assert report["var"][str(a)] == cents(z * sigma)
            assert report["expected_shortfall"][str(a)] == cents(
                sigma * NormalDist().pdf(z) / (1 - a)
            )


def test_exposures_and_dv01_by_hand(book: Any) -> None:
    exposures = shown_risk(window=20)["exposures"]
    # Long 1,015,000 + 2,474,940 + 501,000; short −1,237,470 − 10,000,000.
    assert exposures["long"] == "3990940.00"
    assert exposures["short"] == "-11237470.00"
    assert exposures["gross"] == "15228410.00"
    assert exposures["net"] == "-7246530.00"
    assert exposures["leverage"] == "1.522841"  # 15,228,410 / 10,000,000
    assert exposures["by_asset_class"] == {
        "equity": {"gross": "4727410.00", "net": "2252470.00"},
        "fx": {"gross": "501000.00", "net": "501000.00"},
        "rates": {"gross": "10000000.00", "net": "-10000000.00"},
    }
    assert exposures["by_currency"] == {
        "BRL": {"gross": "11516000.00", "net": "-8484000.00"},
        "USD": {"gross": "3712410.00", "net": "1237470.00"},
    }
    assert exposures["by_strategy"] == {
        "MACRO": {"gross": "13990940.00", "net": "-6009060.00"},
        "RV": {"gross": "1237470.00", "net": "-1237470.00"},
    }
    assert exposures["top_concentrations"][:2] == [
        {
            "instrument": "DI1F27",
            "strategy": "MACRO",
            "notional": "-10000000.00",
            "weight": "1.000000",
        },
        {"instrument": "ESH4", "strategy": "MACRO", "notional": "2474940.00", "weight": "0.247494"},
    ]
    assert shown_risk(window=20)["dv01_by_currency"] == {"BRL": "-2500.00"}


def test_a_position_without_enough_history_is_listed_not_dropped_silently(
    book: Any, macro: Any
) -> None:
    before = shown_risk(window=20)
    young = InstrumentFactory.create(symbol="NEWCO", currency="BRL")
    Price.objects.bulk_create(Price(instrument=young, date=day, price=50) for day in DAYS[-5:])
    book_services.trades_book(
        requests=[
            book_services.TradeRequest(
                instrument="NEWCO",
                strategy="MACRO",
                quantity=Decimal(1000),
                price=Decimal(50),
                trade_date=TODAY,
            )
        ],
        actor="test",
        source="api",
    )
    after = shown_risk(window=20)
    assert after["missing_history"] == ["NEWCO"]
    assert after["var"] == before["var"]  # it cannot contribute scenarios it does not have
    assert after["exposures"]["long"] == "4040940.00"  # but it is in the exposures


def test_a_quote_missing_on_a_foreign_holiday_is_carried(book: Any) -> None:
    # ESH4 not quoted on Mar 14 (k = 19): Mar 13's price stands for it (times Mar 14's
    # USD rate), and the price move lands on Mar 15.
    Price.objects.filter(instrument__symbol="ESH4", date=DAYS[19]).delete()
    report = shown_risk(window=20)
    assert report["missing_history"] == []
    pnl = hand_pnl(es=lambda k: es(18) if k == 19 else es(k))
    assert report["var"]["0.99"] == cents(-linear_quantile(pnl, 0.01))
    assert pnl != hand_pnl()


def test_a_window_longer_than_the_history_shrinks_to_it(book: Any) -> None:
    """21 days of quotes give 20 returns: a 250-day window uses those 20, and says so."""
    report = shown_risk(window=250)
    assert (report["window"], report["window_used"], report["short_history"]) == (250, 20, True)
    assert report["var"] == shown_risk(window=20)["var"]
    assert report["var_unavailable"] is None and report["missing_history"] == []


def test_below_the_minimum_window_there_is_no_var_but_everything_else(
    book: Any, settings: Any
) -> None:
    """A floor of 25 returns on a history of 20: VaR and ES null with the reason; the
    exposures and the limits that need no VaR are still reported."""
    settings.PMS_RISK_MIN_WINDOW = 25
    limit("var", "var_95", "1000000")
    limit("gross", "gross_leverage", "1.6")
    report = shown_risk(window=250)
    assert report["var"] == {"0.95": None, "0.99": None}
    assert report["expected_shortfall"] == {"0.95": None, "0.99": None}
    assert report["var_unavailable"] == (
        "20 daily returns of history to 2024-03-15; VaR needs at least 25 (PMS_RISK_MIN_WINDOW)."
    )
    assert report["exposures"]["gross"] == "15228410.00"
    rows = {row["name"]: row for row in report["limits"]}
    assert (rows["var"]["value"], rows["var"]["status"]) == (None, "unavailable")
    assert (rows["gross"]["value"], rows["gross"]["status"]) == ("1.522841", "warning")


def test_live_risk_queries_do_not_grow_with_the_book(book: Any, macro: Any) -> None:
    RiskLimit.objects.create(name="VaR", metric="var_95", limit=Decimal("1000000"))
    with CaptureQueriesContext(connection) as small:
        shown_risk(window=20)
    for n in range(30):
        StrategyFactory.create(code=f"S{n}")
    book_services.trades_book(
        requests=[
            book_services.TradeRequest(
                instrument=symbol,
                strategy=f"S{n}",
                quantity=Decimal(1),
                price=price,
                trade_date=TODAY,
            )
            for n in range(30)
            for symbol, price in (("INDJ24", ind(20)), ("ESH4", es(20)))
        ],
        actor="test",
        source="api",
    )
    default_cache.clear()  # the market matrix of those instruments computed again
    with CaptureQueriesContext(connection) as large:
        shown_risk(window=20)
    with CaptureQueriesContext(connection) as remembered:
        shown_risk(window=20)
    # The book 9 (its positions 4, its day's accounts 5: the last close, the inception, the
    # terms, the CDI, the flows), the market 2 (prices, FX), the limits 1, the drawdown 2
    # (the timeline, and the flows since its last day); the market none once remembered.
    assert len(large) == len(small) == 14
    assert len(remembered) == 12


# --- Stress ------------------------------------------------------------------------------


def test_stress_shocks_by_hand(book: Any) -> None:
    result = selectors.stress_run(
        shocks=[
            Shock("asset_class", "equity", -0.10),
            Shock("currency", "USD", 0.05),
            Shock("instrument", "USDBRL", 0.05),
            Shock("instrument", "DI1F27", 100.0),
        ]
    )
    assert result["by_position"] == [
        # −(−2,500) × 100 bp
        {"instrument": "DI1F27", "strategy": "MACRO", "pnl": "250000.00"},
        # 2,474,940 × (−10% + 5%)
        {"instrument": "ESH4", "strategy": "MACRO", "pnl": "-123747.00"},
        # −1,237,470 × (−10% + 5%)
        {"instrument": "ESH4", "strategy": "RV", "pnl": "61873.50"},
        # 1,015,000 × −10%
        {"instrument": "INDJ24", "strategy": "MACRO", "pnl": "-101500.00"},
        # 501,000 × 5% (a BRL instrument: the USD currency shock does not move it)
        {"instrument": "USDBRL", "strategy": "MACRO", "pnl": "25050.00"},
    ]
    assert result["pnl"] == "111676.50"


def test_historical_window_replayed_from_stored_quotes(book: Any) -> None:
    # From k = 18 (Mar 13) to k = 20 (Mar 15):
    # INDJ24 100000 → 101500: 1,015,000 × 1.5% = 15,225.00
    # ESH4 × X: 4920 × 5.02 = 24,698.40 → 4940 × 5.01 = 24,749.40, a move of 51/24,698.40:
    #   MACRO 2,474,940 × 51/24,698.40 = 5,110.53 (5,110.531…); RV −2,555.27 (−2,555.2655…)
    # USDBRL 5.02 → 5.01: 501,000 × (−0.01/5.02) = −998.01 (−998.0079…)
    # DI1F27 10.50 → 10.40: −(−2,500) × (−10 bp) = −25,000.00
    result = selectors.stress_run(window=(DAYS[18], DAYS[20]))
    pnl = {(r["instrument"], r["strategy"]): r["pnl"] for r in result["by_position"]}
    assert pnl == {
        ("INDJ24", "MACRO"): "15225.00",
        ("ESH4", "MACRO"): "5110.53",
        ("ESH4", "RV"): "-2555.27",
        ("USDBRL", "MACRO"): "-998.01",
        ("DI1F27", "MACRO"): "-25000.00",
    }
    assert result["pnl"] == "-8217.75"  # the sum of the rounded rows
    assert result["missing_history"] == []


def test_quotes_read_as_stored_and_none_when_the_window_has_none(book: Any) -> None:
    # The reader of the market matrix: (key, days since `since`, level) per stored quote,
    # on PostgreSQL packed into one binary string by the database, elsewhere row by row;
    # the same from the close and from its stored float copy.
    esh4 = Price.objects.filter(instrument__symbol="ESH4")
    since = DAYS[18]
    window = esh4.filter(date__gte=DAYS[18], date__lte=DAYS[20])
    read = quotes(window, "instrument_id", "price", since)
    expected = sorted(
        (float(p.instrument_id), float((p.date - since).days), float(p.price)) for p in window
    )
    assert len(expected) == 3
    assert sorted(map(tuple, read.tolist())) == expected
    from_copy = quotes(window, "instrument_id", "price_float", since)
    assert sorted(map(tuple, from_copy.tolist())) == expected
    none = quotes(esh4.filter(date__gt=DAYS[-1]), "instrument_id", "price", since)
    assert none.shape == (0, 3)


# --- Limits and alerts ---------------------------------------------------------------------


def limit(name: str, metric: str, value: str, **scope: str) -> RiskLimit:
    return RiskLimit.objects.create(name=name, metric=metric, limit=Decimal(value), **scope)


def test_limit_values_and_statuses(book: Any) -> None:
    limit("concentration", "concentration", "0.8")
    limit("gross", "gross_leverage", "1.6")
    limit("net", "net_leverage", "1")
    limit(
        "rates gross",
        "asset_class_gross",
        "20000000",
        scope_type="asset_class",
        scope_value="rates",
    )
    limit("dv01", "dv01", "2000")
    limit("rv dv01", "dv01", "10", scope_type="strategy", scope_value="RV")
    limit("daily loss", "daily_loss", "1")
    limit("drawdown", "drawdown", "0.05")
    rows = {row["name"]: row for row in shown_risk(window=20)["limits"]}
    # DI1F27: |−10,000,000| / 10,000,000 = 1.0 > 0.8.
    assert rows["concentration"]["value"] == "1.000000"
    assert rows["concentration"]["utilization"] == "1.250000"
    assert rows["concentration"]["status"] == "breach"
    # 1.522841 / 1.6 = 0.951775625 ≥ 0.8 × limit.
    assert (rows["gross"]["value"], rows["gross"]["status"]) == ("1.522841", "warning")
    assert rows["gross"]["utilization"] == "0.951776"
    assert (rows["net"]["value"], rows["net"]["status"]) == ("0.724653", "ok")
    assert (rows["rates gross"]["value"], rows["rates gross"]["status"]) == ("10000000.00", "ok")
    assert (rows["dv01"]["value"], rows["dv01"]["status"]) == ("2500.00", "breach")
    assert (rows["rv dv01"]["value"], rows["rv dv01"]["status"]) == ("0.00", "ok")
    # Positions opened today at today's quotes: no daily P&L; no NAV history: no drawdown.
    assert (rows["daily loss"]["value"], rows["daily loss"]["status"]) == ("0.00", "ok")
    assert (rows["drawdown"]["value"], rows["drawdown"]["status"]) == ("0.000000", "ok")


def test_scoped_var_is_the_var_of_that_strategy_alone(book: Any) -> None:
    limit("rv var", "var_99", "1000", scope_type="strategy", scope_value="RV")
    [row] = shown_risk(window=20)["limits"]
    assert row["value"] == cents(-linear_quantile(hand_pnl(with_macro=False), 0.01))


def test_a_snapshot_of_a_past_date_comes_from_its_timeline(timeline: Any) -> None:
    """The live book is of Mar 15 (positions bought that day); Mar 14's close, from the
    timeline, held nothing: its risk is that of an empty book, whatever the live one is."""
    limit("dv01", "dv01", "2000")
    past = services.risk_snapshot_take(date=DAYS[-2], actor="eod", window=20)
    assert (past.date, past.nav, past.var_95, past.window_used) == (
        DAYS[-2],
        Decimal("10000000.00"),
        Decimal("0.00"),
        20,
    )
    assert past.exposures["gross"] == "0.00" and not RiskAlert.objects.exists()
    today = services.risk_snapshot_take(date=TODAY, actor="eod", window=20)
    assert today.exposures["gross"] == "15228410.00"
    assert today.var_95 == Decimal(shown_risk(window=20)["var"]["0.95"])
    assert RiskAlert.objects.get().date == TODAY  # DV01 2,500 > 2,000 on Mar 15 only


def test_snapshot_opens_one_alert_per_limit_and_breach_and_resolves_it(timeline: Any) -> None:
    dv01 = limit("dv01", "dv01", "2000")
    first = services.risk_snapshot_take(actor="eod", window=20)
    services.risk_snapshot_take(
        date=TODAY, actor="eod", window=20
    )  # recomputed: replaced, no new alert
    assert RiskSnapshot.objects.count() == 1
    assert RiskSnapshot.objects.get().pk == first.pk
    [alert] = RiskAlert.objects.all()
    assert (alert.limit_id, alert.date, alert.last_day, alert.days) == (dv01.pk, TODAY, TODAY, 1)
    assert alert.status == "open"
    assert alert.value == Decimal("2500") and alert.utilization == Decimal("1.25")
    assert alert.worst_utilization == Decimal("1.25")

    services.alert_acknowledge(alert_id=alert.pk, actor="risk-officer", note="hedging")
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", "risk-officer")

    dv01.limit = Decimal("5000")  # the day checked again under a limit raised: resolved
    dv01.save()
    services.risk_snapshot_take(actor="eod", window=20)
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_at is not None
    assert (alert.resolved_on, alert.acknowledged_by) == (TODAY, "risk-officer")


def test_a_breach_persisting_the_next_business_day_extends_its_alert(book: Any) -> None:
    """Fri Mar 15 and Mon Mar 18 are consecutive business days: one breach of 2 days."""
    dv01 = limit("dv01", "dv01", "2000")
    values = [selectors.LimitValue(dv01, Decimal("2500.00"))]
    services.alerts_update(as_of=TODAY, values=values)
    services.alerts_update(as_of=TODAY, values=values)
    monday = TODAY + dt.timedelta(days=3)
    [alert] = services.alerts_update(as_of=monday, values=values)
    assert list(RiskAlert.objects.values_list("date", "last_day", "days", "status")) == [
        (TODAY, monday, 2, "open")
    ]
    services.alerts_update(
        as_of=monday + dt.timedelta(days=1), values=[selectors.LimitValue(dv01, Decimal("1900"))]
    )
    alert.refresh_from_db()
    assert (alert.status, alert.days) == ("resolved", 2)


def test_a_snapshot_needs_the_timeline_of_its_date(book: Any) -> None:
    with pytest.raises(ValidationError) as error:
        services.risk_snapshot_take(date=DAYS[-2], actor="eod", window=20)
    assert "backfill_snapshots --start 2024-03-14 --end 2024-03-14" in str(error.value)
    assert not RiskSnapshot.objects.exists()


def test_a_past_check_does_not_resolve_a_later_alert_nor_reopen_one(book: Any) -> None:
    """Checks in any order: Mar 13 is checked after Mar 15; it leaves Mar 15's alert
    alone, and its own alert is born resolved when a later check found the limit under."""
    dv01 = limit("dv01", "dv01", "2000")
    breach, under = Decimal("2500.00"), Decimal("1900.00")
    services.alerts_update(as_of=DAYS[-1], values=[selectors.LimitValue(dv01, breach)])
    services.alerts_update(as_of=DAYS[-3], values=[selectors.LimitValue(dv01, under)])
    assert RiskAlert.objects.get(date=DAYS[-1]).status == "open"
    RiskSnapshot.objects.create(
        date=DAYS[-2],
        nav=Decimal("10000000.00"),
        window=20,
        exposures={},
        dv01_by_currency={},
        limits=[{"id": dv01.pk, "status": "ok"}],
    )
    services.alerts_update(as_of=DAYS[-3], values=[selectors.LimitValue(dv01, breach)])
    born = RiskAlert.objects.get(date=DAYS[-3])
    assert born.status == "resolved" and born.resolved_at is not None
    assert RiskAlert.objects.get(date=DAYS[-1]).status == "open"
