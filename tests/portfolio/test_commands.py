"""Commands: CSV imports (whole file or nothing, bad lines named) and the demo fund."""

import datetime as dt
import stat
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from demo.management.commands import load_demo
from portfolio.models import (
    AuditRecord,
    FundTerms,
    Instrument,
    PortfolioSnapshot,
    Position,
    Price,
    Strategy,
    Trade,
)
from portfolio.selectors import nav_reconciliation
from tests.factories import PASSWORD
from tests.shown import shown_book
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


@pytest.mark.slow
def test_load_demo_builds_a_consistent_fund():
    out = StringIO()
    call_command("load_demo", "--positions", "45", "--password", PASSWORD, stdout=out)
    assert Instrument.objects.count() == 33  # at TODAY every DI1 contract is still traded
    assert Strategy.objects.count() == 6
    # Two held outright (a Treasury, an ETF), each with its cost base in BRL.
    funded = Position.objects.filter(instrument__settlement="funded", closed_at__isnull=True)
    assert set(funded.values_list("instrument__symbol", flat=True)) == {"UST34", "IVV"}
    assert all(p.cost_base and p.cost_base * p.quantity > 0 for p in funded)
    assert {"BRL", "USD", "EUR", "JPY"} <= set(
        Instrument.objects.values_list("currency", flat=True)
    )
    assert Instrument.objects.filter(quote_type="yield").count() >= 5
    assert Position.objects.filter(closed_at__isnull=True).count() == 45
    assert Position.objects.filter(
        closed_at__isnull=False
    ).exists()  # some were closed along the way
    book = shown_book()
    assert book["stale_prices"] == []
    # NAV = flows + realized (all positions, closed long ago too) + unrealized (open) + what
    # the cash earned less the fees, every day of the timeline (built to the book's day).
    flows = D("1000000000.00") + D("150000000.00") - D("80000000.00")
    realized = sum(Position.objects.values_list("realized_pnl_base", flat=True), D(0))
    days = PortfolioSnapshot.objects.all()
    accounts = sum((d.carry - d.management_fee - d.performance_fee for d in days), D(0))
    assert days.latest("date").date.isoformat() == book["valuation_date"]
    assert accounts > 0  # the demo's cash earns the CDI, more than its fees
    assert D(book["nav"]) == flows + realized + D(book["totals"]["unrealized_pnl"]) + accounts
    # Its terms, and the administrator's NAV of every day, which reconciles with the fund's.
    assert FundTerms.objects.get().management_fee == D("0.02")
    reconciled = nav_reconciliation()
    assert len(reconciled) == days.count() and {r.status for r in reconciled} == {"ok"}
    assert f"password {PASSWORD!r}" in out.getvalue()
    # A week of signals, one per instrument still traded and day, and the last day's
    # proposals pending.
    assert Signal.objects.count() == 33 * 5
    last_day = Signal.objects.latest("date").date
    pending = TradeProposal.objects.filter(status="pending")
    assert pending.exists() and set(pending.values_list("date", flat=True)) == {last_day}
    # The same seed gives the same markets, at any size of book; a larger book spreads over
    # more strategies ("sleeves": 250 positions over 33 instruments need 8).
    first_prices = list(
        Price.objects.order_by("instrument__symbol", "date").values_list("price", flat=True)[:50]
    )
    call_command(
        "load_demo", "--reset", "--positions", "250", "--password", PASSWORD, stdout=StringIO()
    )
    assert (
        list(
            Price.objects.order_by("instrument__symbol", "date").values_list("price", flat=True)[
                :50
            ]
        )
        == first_prices
    )
    assert Position.objects.filter(closed_at__isnull=True).count() == 250
    assert Strategy.objects.count() == 8
    with pytest.raises(CommandError, match="--reset"):
        call_command("load_demo")
    call_command("load_demo", "--if-empty", stdout=out)
    assert "already loaded" in out.getvalue()


DEMO_USERS = ["admin", "viewer", "pm", "risk", "ops"]


@pytest.fixture
def password_file(tmp_path):
    """The demo password's file: in the test's own folder (conftest), never the real var/."""
    path = load_demo.password_file()
    assert path is not None and path.parent == tmp_path
    return path


def logins(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", "--if-empty", *args, stdout=out)
    return out.getvalue()


def logs_in(password: str) -> bool:
    return all(authenticate(username=name, password=password) for name in DEMO_USERS)


def test_load_demo_keeps_the_demo_password(spx, password_file):
    # The first load (here on data already there, with no demo users) chooses the
    # password and stores it, readable by its owner only.
    first = logins()
    password = password_file.read_text().strip()
    assert f"password {password!r}; stored in {password_file}" in first
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert logs_in(password)
    # Every demo user is staff (the admin), admin the only superuser.
    users = User.objects.filter(username__in=DEMO_USERS)
    assert {(u.username, u.is_staff, u.is_superuser) for u in users} == {
        (name, True, name == "admin") for name in DEMO_USERS
    }
    # Each later start leaves the users alone and prints the same logins.
    again = logins()
    assert f"password {password!r}" in again and "stored in" not in again
    assert logs_in(password)
    # A new password only on request, stored.
    logins("--reset-passwords")
    new = password_file.read_text().strip()
    assert (
        new != password and logs_in(new) and authenticate(username="pm", password=password) is None
    )
    call_command("load_demo", "--password", "chosen-one", stdout=StringIO())  # data kept
    assert password_file.read_text().strip() == "chosen-one" and logs_in("chosen-one")


def test_load_demo_without_the_stored_password_says_how_to_reset(spx, password_file):
    logins("--password", "chosen-one")
    pm = User.objects.get(username="pm")
    pm.set_password("pm-own-passphrase")
    pm.is_staff = False  # as the demo users were made before they were staff
    pm.save()
    changed = logins()
    assert (
        "password of pm is no longer the stored one" in changed and "--reset-passwords" in changed
    )
    pm.refresh_from_db()
    assert pm.is_staff and pm.check_password("pm-own-passphrase")  # staff again, its password kept
    password_file.write_text("another-database-s\n")  # written for another database
    foreign = logins()
    assert f"{password_file} holds a password none of them has" in foreign
    assert "another-database-s" not in foreign and "--reset-passwords" in foreign
    password_file.unlink()
    missing = logins()
    assert f"{password_file} is missing" in missing
    assert "manage.py load_demo --reset-passwords" in missing
    assert "password '" not in missing and not password_file.exists()
    assert authenticate(username="risk", password="chosen-one")  # left alone
    logins("--reset-passwords")
    assert logs_in(password_file.read_text().strip())
