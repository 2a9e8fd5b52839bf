"""The book through its services: FX, fees, marks, daily P&L and NAV, figures worked by hand."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import RowErrors
from portfolio import services
from portfolio.models import AuditRecord, Position, Trade
from tests.factories import InstrumentFactory, PriceFactory, StrategyFactory
from tests.shown import shown_book

pytestmark = pytest.mark.django_db

WED, THU, FRI = dt.date(2024, 3, 13), dt.date(2024, 3, 14), dt.date(2024, 3, 15)


def book(*requests: services.TradeRequest) -> list[Trade]:
    return services.trades_book(requests=list(requests), actor="tester", source=Trade.Source.API)


def trade(
    symbol: str, quantity: str, price: str, day: dt.date, fees: str = "0", strategy: str = "MACRO"
):
    return services.TradeRequest(symbol, strategy, D(quantity), D(price), day, D(fees))


def mark(day: dt.date) -> services.MarkResult:
    return services.mark_to_market(as_of=day, actor="tester")


def test_foreign_currency_position_through_three_days_with_fx_moving(spx, macro, usd):
    usd({WED: "5.00", THU: "5.10", FRI: "4.90"})
    services.capital_flow_create(date=WED, amount=D("1000000.00"), note="seed", actor="tester")

    book(trade("ESH4", "4", "5000", WED, fees="100"))
    position = Position.objects.get()
    # Marked at its trade price: no unrealized P&L yet; the fees are realized at once.
    assert (position.unrealized_pnl_base, position.realized_pnl_base, position.daily_pnl_base) == (
        D("0.00"),
        D("-100.00"),
        D("-100.00"),
    )

    PriceFactory(instrument=spx, date=WED, price=D("5010"))
    mark(WED)
    position.refresh_from_db()
    # 4 × 10 × 50 × 5.00 = 10,000; the day: 10,000 − 100 = 9,900
    assert position.unrealized_pnl_base == D("10000.00")
    assert position.daily_pnl_base == D("9900.00")
    assert position.notional_base == D("5010000.00")  # 4 × 5,010 × 50 × 5.00

    PriceFactory(instrument=spx, date=THU, price=D("5030"))
    mark(THU)
    position.refresh_from_db()
    # 4 × 30 × 50 × 5.10 = 30,600; the day: (30,600 − 100) − (10,000 − 100) = 20,600
    assert position.unrealized_pnl_base == D("30600.00")
    assert position.daily_pnl_base == D("20600.00")

    [sale] = book(trade("ESH4", "-6", "5040", FRI, fees="150"))
    # Crosses zero; the 4 long close at 5,040: 4 × 40 × 50 = 8,000 USD × 4.90 = 39,200, less 150
    assert sale.realized_pnl_base == D("39050.00")
    assert sale.fx_rate == D("4.90")
    position.refresh_from_db()
    assert position.status == Position.CLOSED and position.closed_at == FRI
    assert position.realized_pnl_base == D("38950.00")  # −100 + 39,050
    # The book is still valued at Thursday's close: Friday's trade is in its day, at that
    # close. Thursday's 20,600 + from Thursday's close (30,500) to 38,950 realized: 8,450.
    assert position.pnl_date == THU
    assert position.daily_pnl_base == D("29050.00")
    short = Position.objects.get(closed_at__isnull=True)
    assert (short.quantity, short.avg_cost, short.opened_at) == (D("-2"), D("5040"), FRI)
    assert sale.position_id == short.pk
    # Valued at Thursday's close and rate: −2 × 5,030 × 50 × 5.10 = −2,565,300; its day
    # −2 × (5,030 − 5,040) × 50 × 5.10 = 5,100
    assert (short.last_price, short.price_date, short.pnl_date) == (D("5030"), THU, THU)
    assert short.notional_base == D("-2565300.00")
    assert short.daily_pnl_base == D("5100.00")
    assert shown_book()["totals"]["daily_pnl"] == "34150.00"  # 29,050 + 5,100

    PriceFactory(instrument=spx, date=FRI, price=D("5020"))
    result = mark(FRI)
    assert (result.positions_updated, result.stale, result.missing_fx) == (1, [], [])
    short.refresh_from_db()
    # −2 × (5,020 − 5,040) × 50 × 4.90 = 9,800
    assert short.unrealized_pnl_base == D("9800.00") and short.daily_pnl_base == D("9800.00")
    assert result.total_unrealized_pnl == D("9800.00")

    position.refresh_from_db()
    assert (position.pnl_date, position.daily_pnl_base) == (FRI, D("8450.00"))
    the_book = shown_book()
    assert the_book["as_of"] == "2024-03-15"
    assert the_book["totals"] == {
        "positions": 2,  # the short, and the long closed today
        "open_positions": 1,
        "gross_exposure": "2459800.00",  # |−2 × 5,020 × 50 × 4.90|
        "net_exposure": "-2459800.00",
        "long_exposure": "0.00",
        "short_exposure": "-2459800.00",
        "unrealized_pnl": "9800.00",
        "realized_pnl": "38950.00",
        "daily_pnl": "18250.00",  # 8,450 closed today + 9,800
    }
    assert the_book["nav"] == "1048750.00"  # 1,000,000 + 38,950 + 9,800


def test_daily_pnl_sums_to_the_change_of_total_pnl(spx, macro, usd):
    usd({WED: "5.00", THU: "5.10", FRI: "4.90"})
    book(trade("ESH4", "4", "5000", WED))
    daily = []
    for day, price in ((WED, "5010"), (THU, "4990"), (FRI, "5060")):
        PriceFactory(instrument=spx, date=day, price=D(price))
        mark(day)
        daily.append(Position.objects.get().daily_pnl_base)
    position = Position.objects.get()
    assert sum(daily) == position.unrealized_pnl_base + position.realized_pnl_base
    assert position.unrealized_pnl_base == D("58800.00")  # 4 × 60 × 50 × 4.90


def test_yield_instrument_marks_and_daily_pnl(di1, macro):
    book(trade("DI1F27", "100", "11.50", THU))
    PriceFactory(instrument=di1, date=THU, price=D("11.45"))
    mark(THU)
    position = Position.objects.get()
    # −100 × 25 × (11.45 − 11.50) × 100 = 12,500; notional 100 × 100,000; DV01 100 × 25
    assert position.unrealized_pnl_base == D("12500.00")
    assert position.notional_base == D("10000000.00")
    assert position.dv01_base == D("2500.00")
    PriceFactory(instrument=di1, date=FRI, price=D("11.52"))
    mark(FRI)
    position.refresh_from_db()
    # −100 × 25 × 0.02 × 100 = −5,000; the day: −5,000 − 12,500
    assert position.unrealized_pnl_base == D("-5000.00")
    assert position.daily_pnl_base == D("-17500.00")


def test_close_part_then_all_of_a_position(ibov, macro):
    book(trade("INDJ24", "10", "127000", THU))
    position = Position.objects.get()
    position = services.position_close(
        position=position, price=D("127500"), quantity=D("4"), actor="pm"
    )
    # 4 × 500 × 1 = 2,000 realized; 6 left at the same cost
    assert (position.quantity, position.avg_cost, position.realized_pnl_base) == (
        D("6"),
        D("127000"),
        D("2000.00"),
    )
    with pytest.raises(ValidationError):
        services.position_close(position=position, price=D("127500"), quantity=D("7"), actor="pm")
    position = services.position_close(
        position=position, price=D("126000"), fees=D("10"), actor="pm"
    )
    # 6 × (−1,000) − 10 = −6,010 more: 2,000 − 6,010 = −4,010
    assert position.status == Position.CLOSED
    assert (position.quantity, position.realized_pnl_base) == (D("0"), D("-4010.00"))
    assert Trade.objects.count() == 3
    assert AuditRecord.objects.filter(action="trade.book").count() == 3


def test_mark_reports_stale_unpriced_and_missing_fx_positions(ibov, spx, macro, usd):
    usd({THU: "5.00"})
    eur = InstrumentFactory(symbol="FESXH4", currency="EUR", multiplier=D("10"))
    unpriced = InstrumentFactory(symbol="NEWCO")
    PriceFactory(instrument=ibov, date=THU, price=D("127000"))
    PriceFactory(instrument=spx, date=FRI, price=D("5000"))
    PriceFactory(instrument=eur, date=FRI, price=D("4900"))
    book(
        trade("INDJ24", "1", "126000", THU),
        trade("ESH4", "1", "4990", THU),
        trade(unpriced.symbol, "1", "10", THU),
    )
    with pytest.raises(RowErrors) as no_fx:
        book(trade("FESXH4", "1", "4900", THU))
    assert no_fx.value.errors == {
        0: {"trade_date": ["No EUR FX rate on or before 2024-03-14: load FX rates first."]}
    }

    result = mark(FRI)
    assert result.stale == ["INDJ24", "NEWCO"]
    assert result.positions_updated == 2
    ibov_position = Position.objects.get(instrument=ibov)
    # Marked at Thursday's 127,000 (the latest on or before Friday), reported stale.
    assert (ibov_position.last_price, ibov_position.price_date) == (D("127000"), THU)
    assert ibov_position.unrealized_pnl_base == D("1000.00")
    assert Position.objects.get(instrument=unpriced).price_date == THU  # its trade mark, untouched


def test_mark_in_the_future_is_refused(macro):
    with pytest.raises(ValidationError):
        services.mark_to_market(as_of=dt.date(2024, 3, 18), actor="tester")


def test_bad_trades_write_nothing(ibov, macro):
    with pytest.raises(RowErrors) as errors:
        book(
            trade("INDJ24", "1", "126000", THU),
            trade("NOPE", "1", "1", THU),
            trade("INDJ24", "1", "126000", dt.date(2024, 3, 16), strategy="NOSUCH"),
        )
    assert errors.value.errors == {
        1: {"instrument": ["Unknown instrument 'NOPE'."]},
        2: {
            "strategy": ["Unknown strategy 'NOSUCH'."],
            "trade_date": ["2024-03-16 is in the future."],
        },
    }
    assert not Trade.objects.exists() and not Position.objects.exists()


def test_mark_to_market_queries_do_not_grow_with_positions(ibov, macro):
    strategies = [StrategyFactory(code=f"S{n}") for n in range(30)]
    PriceFactory(instrument=ibov, date=FRI, price=D("127000"))
    mark(WED)  # the book has a valuation date, as every book but a new one has

    def queries_to_mark(n: int) -> int:
        book(*(trade("INDJ24", "1", "126000", THU, strategy=s.code) for s in strategies[:n]))
        with CaptureQueriesContext(connection) as queries:
            assert (
                mark(FRI).positions_updated
                == Position.objects.filter(closed_at__isnull=True).count()
            )
        return len(queries)

    assert queries_to_mark(3) == queries_to_mark(30)


def test_book_totals_are_the_sums_of_its_rows_with_a_position_closed_today(spx, ibov, macro, usd):
    usd({WED: "5.00", THU: "5.10"})
    services.capital_flow_create(date=WED, amount=D("1000000.00"), note="seed", actor="tester")
    rv = StrategyFactory(code="RV")
    book(
        trade("ESH4", "4", "5000", WED),
        trade("INDJ24", "-3", "127000", WED),
        services.TradeRequest("INDJ24", rv.code, D("2"), D("126500"), WED),
    )
    for day, es, ind in ((WED, "5010", "127100"), (THU, "5030", "126800")):
        PriceFactory(instrument=spx, date=day, price=D(es))
        PriceFactory(instrument=ibov, date=day, price=D(ind))
        mark(day)
    book(trade("INDJ24", "3", "126700", FRI))  # closes the short on Friday, the book at THU
    report = shown_book()
    rows, totals = report["positions"], report["totals"]
    assert [(row["instrument"], row["strategy"], row["status"]) for row in rows] == [
        ("ESH4", "MACRO", "open"),
        ("INDJ24", "RV", "open"),
        ("INDJ24", "MACRO", "closed"),
    ]

    def total(field, keep=lambda value: True):
        return str(sum((D(r[field]) for r in rows if keep(D(r[field]))), D("0.00")))

    assert totals == {
        "positions": 3,
        "open_positions": 2,
        "gross_exposure": str(sum((abs(D(r["notional_base"])) for r in rows), D("0.00"))),
        "net_exposure": total("notional_base"),
        "long_exposure": total("notional_base", lambda v: v > 0),
        "short_exposure": total("notional_base", lambda v: v < 0),
        "unrealized_pnl": total("unrealized_pnl_base"),
        "realized_pnl": total("realized_pnl_base"),
        "daily_pnl": total("daily_pnl_base"),
    }
    # By hand at Thursday's close: ESH4 4 × 30 × 50 × 5.10 − 4 × 10 × 50 × 5.00 = 30,600 −
    # 10,000 = 20,600 the day (price and rate moved);
    # INDJ24 RV 2 × (126,800 − 127,100) = −600; the short −3 × (126,800 − 127,100) = 900,
    # and bought back on Friday at 126,700, valued at Thursday's close: 3 × (126,800 −
    # 126,700) = 300, so its day is 1,200.
    assert [D(r["daily_pnl_base"]) for r in rows] == [D("20600.00"), D("-600.00"), D("1200.00")]
    assert totals["daily_pnl"] == "21200.00"


def test_a_close_or_fx_rate_up_to_the_valuation_date_re_marks_the_book(spx, ibov, macro, usd):
    usd({WED: "5.00"})
    book(trade("ESH4", "2", "5000", WED), trade("INDJ24", "1", "127000", WED))
    services.prices_upsert(
        rows=[{"instrument": "ESH4", "date": WED, "price": D("5010")}], actor="ops"
    )
    mark(WED)  # INDJ24 has no close yet: it keeps its trade price, stale
    es, ind = Position.objects.get(instrument=spx), Position.objects.get(instrument=ibov)
    assert es.unrealized_pnl_base == D("5000.00")  # 2 × 10 × 50 × 5.00

    # Wednesday's INDJ24 close arrives late, and ESH4's is corrected: both re-marked at once.
    services.prices_upsert(
        rows=[
            {"instrument": "INDJ24", "date": WED, "price": D("127400")},
            {"instrument": "ESH4", "date": WED, "price": D("5020")},
        ],
        actor="ops",
    )
    es.refresh_from_db()
    ind.refresh_from_db()
    assert (ind.last_price, ind.price_date, ind.unrealized_pnl_base) == (
        D("127400"),
        WED,
        D("400.00"),  # 1 × (127,400 − 127,000)
    )
    assert es.unrealized_pnl_base == D("10000.00")  # 2 × 20 × 50 × 5.00
    # A corrected rate re-marks the positions in its currency: 2 × 20 × 50 × 5.05 = 10,100.
    services.fx_rates_upsert(
        rows=[{"currency": "USD", "date": WED, "rate": D("5.05")}], actor="ops"
    )
    es.refresh_from_db()
    assert (es.fx_rate, es.unrealized_pnl_base) == (D("5.05"), D("10100.00"))
    # Thursday's close is after the valuation date: it waits for the mark.
    services.prices_upsert(
        rows=[{"instrument": "ESH4", "date": THU, "price": D("5100")}], actor="ops"
    )
    es.refresh_from_db()
    assert (es.price_date, es.pnl_date) == (WED, WED)
    assert shown_book()["valuation_date"] == "2024-03-13"
