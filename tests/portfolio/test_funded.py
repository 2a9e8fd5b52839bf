"""Funded holdings (DESIGN.md "Instruments"): the cost base K in base currency at the
trade-date rates, and the P&L on it split into the price's move and the currency's.

Every figure is worked by hand in the comments; X is units of base currency per USD.
"""

import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portfolio import services
from portfolio.ledger import Terms, book_trade, mark_figures
from portfolio.models import Instrument, PortfolioSnapshot, Position, PositionSnapshot, Trade
from tests.factories import FxRateFactory, InstrumentFactory, PriceFactory

FUNDED = Terms("price", D("1"), D("0"), "funded")
MARGINED = Terms("price", D("1"), D("0"))
ZERO = D("0")


def test_the_currency_move_on_the_cost_is_part_of_a_funded_holding_s_pnl():
    # Buy 10 at 100 USD at X = 4.0: K = 10 × 100 × 4.0 = 4,000.
    bought = book_trade(FUNDED, ZERO, ZERO, ZERO, D("10"), D("100"), D("4.0"))
    assert (bought.local.quantity, bought.local.avg_cost, bought.cost_base) == (
        D("10"),
        D("100"),
        D("4000.00"),
    )
    # Price 100, X = 4.1: 10 × 100 × 4.1 − 4,000 = 100, all of it the currency's.
    flat = mark_figures(FUNDED, D("10"), D("100"), D("100"), D("4.1"), D("4000.00"))
    assert (flat.unrealized_pnl_base, flat.price_pnl_base, flat.fx_pnl_base) == (
        D("100.00"),
        D("0.00"),
        D("100.00"),
    )
    assert flat.market_value_base == flat.notional_base == D("4100.00")
    # Price 110: 10 × 110 × 4.1 − 4,000 = 510 = 10 × 10 × 4.1 (410, price) + 100 (FX).
    up = mark_figures(FUNDED, D("10"), D("100"), D("110"), D("4.1"), D("4000.00"))
    assert (up.unrealized_pnl_base, up.price_pnl_base, up.fx_pnl_base) == (
        D("510.00"),
        D("410.00"),
        D("100.00"),
    )
    # The same holding margined: the local P&L at today's rate, no cost base.
    margined = mark_figures(MARGINED, D("10"), D("100"), D("110"), D("4.1"))
    assert (margined.unrealized_pnl_base, margined.fx_pnl_base) == (D("410.00"), ZERO)


def test_a_partial_sale_realizes_its_share_of_the_cost():
    # Sell 4 of the 10 at 110, X = 4.2: proceeds 4 × 110 × 4.2 = 1,848; its share of K is
    # 4,000 × 4/10 = 1,600; realized 248 = 4 × 10 × 4.2 (168, price) + 4 × 100 × 0.2 (80, FX).
    sold = book_trade(FUNDED, D("10"), D("100"), D("4000.00"), D("-4"), D("110"), D("4.2"))
    assert (sold.realized_base, sold.realized_fx_base) == (D("248.00"), D("80.00"))
    assert (sold.local.quantity, sold.local.avg_cost, sold.cost_base) == (
        D("6"),
        D("100"),
        D("2400.00"),
    )
    # The 6 left at 110, X = 4.2: 2,772 − 2,400 = 372 = 252 (6 × 10 × 4.2) + 120 (6 × 100 × 0.2).
    left = mark_figures(FUNDED, D("6"), D("100"), D("110"), D("4.2"), D("2400.00"))
    assert (left.unrealized_pnl_base, left.fx_pnl_base) == (D("372.00"), D("120.00"))
    # Selling the rest releases all of K.
    out = book_trade(FUNDED, D("6"), D("100"), D("2400.00"), D("-6"), D("110"), D("4.2"))
    assert (out.realized_base, out.cost_base, out.local.quantity) == (D("372.00"), ZERO, ZERO)


def test_a_short_funded_position():
    # Sell short 10 at 100, X = 4.0: K = −4,000 (what the sale brought in).
    short = book_trade(FUNDED, ZERO, ZERO, ZERO, D("-10"), D("100"), D("4.0"))
    assert short.cost_base == D("-4000.00")
    # Price 90, X = 4.1: −10 × 90 × 4.1 + 4,000 = 310 = 410 (−10 × −10 × 4.1) − 100 (FX: the
    # 1,000 USD owed cost more in BRL).
    marked = mark_figures(FUNDED, D("-10"), D("100"), D("90"), D("4.1"), D("-4000.00"))
    assert (marked.unrealized_pnl_base, marked.fx_pnl_base) == (D("310.00"), D("-100.00"))
    # Buy back 4 at 90, X = 4.1: pays 4 × 90 × 4.1 = 1,476 for a share of K of −1,600:
    # realized 124 = 164 (price: 4 × 10 × 4.1) − 40 (FX: 4 × 100 × 0.1).
    covered = book_trade(FUNDED, D("-10"), D("100"), D("-4000.00"), D("4"), D("90"), D("4.1"))
    assert (covered.realized_base, covered.realized_fx_base, covered.cost_base) == (
        D("124.00"),
        D("-40.00"),
        D("-2400.00"),
    )


