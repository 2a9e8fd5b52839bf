"""Commands: CSV imports (whole file or nothing, bad lines named) and the demo fund."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from portfolio import selectors
from portfolio.models import AuditRecord, Instrument, Position, Price, Strategy, Trade
from trading.models import Signal, TradeProposal

pytestmark = pytest.mark.django_db


def csv_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "input.csv"
    path.write_text(text)
    return str(path)


def test_import_prices_whole_file(tmp_path, ibov, spx):
    out = StringIO()
    call_command(
        "import_prices",
        csv_file(
            tmp_path, "instrument,date,price\nINDJ24,2024-03-14,127000\nESH4,2024-03-14,5100.5\n"
        ),
        stdout=out,
    )
    assert "2 created, 0 updated" in out.getvalue()
    assert Price.objects.get(instrument=spx).price == D("5100.5")


def test_import_prices_with_bad_lines_imports_nothing(tmp_path, ibov):
    path = csv_file(
        tmp_path,
        "instrument,date,price\nINDJ24,2024-03-14,127000\nINDJ24,14/03/2024,1\nNOPE,2024-03-13,1\n",
    )
    with pytest.raises(CommandError) as error:
        call_command("import_prices", path)
    assert "nothing imported" in str(error.value)
    assert "line 3: date:" in str(error.value)
    assert not Price.objects.exists()
    # Lines that parse are then checked against the book, still naming their lines.
    Path(path).write_text("instrument,date,price\nINDJ24,2024-03-14,127000\nNOPE,2024-03-13,1\n")
    with pytest.raises(CommandError, match="line 3: instrument: Unknown instrument 'NOPE'"):
        call_command("import_prices", path)
    assert not Price.objects.exists()


def test_import_prices_missing_columns_or_file(tmp_path):
    with pytest.raises(CommandError, match="missing column"):
        call_command("import_prices", csv_file(tmp_path, "symbol,date,price\nX,2024-03-14,1\n"))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_prices", str(tmp_path / "absent.csv"))


def test_import_trades_books_in_trade_date_order(tmp_path, spx, macro, usd):
    usd({dt.date(2024, 3, 13): "5.00", dt.date(2024, 3, 14): "5.10"})
    path = csv_file(
        tmp_path,
        "trade_date,instrument,strategy,quantity,price,fees,note\n"
        "2024-03-14,ESH4,MACRO,-1,5050,10,trim\n"
        "2024-03-13,ESH4,MACRO,3,5000,,entry\n",
    )
    call_command("import_trades", path, stdout=StringIO())
    position = Position.objects.get()
    assert (position.quantity, position.avg_cost) == (D("2"), D("5000"))
    # 1 × 50 × 50 = 2,500 USD × 5.10 = 12,750, less 10 fees
    assert position.realized_pnl_base == D("12740.00")
    assert list(Trade.objects.order_by("trade_date").values_list("note", "source")) == [
        ("entry", "import"),
        ("trim", "import"),
    ]


def test_import_trades_with_a_bad_line_books_nothing(tmp_path, spx, macro, usd):
    usd({dt.date(2024, 3, 13): "5.00"})
    path = csv_file(
        tmp_path,
        "trade_date,instrument,strategy,quantity,price\n2024-03-13,ESH4,MACRO,3,5000\n2024-03-13,ESH4,NOPE,1,5000\n",
    )
    with pytest.raises(CommandError, match="line 3: strategy: Unknown strategy 'NOPE'"):
        call_command("import_trades", path)
    assert (
        not Trade.objects.exists()
        and not Position.objects.exists()
        and not AuditRecord.objects.exists()
    )


def test_load_demo_builds_a_consistent_fund():
    out = StringIO()
    call_command("load_demo", "--positions", "45", "--password", "pw", stdout=out)
    assert Instrument.objects.count() == 30
    assert Strategy.objects.count() == 6
    assert {"BRL", "USD", "EUR", "JPY"} <= set(
        Instrument.objects.values_list("currency", flat=True)
    )
    assert Instrument.objects.filter(quote_type="yield").count() >= 5
    assert Position.objects.filter(closed_at__isnull=True).count() == 45
    assert Position.objects.filter(
        closed_at__isnull=False
    ).exists()  # some were closed along the way
    book = selectors.book()
    assert book["stale_prices"] == []
    # NAV = flows + realized (all positions) + unrealized (open), to the cent.
    flows = D("1000000000.00") + D("150000000.00") - D("80000000.00")
    assert D(book["nav"]) == flows + D(book["totals"]["realized_pnl"]) + D(
        book["totals"]["unrealized_pnl"]
    )
    assert "password 'pw'" in out.getvalue()
    # A week of signals, one per instrument and day, and the last day's proposals pending.
    assert Signal.objects.count() == 30 * 5
    last_day = Signal.objects.latest("date").date
    pending = TradeProposal.objects.filter(status="pending")
    assert pending.exists() and set(pending.values_list("date", flat=True)) == {last_day}
    # The same seed gives the same fund.
    first_prices = list(
        Price.objects.order_by("instrument__symbol", "date").values_list("price", flat=True)[:50]
    )
    call_command("load_demo", "--reset", "--positions", "45", "--password", "pw", stdout=StringIO())
    assert (
        list(
            Price.objects.order_by("instrument__symbol", "date").values_list("price", flat=True)[
                :50
            ]
        )
        == first_prices
    )
    with pytest.raises(CommandError, match="--reset"):
        call_command("load_demo")
    call_command("load_demo", "--if-empty", stdout=out)
    assert "already loaded" in out.getvalue()


def test_load_demo_scales_with_sleeves():
    call_command("load_demo", "--positions", "250", "--password", "pw", stdout=StringIO())
    assert Position.objects.filter(closed_at__isnull=True).count() == 250
    assert Strategy.objects.count() == 9  # 250 positions over 30 instruments need 9 strategies
