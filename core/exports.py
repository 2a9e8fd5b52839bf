"""Exports of the lists a person scans: the rows a list's filters, search and sort select
(all of them, not the page shown), as CSV (the standard library's writer) or Excel (an
openpyxl write-only workbook), with the columns a person reads, headed in the fund's words.

How values are written:
- numbers (Decimals, integers) as numbers: plain notation in the CSV, amounts to the cent
  ("-1234.50"), other numbers without trailing zeros ("10.5"); numeric cells in the
  workbook, amounts formatted with separators and 2 decimals;
- dates as ISO dates in the CSV, date cells in the workbook;
- moments in UTC (their headers say so): ISO 8601 with `Z` in the CSV, date-time cells in
  the workbook (Excel keeps no time zone);
- text as written, except that a CSV cell of text starting with = + - @ (or a tab or a
  carriage return) gets a leading quote, so that a spreadsheet opening the file does not
  run it as a formula; in the workbook such text is a text cell, which Excel never runs.
"""

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from .calendar import today, utc_iso

CSV, XLSX = "csv", "xlsx"
FORMATS = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MONEY = "#,##0.00"  # Excel's number format of an amount
DATE, MOMENT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_QUERY = 2000  # rows fetched at a time: memory stays flat on a long list


@dataclass(frozen=True)
class ExportColumn:
    """A column of an export: its header, and its value in a row, given as the row's
    attribute path ("instrument.symbol") or as a function of the row. `number_format` is
    Excel's for a number column (MONEY for an amount); None leaves Excel's general one."""

    header: str
    value: str | Callable[[Any], Any]
    number_format: str | None = None

    def of(self, row: Any) -> Any:
        if callable(self.value):
            return self.value(row)
        found = row
        for name in self.value.split("."):
            if found is None:
                return None
            found = getattr(found, name)
        return found


def safe_text(text: str) -> str:
    """Free text a spreadsheet would read as a formula, quoted: "=1+1" → "'=1+1"."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_value(value: Any, money: bool = False) -> str:
    """A value as the CSV writes it (see the module's docstring): an amount (`money`) to
    the cent, another number without trailing zeros (-100, not -100.000000)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:.2f}" if money else f"{value.normalize():f}"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return safe_text(str(value))


def xlsx_value(value: Any) -> Any:
    """A value as a workbook cell holds it: numbers and dates as such, a moment as its UTC
    date and time, anything else as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if value is None or isinstance(value, int | float | Decimal | dt.date):
        return value
    return str(value)


class _Line:
    """What csv.writer writes to: hands each line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(columns: Sequence[ExportColumn], rows: Iterable[Any]) -> Iterator[str]:
    """The CSV, line by line: a byte-order mark (Excel then reads it as UTF-8: São Paulo,
    not SÃ£o Paulo), the header, then a line per row."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow([column.header for column in columns])
    for row in rows:
        yield writer.writerow(
            [csv_value(column.of(row), column.number_format == MONEY) for column in columns]
        )


def _cell(sheet: Any, value: Any, column: ExportColumn) -> Any:
    shown = xlsx_value(value)
    cell = WriteOnlyCell(sheet, value=shown)
    if isinstance(shown, str):
        cell.data_type = "s"  # text, never a formula (openpyxl makes "=…" one)
    elif isinstance(shown, dt.datetime):
        cell.number_format = MOMENT
    elif isinstance(shown, dt.date):
        cell.number_format = DATE
    elif column.number_format and shown is not None:
        cell.number_format = column.number_format
    return cell


def xlsx_bytes(title: str, columns: Sequence[ExportColumn], rows: Iterable[Any]) -> bytes:
    """The workbook: one sheet, `title`, the header frozen above the rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])  # Excel's longest sheet name
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(column.header) + 2)
    sheet.freeze_panes = "A2"
    sheet.append([column.header for column in columns])
    for row in rows:
        sheet.append([_cell(sheet, column.of(row), column) for column in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(name: str, kind: str) -> str:
    """The file's name: the list's and the fund's date, "trades-2024-12-19.csv"."""
    return f"{name}-{today().isoformat()}.{kind}"


def export_response(
    kind: str, name: str, columns: Sequence[ExportColumn], rows: Iterable[Any]
) -> HttpResponse | StreamingHttpResponse:
    """The export of `rows` as a download: a CSV streamed as it is written, a workbook built
    in memory (a zip cannot be streamed as it grows)."""
    disposition = f'attachment; filename="{filename(name, kind)}"'
    response: HttpResponse | StreamingHttpResponse
    if kind == CSV:
        response = StreamingHttpResponse(csv_lines(columns, rows), content_type=FORMATS[CSV])
    else:
        response = HttpResponse(xlsx_bytes(name, columns, rows), content_type=FORMATS[XLSX])
    response["Content-Disposition"] = disposition
    return response