def test_crossing_zero_realizes_the_whole_cost_and_opens_the_rest_at_its_own():
    # Long 10 (K 4,000) sells 15 at 110, X = 4.2: realized 10 × 110 × 4.2 − 4,000 = 620
    # (420 price, 200 FX); the 5 short open at 110 with K = −5 × 110 × 4.2 = −2,310.
    crossed = book_trade(FUNDED, D("10"), D("100"), D("4000.00"), D("-15"), D("110"), D("4.2"))
    assert crossed.local.crossed_zero
    assert (crossed.realized_base, crossed.realized_fx_base) == (D("620.00"), D("200.00"))
    assert (crossed.local.quantity, crossed.local.avg_cost, crossed.cost_base) == (
        D("-5"),
        D("110"),
        D("-2310.00"),
    )


def test_ghostfolio_s_multi_trade_currency_case():
    # Two buys of 5 at 95 and 105 at X = 4.0 (K 4,000, average 100), marked at 120 with
    # X = 4.1: funded 10 × 120 × 4.1 − 4,000 = 920; margined 10 × 20 × 4.1 = 820.
    first = book_trade(FUNDED, ZERO, ZERO, ZERO, D("5"), D("95"), D("4.0"))
    both = book_trade(FUNDED, D("5"), D("95"), first.cost_base, D("5"), D("105"), D("4.0"))
    assert (both.local.avg_cost, both.cost_base) == (D("100"), D("4000.00"))
    funded = mark_figures(FUNDED, D("10"), D("100"), D("120"), D("4.1"), both.cost_base)
    margined = mark_figures(MARGINED, D("10"), D("100"), D("120"), D("4.1"))
    assert (funded.unrealized_pnl_base, margined.unrealized_pnl_base) == (
        D("920.00"),
        D("820.00"),
    )


def test_portfolio_performance_s_eur_base_usd_stock_case():
    # EUR base: buy 100 at 50 USD at 0.90 (4,500 EUR) and 50 at 60 at 0.85 (2,550): K 7,050,
    # average 8,000/150 USD. Sell 50 at 70 at 0.88: 3,080 − 7,050/3 = 730, of which the
    # currency's move is 8,000/3 × 0.88 − 2,350 = −3.33.
    first = book_trade(FUNDED, ZERO, ZERO, ZERO, D("100"), D("50"), D("0.90"))
    second = book_trade(FUNDED, D("100"), D("50"), first.cost_base, D("50"), D("60"), D("0.85"))
    assert second.cost_base == D("7050.00")
    sale = book_trade(
        FUNDED, D("150"), second.local.avg_cost, D("7050.00"), D("-50"), D("70"), D("0.88")
    )
    assert (sale.realized_base, sale.realized_fx_base) == (D("730.00"), D("-3.33"))
    # The 100 left at 80 USD with EUR/USD 1.1588 (X = 1/1.1588 to 10 places): 8,000 × X −
    # 4,700 = 2,203.69, of which the currency's move is 16,000/3 × X − 4,700 = −97.54.
    x = (D(1) / D("1.1588")).quantize(D("1e-10"))
    left = mark_figures(FUNDED, D("100"), sale.local.avg_cost, D("80"), x, sale.cost_base)
    assert (left.unrealized_pnl_base, left.fx_pnl_base) == (D("2203.69"), D("-97.54"))


# --- Through the services, the API and the timeline ---------------------------------------

FUNDED_FIGURES = ("cost_base", "unrealized_pnl_base", "price_pnl_base", "fx_pnl_base")
MON, TUE, WED, THU, FRI = (dt.date(2024, 3, day) for day in range(11, 16))


@pytest.fixture
def etf(db):
    return InstrumentFactory.create(
        symbol="IVV", asset_class="equity", currency="USD", settlement="funded"
    )


def _trade(quantity, price, day):
    request = services.TradeRequest("IVV", "MACRO", D(quantity), D(price), day)
    [trade] = services.trades_book(requests=[request], actor="tester", source=Trade.Source.API)
    return trade


