"""CSV imports of prices and FX rates, by command and by the admin's upload: every bad line
of every kind named in one run and nothing written, Excel's `;`-separated decimal-comma
files read as their author meant, `import_fx_rates` through the API's FX service."""

import datetime as dt
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portfolio.admin_uploads import UPLOAD_MAX_BYTES
from portfolio.models import AuditRecord, FxRate, Instrument, Price
from tests.conftest import TODAY
from tests.factories import FxRateFactory, PriceFactory

pytestmark = pytest.mark.django_db

YESTERDAY = TODAY - dt.timedelta(days=1)  # Thursday 2024-03-14; TODAY is Friday 2024-03-15


def write(tmp_path: Path, text: str, name: str = "input.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def refusal(command: str, path: str, *args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command(command, path, *args, stdout=StringIO())
    return str(error.value)


# --- Every bad line in one run ------------------------------------------------------------

MIXED_PRICES = (
    "instrument,date,price\n"
    "INDJ24,2024-03-13,100500\n"  # line 2: good
    "INDJ24,31/02/2024,100000\n"  # line 3: not a date
    "NOPE,2024-03-13,1\n"  # line 4: unknown symbol
    "INDJ24,2024-03-15,140000\n"  # line 5: 40% from Mar 14's 100000 (band 25%)
    "INDJ24,2024-03-13,100600\n"  # line 6: line 2's instrument and date again
    "INDJ24,2024-03-12,1,5\n"  # line 7: four values for three columns
    "INDJ24,2024-03-11,1e5\n"  # line 8: not a plain decimal
    "INDJ24,2024-03-09,100000\n"  # line 9: a Saturday
)


def test_every_bad_line_of_every_kind_in_one_run_and_nothing_written(tmp_path, ibov):
    PriceFactory(instrument=ibov, date=YESTERDAY, price=D("100000"))
    message = refusal("import_prices", write(tmp_path, MIXED_PRICES))
    assert "nothing imported: 7 bad line(s)" in message
    assert "line 3: date: Date has wrong format" in message
    assert "line 4: instrument: Unknown instrument 'NOPE'." in message
    # 140000 / 100000 − 1 = 40%, beyond the 25% band.
    assert (
        "line 5: price: 140,000 is 40% from the last close 100,000 (band 25%): "
        "confirm it if it is right." in message
    )
    assert "line 6: instrument: Same instrument and date as line 2." in message
    assert "line 7: columns: 4 values for 3 columns" in message
    assert "line 8: price: A valid number is required." in message
    assert "line 9: date: 2024-03-09 is a Saturday" in message
    assert "line 2:" not in message
    assert "accepted with --confirm-outliers" in message
    assert list(Price.objects.values_list("price", flat=True)) == [D("100000")]
    # Confirming the outlier does not let the other bad lines through.
    message = refusal("import_prices", write(tmp_path, MIXED_PRICES), "--confirm-outliers")
    assert "6 bad line(s)" in message and "line 5:" not in message
    assert Price.objects.count() == 1


def queries_naming_bad_lines(tmp_path: Path, days: int) -> int:
    """The queries of an import of `days` days of three lines each: a good close, an
    unknown symbol, a price that is not a number; every bad line named."""
    lines = ["instrument,date,price"]
    for day in range(1, days + 1):  # weekdays from Tue 2022-01-04 on
        date = dt.date(2022, 1, 3) + dt.timedelta(days=7 * (day // 5) + day % 5)
        lines += [f"INDJ24,{date},{100000 + day}", f"NOPE{day},{date},1", f"ESH4,{date},x"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    with CaptureQueriesContext(connection) as queries:
        message = refusal("import_prices", path)
    assert f"nothing imported: {2 * days} bad line(s)" in message
    assert f"line {3 * days}: instrument: Unknown instrument 'NOPE{days}'." in message
    assert f"line {3 * days + 1}: price: A valid number is required." in message
    return len(queries)


def test_bad_lines_are_found_with_set_based_queries(tmp_path, ibov, spx):
    """As many queries for 1,500 lines as for 15: none a line."""
    assert queries_naming_bad_lines(tmp_path, 5) == queries_naming_bad_lines(tmp_path, 500)


# --- `;`-separated, decimal comma -----------------------------------------------------------


def test_an_excel_file_with_semicolons_decimal_commas_and_a_bom(tmp_path, ibov, spx):
    path = write(
        tmp_path,
        "\ufeffinstrument;date;price\r\n"
        "INDJ24;14/03/2024;127.000,50\r\n"  # 127 thousand and a half
        "ESH4;2024-03-14;5.100,25\r\n"  # an ISO date is read too
        "INDJ24;15/03/2024;127100\r\n",  # no mark at all: a whole number
    )
    out = StringIO()
    call_command("import_prices", path, stdout=out)
    assert "3 lines (';'-separated, decimal comma)" in out.getvalue()
    assert "3 created, 0 updated" in out.getvalue()
    assert Price.objects.get(instrument=ibov, date=YESTERDAY).price == D("127000.50")
    assert Price.objects.get(instrument=spx, date=YESTERDAY).price == D("5100.25")
    assert Price.objects.get(instrument=ibov, date=TODAY).price == D("127100")


def test_excels_trailing_separator_is_no_column(tmp_path, ibov):
    """Excel may end every line with the separator: an empty last column, nothing else."""
    path = write(tmp_path, "instrument;date;price;\r\nINDJ24;14/03/2024;127.000,50;\r\n")
    call_command("import_prices", path, stdout=StringIO())
    assert Price.objects.get(instrument=ibov, date=YESTERDAY).price == D("127000.50")


def test_a_number_that_could_be_read_two_ways_is_refused(tmp_path, ibov):
    path = write(
        tmp_path,
        "instrument;date;price\n"
        "INDJ24;13/03/2024;1.234\n"  # 1234 to Excel, 1.234 to a program: refused
        "INDJ24;14/03/2024;5.1234\n"  # a decimal point: not this dialect's
        "INDJ24;31/02/2024;1,5\n"  # no such day
        "INDJ24;15/03/2024;1.234.567,8\n"  # good: 1234567.8
        "INDJ24;1.3.2024;1,5x\n",  # neither date nor number
    )
    message = refusal("import_prices", path)
    assert "4 bad line(s)" in message
    assert (
        "line 6: date: '1.3.2024' is not a date (dd/mm/yyyy). price: '1,5x' is not a number"
        in message
    )
    assert "line 2: price: '1.234' is ambiguous" in message and "write 1234 for 1234" in message
    assert "line 3: price: '5.1234' is not a number as a ';'-separated file writes one" in message
    assert "line 4: date: '31/02/2024' is not a date (dd/mm/yyyy)." in message
    assert "line 5" not in message
    assert not Price.objects.exists()


def test_a_comma_separated_file_keeps_ascii_decimals(tmp_path, ibov):
    path = write(tmp_path, 'instrument,date,price\nINDJ24,2024-03-14,"127000,5"\n')
    assert (
        "line 2: price: '127000,5': a ','-separated file writes numbers with a decimal point"
        in refusal("import_prices", path)
    )
    call_command(
        "import_prices",
        write(tmp_path, "instrument,date,price\nINDJ24,2024-03-14,127000.5\n"),
        stdout=StringIO(),
    )
    assert Price.objects.get().price == D("127000.5")


def test_a_line_with_too_many_values_stops_the_file_alone(tmp_path, ibov):
    """The other lines good: still nothing written (a decimal comma split a price)."""
    path = write(
        tmp_path, "instrument,date,price\nINDJ24,2024-03-13,127000\nINDJ24,2024-03-14,127000,5\n"
    )
    message = refusal("import_prices", path)
    assert "nothing imported: 1 bad line(s)" in message
    assert (
        "line 3: columns: 4 values for 3 columns (separate them with ',' and nothing else)."
        in message
    )
    assert not Price.objects.exists()


def test_blank_lines_are_skipped_and_the_lines_keep_their_numbers(tmp_path, ibov, macro):
    """Excel writes lines of separators alone below a table; a quoted note spans lines."""
    bad = "instrument;date;price\nINDJ24;14/03/2024;127.000,5\n\nNOPE;14/03/2024;1\n;;\n"
    message = refusal("import_prices", write(tmp_path, bad))
    assert "1 bad line(s)" in message
    assert "line 4: instrument: Unknown instrument 'NOPE'." in message
    good = "instrument;date;price\n\nINDJ24;14/03/2024;127.000,5\n;;\n;;\n"
    call_command("import_prices", write(tmp_path, good), stdout=StringIO())
    assert Price.objects.get().price == D("127000.5")
    trades = (
        "trade_date,instrument,strategy,quantity,price,note\n"
        '2024-03-14,INDJ24,MACRO,1,127000,"two\nlines"\n'
        "2024-03-14,INDJ24,NOPE,1,127000,\n"  # line 4, after a row on lines 2 and 3
    )
    assert "line 4: strategy:" in refusal("import_trades", write(tmp_path, trades))


def test_a_header_that_mixes_separators_or_uses_tabs(tmp_path):
    mixed = write(tmp_path, "instrument;date,price\nINDJ24;2024-03-14,1\n")
    assert "the header mixes ',' and ';'" in refusal("import_prices", mixed)
    tabs = write(tmp_path, "instrument\tdate\tprice\nINDJ24\t2024-03-14\t1\n")
    message = refusal("import_prices", tabs)
    assert "missing column(s) date, instrument, price" in message and "tabs" in message


# --- import_fx_rates ----------------------------------------------------------------------------


def test_import_fx_rates_writes_every_row_through_the_service(tmp_path):
    FxRateFactory(currency="USD", date=dt.date(2024, 3, 13), rate=D("4.95"))
    path = write(
        tmp_path,
        "date,currency,rate\n2024-03-13,USD,4.9710\n2024-03-14,USD,4.9871\n2024-03-14,EUR,5.4210\n",
    )
    out = StringIO()
    call_command("import_fx_rates", path, stdout=out)
    assert "FX rates imported: 2 created, 1 updated." in out.getvalue()
    assert "writing 3 rows" in out.getvalue()
    rates = {(r.currency, r.date): r.rate for r in FxRate.objects.all()}
    assert rates == {
        ("USD", dt.date(2024, 3, 13)): D("4.9710"),
        ("USD", dt.date(2024, 3, 14)): D("4.9871"),
        ("EUR", dt.date(2024, 3, 14)): D("5.4210"),
    }
    (record,) = AuditRecord.objects.filter(action="fx_rates.upsert")
    assert record.actor == "import_fx_rates"
    assert record.after == {"created": 2, "updated": 1, "currencies": ["EUR", "USD"]}


FX_MIXED = (
    "date;currency;rate\n"
    "16/03/2024;USD;4,99\n"  # line 2: a Saturday
    "14/03/2024;BRL;1\n"  # line 3: the base currency
    "14/03/2024;usd;5\n"  # line 4: not an ISO code
    "15/03/2024;USD;6,5\n"  # line 5: 6.5 / 5.00 − 1 = 30% from Mar 14's 5.00 (band 25%)
    "13/03/2024;USD;abc\n"  # line 6: not a number
    "14/03/2024;EUR;5,4210\n"  # line 7: good
)


def test_import_fx_rates_names_every_bad_line_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    FxRateFactory(currency="USD", date=YESTERDAY, rate=D("5.00"))
    path = write(tmp_path, FX_MIXED)
    message = refusal("import_fx_rates", path)
    assert "nothing imported: 5 bad line(s)" in message
    assert "line 2: date:" in message
    assert "line 3: currency: BRL is the base currency" in message
    assert "line 4: currency:" in message
    assert "line 5: rate: 6.5 is 30% from the last close 5 (band 25%)" in message
    assert "line 6: rate: 'abc' is not a number" in message
    assert "line 7" not in message
    assert FxRate.objects.count() == 1
    # From the shell: the message on stderr, exit status 1.
    monkeypatch.setattr(connections, "close_all", lambda: None)  # the test's connection
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "import_fx_rates", path])
    assert exit_.value.code == 1
    assert "line 5: rate:" in capsys.readouterr().err
    # The outlier confirmed, the other lines fixed: all written.
    fixed = write(tmp_path, "date;currency;rate\n15/03/2024;USD;6,5\n14/03/2024;EUR;5,4210\n")
    assert "line 2: rate: 6.5 is 30%" in refusal("import_fx_rates", fixed)
    call_command("import_fx_rates", fixed, "--confirm-outliers", stdout=StringIO())
    assert FxRate.objects.get(currency="USD", date=TODAY).rate == D("6.5")
    assert FxRate.objects.get(currency="EUR").rate == D("5.4210")


def test_import_fx_rates_file_errors(tmp_path):
    assert "no such file" in refusal("import_fx_rates", str(tmp_path / "absent.csv"))
    utf16 = write(tmp_path, "date,currency,rate\n2024-03-14,USD,5\n", encoding="utf-16")
    assert "not UTF-8 text but UTF-16" in refusal("import_fx_rates", utf16)
    wrong = write(tmp_path, "day,currency,rate\n2024-03-14,USD,5\n")
    assert "missing column(s) date" in refusal("import_fx_rates", wrong)


# --- The admin's upload ----------------------------------------------------------------------


def staff_client(group: str) -> Client:
    user = User.objects.create_user(f"staff-{group}", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, model: str, text: str, **fields: str) -> object:
    data = SimpleUploadedFile("closes.csv", text.encode(), content_type="text/csv")
    return client.post(f"/admin/portfolio/{model}/upload/", {"file": data, **fields})


def test_ops_uploads_prices_and_fx_as_itself(ibov, spx):
    ops = staff_client("ops")
    assert "Upload CSV" in ops.get("/admin/portfolio/price/").content.decode()
    form = ops.get("/admin/portfolio/price/upload/")
    assert form.status_code == 200
    assert "<strong>instrument, date, price</strong>" in form.content.decode()
    page = upload(
        ops, "price", "instrument;date;price\nINDJ24;14/03/2024;127.000,5\nESH4;14/03/2024;5100\n"
    )
    assert page.status_code == 302 and page.url == "/admin/portfolio/price/"
    shown = ops.get(page.url).content.decode()
    assert "Prices imported: 2 created, 0 updated." in shown
    assert Price.objects.get(instrument=ibov).price == D("127000.5")
    (record,) = AuditRecord.objects.filter(action="prices.upsert")
    assert record.actor == "staff-ops"

    page = upload(ops, "fxrate", "date,currency,rate\n2024-03-14,USD,4.9871\n")
    assert page.status_code == 302
    assert FxRate.objects.get(currency="USD").rate == D("4.9871")
    assert AuditRecord.objects.get(action="fx_rates.upsert").actor == "staff-ops"


@pytest.mark.parametrize("group", ["pm", "viewer", "risk"])
def test_the_upload_is_neither_shown_nor_allowed_without_ops_rights(ibov, group):
    client = staff_client(group)
    for model in ("price", "fxrate"):
        assert "Upload CSV" not in client.get(f"/admin/portfolio/{model}/").content.decode()
        assert client.get(f"/admin/portfolio/{model}/upload/").status_code == 403
    refused = upload(client, "price", "instrument,date,price\nINDJ24,2024-03-14,1\n")
    assert refused.status_code == 403
    assert not Price.objects.exists()


def test_an_upload_with_bad_lines_shows_them_all_and_writes_nothing(ibov):
    PriceFactory(instrument=ibov, date=YESTERDAY, price=D("100000"))
    ops = staff_client("ops")
    page = upload(ops, "price", MIXED_PRICES)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Nothing imported: 7 bad lines." in text
    for line in (3, 4, 5, 6, 7, 8, 9):
        assert f"<li>line {line}: " in text, line
    assert "accepted with the box &#x27;Confirm outliers&#x27;" in text
    assert Price.objects.count() == 1
    # Confirmed, the outlier alone goes through.
    confirmed = upload(
        ops, "price", "instrument,date,price\nINDJ24,2024-03-15,140000\n", confirm_outliers="on"
    )
    assert confirmed.status_code == 302
    assert Price.objects.get(date=TODAY).price == D("140000")


def test_an_upload_that_is_not_utf8_csv_or_too_big(ibov, monkeypatch):
    ops = staff_client("ops")
    data = SimpleUploadedFile("closes.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\xff\xfe")
    page = ops.post("/admin/portfolio/price/upload/", {"file": data})
    assert page.status_code == 200 and "closes.xlsx: not UTF-8 text" in page.content.decode()
    monkeypatch.setattr("portfolio.admin_uploads.UPLOAD_MAX_BYTES", 10)
    page = upload(ops, "price", "instrument,date,price\nINDJ24,2024-03-14,1\n")
    assert "at most 10 bytes" in page.content.decode()
    assert UPLOAD_MAX_BYTES == 5 * 1024 * 1024
    assert not Price.objects.exists()


# --- The other imports sharing core/csv_import.py ---------------------------------------------


def test_signals_and_benchmark_rates_name_every_bad_line_in_one_run(tmp_path, ibov, macro):
    signals = write(
        tmp_path,
        "instrument,strategy,date,score\n"
        "INDJ24,MACRO,2024-03-14,abc\n"  # line 2: not a number (the serializer's)
        "INDJ24,NOPE,2024-03-14,0.5\n"  # line 3: unknown strategy (the service's)
        "INDJ24,MACRO,2024-03-15,0.5\n",  # line 4: good
    )
    message = refusal("import_signals", signals)
    assert "line 2: score:" in message and "line 3: strategy: Unknown strategy 'NOPE'" in message
    assert "line 4" not in message
    rates = write(
        tmp_path,
        "date;rate\n"
        "14/03/2024;0,000415\n"  # line 2: good (0.000415)
        "32/03/2024;0,000415\n"  # line 3: no such day
        "14/03/2024;0,0004\n",  # line 4: line 2's date again
    )
    message = refusal("import_benchmark_rates", rates)
    assert "line 3: date: '32/03/2024' is not a date (dd/mm/yyyy)." in message
    assert "line 4: benchmark: Same benchmark and date as line 2." in message
    assert "line 2" not in message.replace("as line 2", "")


def test_instruments_name_every_bad_line_and_trades_say_what_is_left(tmp_path, ibov, macro):
    instruments = write(
        tmp_path,
        "symbol,name,asset_class,currency,quote_type\n"
        "ESM4,E-mini,equity,USD,price\n"  # line 2: good
        "WDOM4,Mini dollar,shares,BRL,price\n"  # line 3: no such asset class (the serializer's)
        "DI1F29,DI1 Jan 2029,rates,BRL,yield\n",  # line 4: no dv01 (the service's)
    )
    message = refusal("import_instruments", instruments)
    assert "line 3: asset_class:" in message
    assert "line 4: dv01: A yield-quoted instrument needs a positive dv01." in message
    assert "line 2" not in message and "checked against the book" not in message
    assert list(Instrument.objects.values_list("symbol", flat=True)) == ["INDJ24"]
    assert not AuditRecord.objects.filter(action__startswith="instrument").exists()
    trades = write(
        tmp_path,
        "trade_date,instrument,strategy,quantity,price\n2024-03-14,INDJ24,MACRO,x,100000\n",
    )
    message = refusal("import_trades", trades)
    assert "line 2: quantity:" in message
    assert message.endswith("The other lines are checked against the book once these are fixed.")


def test_an_upload_of_many_bad_lines_lists_the_first_and_counts_them_all(ibov, monkeypatch):
    """Three bad lines, a page that lists two: it says 3, lists 2 and one more."""
    monkeypatch.setattr("portfolio.admin_uploads.SHOWN_LINES", 2)
    bad = "".join(f"NOPE{i},2024-03-14,1\n" for i in range(3))
    page = upload(staff_client("ops"), "price", "instrument,date,price\n" + bad)
    text = page.content.decode()
    assert "Nothing imported: 3 bad lines." in text
    assert text.count("Unknown instrument") == 2 and "… and 1 more" in text
    assert not Price.objects.exists()