@pytest.mark.django_db(transaction=True)  # each day's writes commit: the cached book follows
def test_a_week_of_a_funded_holding_through_the_book_and_the_timeline(etf, macro, api_client_for):
    services.capital_flow_create(date=MON, amount=D("1000000.00"), note="seed", actor="tester")
    pm = api_client_for("pm")
    book_daily = {}

    def close(day, price):
        """The day's close: its price, the mark, the open position and the book's day."""
        PriceFactory(instrument=etf, date=day, price=D(price))
        services.mark_to_market(as_of=day, actor="tester")
        book = pm.get("/api/book/").json()
        book_daily[day] = D(book["totals"]["daily_pnl"])
        [shown] = pm.get("/api/positions/", {"status": "open"}).json()["results"]
        [row] = [row for row in book["positions"] if row["status"] == "open"]
        assert {k: row[k] for k in FUNDED_FIGURES} == {k: shown[k] for k in FUNDED_FIGURES}
        return shown

    FxRateFactory(date=MON, rate=D("4.0"))
    _trade("10", "100", MON)  # K = 4,000
    shown = close(MON, "100")
    assert (shown["cost_base"], shown["unrealized_pnl_base"]) == ("4000.00", "0.00")
    FxRateFactory(date=TUE, rate=D("4.1"))
    shown = close(TUE, "100")  # 100, all FX
    assert (shown["unrealized_pnl_base"], shown["price_pnl_base"], shown["fx_pnl_base"]) == (
        "100.00",
        "0.00",
        "100.00",
    )
    FxRateFactory(date=WED, rate=D("4.1"))
    shown = close(WED, "110")  # 510 = 410 + 100
    assert (shown["unrealized_pnl_base"], shown["price_pnl_base"], shown["fx_pnl_base"]) == (
        "510.00",
        "410.00",
        "100.00",
    )
    FxRateFactory(date=THU, rate=D("4.2"))
    sale = _trade("-4", "110", THU)  # realizes 248, of which 80 FX
    assert (sale.realized_pnl_base, sale.realized_fx_pnl_base) == (D("248.00"), D("80.00"))
    assert pm.get("/api/trades/").json()["results"][-1]["realized_fx_pnl_base"] == "80.00"
    shown = close(THU, "110")  # 6 × 110 × 4.2 − 2,400 = 372 (252 price, 120 FX)
    assert (shown["cost_base"], shown["unrealized_pnl_base"], shown["fx_pnl_base"]) == (
        "2400.00",
        "372.00",
        "120.00",
    )
    FxRateFactory(date=FRI, rate=D("4.0"))
    # Sell 10 at 105, X 4.0: the 6 realize 6 × 105 × 4.0 − 2,400 = 120 (all price); the 4
    # short open at 105 with K = −1,680. At 104: −4 × 104 × 4.0 + 1,680 = 16.
    _trade("-10", "105", FRI)
    shown = close(FRI, "104")
    assert (shown["quantity"], shown["cost_base"], shown["unrealized_pnl_base"]) == (
        "-4.000000",
        "-1680.00",
        "16.00",
    )
    closed = Position.objects.get(closed_at=FRI)
    assert (closed.realized_pnl_base, closed.cost_base) == (D("368.00"), ZERO)  # 248 + 120

    # The timeline gives the same days; the P&L adds up to the NAV's move exactly.
    services.snapshots_build(start=MON, end=FRI, actor="tester")
    funds = list(PortfolioSnapshot.objects.order_by("date"))
    pnl = [f.pnl for f in funds]
    # Mon 0; Tue +100; Wed +410; Thu 620 − 510 = +110; Fri 368 + 16 − 620 = −236.
    assert pnl == [D("0.00"), D("100.00"), D("410.00"), D("110.00"), D("-236.00")]
    assert [book_daily[day] for day in (MON, TUE, WED, THU, FRI)] == pnl
    assert funds[-1].nav == D("1000384.00") == D("1000000.00") + sum(pnl)
    # The currency's part: Tue +100; Thu 120 + 80 − 100 = +100; Fri back from 4.2 to 4.0 on
    # the 6 held: −120. Over the week: the 80 realized on Thursday's sale.
    fx_by_day = [
        sum(r.daily_fx_pnl_base for r in PositionSnapshot.objects.filter(date=day))
        for day in (MON, TUE, WED, THU, FRI)
    ]
    assert fx_by_day == [ZERO, D("100.00"), ZERO, D("100.00"), D("-120.00")]
    friday = PositionSnapshot.objects.get(date=FRI, quantity__lt=0)
    assert (friday.cost_base, friday.unrealized_pnl_base) == (D("-1680.00"), D("16.00"))

    answer = pm.get("/api/attribution/", {"period": "mtd", "by": "currency"}).json()
    [usd] = answer["rows"]
    assert (usd["key"], usd["pnl"], usd["fx_pnl"]) == ("USD", "384.00", "80.00")
    assert pm.get("/api/book/").json()["nav"] == "1000384.00"  # the timeline's NAV


# --- The settlement: set on the instrument, fixed once it has trades ------------------------


@pytest.mark.django_db
def test_the_settlement_is_writable_until_the_instrument_has_trades(api_client_for, macro):
    ops = api_client_for("ops")
    body = {
        "symbol": "UST34",
        "name": "US Treasury 2034",
        "asset_class": "rates",
        "currency": "USD",
        "quote_type": "price",
        "multiplier": "10",
    }
    created = ops.post("/api/instruments/", body, format="json")
    assert (created.status_code, created.json()["settlement"]) == (201, "margined")
    patched = ops.patch("/api/instruments/UST34/", {"settlement": "funded"}, format="json")
    assert (patched.status_code, patched.json()["settlement"]) == (200, "funded")
    bad = ops.patch("/api/instruments/UST34/", {"settlement": "prepaid"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"settlement"}
    # A funded instrument's cost is q × p × m: a yield-quoted one cannot be funded.
    yield_funded = ops.patch(
        "/api/instruments/UST34/", {"quote_type": "yield", "dv01": "0.8"}, format="json"
    )
    assert yield_funded.status_code == 400 and set(yield_funded.json()) == {"settlement"}

    FxRateFactory(date=FRI, rate=D("5"))
    _trade_on("UST34", "3", "98.5", FRI)
    refused = ops.patch("/api/instruments/UST34/", {"settlement": "margined"}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"settlement": ["Cannot change settlement: UST34 has trades."]}
    position = Position.objects.get()
    # 3 × 98.5 × 10 × 5 = 14,775 paid; marked at its trade price, nothing unrealized.
    assert (position.cost_base, position.unrealized_pnl_base) == (D("14775.00"), D("0.00"))


def _trade_on(symbol, quantity, price, day):
    request = services.TradeRequest(symbol, "MACRO", D(quantity), D(price), day)
    return services.trades_book(requests=[request], actor="tester", source=Trade.Source.API)


@pytest.mark.django_db
def test_instruments_imported_from_csv_with_their_settlement(tmp_path, macro):
    path = tmp_path / "instruments.csv"
    path.write_text(
        "symbol,name,asset_class,currency,quote_type,settlement,multiplier\n"
        "IVV,iShares Core S&P 500 ETF,equity,USD,price,funded,1\n"
        "ESZ6,E-mini S&P 500,equity,USD,price,,50\n"
    )
    call_command("import_instruments", str(path))
    assert dict(Instrument.objects.values_list("symbol", "settlement")) == {
        "IVV": "funded",
        "ESZ6": "margined",
    }
    # Stored symbols are changed by a later file; a traded one keeps its settlement, and one
    # bad line leaves every line unwritten.
    FxRateFactory(date=FRI, rate=D("5"))
    _trade_on("IVV", "1", "500", FRI)
    path.write_text(
        "symbol,name,asset_class,currency,quote_type,settlement\n"
        "ESZ6,E-mini S&P 500 future,equity,USD,price,margined\n"
        "IVV,iShares Core S&P 500 ETF,equity,USD,price,margined\n"
        "TLT,iShares 20+ Year Treasury,rates,USD,yield,funded\n"
    )
    with pytest.raises(CommandError) as error:
        call_command("import_instruments", str(path))
    assert str(error.value) == (
        f"{path}: nothing imported: 2 bad line(s). Fix them and run again:\n"
        "  line 3: settlement: Cannot change settlement: IVV has trades.\n"
        "  line 4: dv01: A yield-quoted instrument needs a positive dv01. settlement: A funded "
        "instrument is quoted in price (its cost is quantity × price × multiplier): hold a "
        "yield-quoted bond as margined, or quote it by price."
    )
    assert Instrument.objects.get(symbol="ESZ6").name == "E-mini S&P 500"
    assert not Instrument.objects.filter(symbol="TLT").exists()
    path.write_text(
        "symbol,name,asset_class,currency,quote_type\nESZ6,E-mini S&P 500 future,equity,USD,price\n"
    )
    out = StringIO()
    call_command("import_instruments", str(path), stdout=out)
    assert out.getvalue().endswith("Instruments imported: 0 created, 1 updated.\n")
    assert Instrument.objects.get(symbol="ESZ6").name == "E-mini S&P 500 future"
