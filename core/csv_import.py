"""CSV files into the services: a file is checked whole, every bad line named in one run,
then written whole or not at all.

A file is UTF-8 text (an Excel byte-order mark is skipped) with a header naming each
column once; a column the import does not know is an error (a misspelt `fees` must not be
dropped in silence), and so is a line with more values than the header has names.

Two dialects, told apart by the header line:
- separated by `,` (the fund's own): numbers are ASCII decimals (`1234.56`), dates ISO
  (`2024-03-15`);
- separated by `;` (Excel in Brazilian Portuguese): `,` is the decimal mark and `.`
  separates thousands (`1.234,56` is 1234.56, `5,1234` is 5.1234, `1.234.567` is
  1234567), dates `dd/mm/yyyy` or ISO. A number whose only mark is one `.` followed by
  three digits (`1.234`) is refused as ambiguous — 1234 to Excel, 1.234 to a program
  writing ASCII decimals — and so is any other `.` not grouping thousands (`5.1234`):
  no number is ever read in a way the file's author may not have meant.
"""

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework import serializers
from rest_framework.serializers import Serializer

from core.errors import RowErrors

from .rows import RowErrorMap
from .serializers import validated_rows

FIRST_DATA_LINE = 2  # line 1 is the header
OUTLIER_HINT = "a value outside PMS_PRICE_BAND of the previous one is accepted with {how}"

Check = Callable[[list[dict[str, Any]]], Any]  # a service's rules of a batch (RowErrors)
Write = Callable[[list[dict[str, Any]]], Any]


class CsvFileError(Exception):
    """The file as a whole is not one the import reads (not UTF-8, no header, no rows)."""


@dataclass
class CsvRows:
    """A file's rows as text by column name, the line each starts on, and the problems
    found reading them, by row index. Blank lines, and lines of separators alone (Excel
    writes them below a table), are no rows."""

    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: RowErrorMap = field(default_factory=dict)
    decimal_comma: bool = False

    @property
    def dialect(self) -> str:
        return "';'-separated, decimal comma" if self.decimal_comma else "','-separated"


def decoded(data: bytes, source: str) -> str:
    """The text of a file's bytes: UTF-8, with or without Excel's byte-order mark."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(
            f"{source}: not UTF-8 text but UTF-16 (Excel's 'Unicode text'): save it as "
            "'CSV UTF-8' and try again."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvFileError(
            f"{source}: not UTF-8 text (byte {error.start}): save it as CSV in UTF-8 and try again."
        ) from None


def separator(header_line: str, source: str) -> str:
    """`;` for a Brazilian Excel file, `,` for the fund's own: the header says which."""
    if ";" in header_line and "," in header_line:
        raise CsvFileError(
            f"{source}: the header mixes ',' and ';': separate the columns with one of them."
        )
    return ";" if ";" in header_line else ","


def parsed_csv(text: str, source: str, required: set[str], known: set[str]) -> CsvRows:
    """The rows of a CSV text by column name (blank values left out); a line with more
    values than the header has columns is an error of that row (blank ones past the last
    column, as Excel writes after a trailing separator, are nothing)."""
    delimiter = separator(text.split("\n", 1)[0], source)
    found = CsvRows(decimal_comma=delimiter == ";")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [name.strip() for name in next(reader, [])]
        while header and not header[-1]:  # Excel's trailing separator: "date;price;"
            header.pop()
        _check_header(source, header, required, known, delimiter)
        ended = reader.line_num  # a quoted value may span lines: a row starts after the last
        for values in reader:
            start, ended = ended + 1, reader.line_num
            if not any(value.strip() for value in values):
                continue
            if any(value.strip() for value in values[len(header) :]):
                found.errors[len(found.rows)] = {
                    "columns": [
                        f"{len(values)} values for {len(header)} columns "
                        f"(separate them with {delimiter!r} and nothing else)."
                    ]
                }
            named = zip(header, values, strict=False)  # a short line lacks its last columns
            found.rows.append({name: value.strip() for name, value in named if value.strip()})
            found.lines.append(start)
    except csv.Error as error:
        raise CsvFileError(f"{source}: not a CSV file ({error}).") from None
    if not found.rows:
        raise CsvFileError(f"{source}: no rows.")
    return found


def _check_header(
    source: str, header: list[str], required: set[str], known: set[str], delimiter: str
) -> None:
    twice = sorted(name for name, count in Counter(header).items() if count > 1)
    if twice:
        raise CsvFileError(f"{source}: column(s) named twice in the header: {', '.join(twice)}.")
    missing = required - set(header)
    if missing:
        hint = (
            " The header's columns are separated by tabs: save the file as CSV."
            if any("\t" in name for name in header)
            else ""
        )
        raise CsvFileError(
            f"{source}: missing column(s) {', '.join(sorted(missing))}; the header must name "
            f"{', '.join(sorted(required))}, separated by ',' (or by ';', with decimal "
            f"commas).{hint}"
        )
    unknown = sorted(set(header) - known)
    if unknown:
        raise CsvFileError(
            f"{source}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(sorted(known))}."
        )


# --- The Brazilian dialect: `;`, decimal comma, dd/mm/yyyy -------------------------------

COMMA_NUMBER = re.compile(r"-?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
AMBIGUOUS = re.compile(r"-?\d{1,3}\.\d{3}")  # 1.234: 1234 to Excel, 1.234 to a program
DAY_MONTH_YEAR = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def comma_number(value: str) -> tuple[str, str | None]:
    """A number of a `;`-separated file as an ASCII decimal, or why it is not one."""
    if AMBIGUOUS.fullmatch(value):
        whole = value.replace(".", "")
        return value, (
            f"{value!r} is ambiguous in a ';'-separated file ('.' separates thousands there, "
            f"',' marks decimals): write {whole} for {whole}, or {value.replace('.', ',')} "
            "for a decimal."
        )
    if not COMMA_NUMBER.fullmatch(value):
        return value, (
            f"{value!r} is not a number as a ';'-separated file writes one: ',' marks the "
            "decimals and '.' only separates thousands (1.234,56 or 5,1234)."
        )
    return value.replace(".", "").replace(",", "."), None


def day_month_year(value: str) -> tuple[str, str | None]:
    """A date of a `;`-separated file (dd/mm/yyyy, or ISO) as ISO, or why it is not one."""
    found = DAY_MONTH_YEAR.fullmatch(value)
    if not found:  # ISO, read by the serializer, or neither form
        problem = None if ISO_DATE.fullmatch(value) else f"{value!r} is not a date (dd/mm/yyyy)."
        return value, problem
    day, month, year = (int(part) for part in found.groups())
    try:
        return dt.date(year, month, day).isoformat(), None
    except ValueError:
        return value, f"{value!r} is not a date (dd/mm/yyyy)."


def point_number(value: str) -> tuple[str, str | None]:
    """A number of a `,`-separated file: ASCII decimals, a `,` in one named as such (the
    serializer checks the rest)."""
    if "," not in value:
        return value, None
    return value, (
        f"{value!r}: a ','-separated file writes numbers with a decimal point and no "
        "thousands separator (1234.56); decimal commas come in a ';'-separated file."
    )


def localized(found: CsvRows, serializer_class: type[Serializer]) -> RowErrorMap:
    """The rows of a `;`-separated file rewritten, in place, as the fund's own (ASCII
    decimals, ISO dates); the values that cannot be, and those of a `,`-separated file
    with a decimal comma, by row and column (left as they are, for the serializer to
    refuse)."""
    readers: dict[str, Callable[[str], tuple[str, str | None]]] = {}
    for name, kind in serializer_class().fields.items():
        if isinstance(kind, serializers.DecimalField | serializers.IntegerField):
            readers[name] = comma_number if found.decimal_comma else point_number
        elif isinstance(kind, serializers.DateField) and found.decimal_comma:
            readers[name] = day_month_year
    problems: RowErrorMap = {}
    for index, row in enumerate(found.rows):
        for name in [name for name in readers if name in row]:  # in the columns' order
            row[name], problem = readers[name](row[name])
            if problem:
                problems.setdefault(index, {})[name] = [problem]
    return problems


# --- Every bad line, then all rows or none ------------------------------------------------


def _merge(errors: RowErrorMap, indexes: Sequence[int], found: RowErrors, lines: list[int]) -> None:
    """Record `found` (by index in the rows `indexes` name) by file row, keeping a problem
    already recorded for a column; "row N" in a message becomes the line it names."""

    def line(said: re.Match[str]) -> str:
        index = int(said.group(1))
        return f"line {lines[indexes[index]]}" if index < len(indexes) else said[0]

    for subset_index, fields in found.errors.items():
        index = indexes[subset_index]
        for name, messages in fields.items():
            errors.setdefault(index, {}).setdefault(
                name, [re.sub(r"\brow (\d+)\b", line, str(message)) for message in messages]
            )


def checked_rows(
    found: CsvRows, serializer_class: type[Serializer], check: Check | None
) -> list[dict[str, Any]]:
    """The rows parsed by the serializer, all of them, or RowErrors naming every bad row:
    those that do not read or parse, and those `check` (the service's rules of a batch: its
    references, dates, duplicates, outliers) finds among the rows that do."""
    errors = dict(found.errors)
    local = localized(found, serializer_class)
    readable = [index for index in range(len(found.rows)) if index not in errors]
    try:
        parsed = validated_rows(serializer_class, [found.rows[i] for i in readable], text=True)
        if not local and not errors:
            return parsed
    except RowErrors as unparsed:
        _merge(errors, readable, unparsed, found.lines)
    for index, fields in local.items():  # the dialect's reason, not the serializer's
        errors.setdefault(index, {}).update(fields)
    good = [index for index in readable if index not in errors]
    parsed = validated_rows(serializer_class, [found.rows[i] for i in good], text=True)
    if check is not None and parsed:
        try:
            check(parsed)
        except RowErrors as broken:
            _merge(errors, good, broken, found.lines)
    raise RowErrors(errors) if check is not None else LinesUnchecked(errors)


class LinesUnchecked(RowErrors):
    """Bad lines of an import without a `check`: the service's rules were not run on the
    other lines (a trade's depend on the lines before it), and will be once these are
    fixed."""


def dry_run(write: Write) -> Check:
    """A check made of a write rolled back: the service's own rules of a batch, for an
    import whose rows do not depend on one another. Nothing it does stays, its
    cache flushes (on commit) included."""

    def check(rows: list[dict[str, Any]]) -> None:
        with transaction.atomic():
            write(rows)  # RowErrors: rolled back
            transaction.set_rollback(True)

    return check


def import_rows(
    found: CsvRows,
    serializer_class: type[Serializer],
    write: Write,
    *,
    confirm: bool = False,
    check: Check | None = None,
) -> Any:
    """Check every row, then write them all (`write`, the service); RowErrors naming every
    bad line otherwise (keyed by line − FIRST_DATA_LINE). With `confirm`, values outside
    PMS_PRICE_BAND of the previous one are accepted."""
    if confirm:
        found.rows = [{**row, "confirm": "true"} for row in found.rows]
    try:
        parsed = checked_rows(found, serializer_class, check)
        try:
            return write(parsed)
        except RowErrors as broken:  # the service's own rules, every row parsed
            errors: RowErrorMap = {}
            _merge(errors, range(len(parsed)), broken, found.lines)
            raise RowErrors(errors) from None
    except RowErrors as bad:  # by line: `bad_lines` adds FIRST_DATA_LINE back
        by_line = {found.lines[i] - FIRST_DATA_LINE: fields for i, fields in bad.errors.items()}
        raise type(bad)(by_line) from None


def columns_known(serializer_class: type[Serializer]) -> set[str]:
    known = {name for name, field in serializer_class().fields.items() if not field.read_only}
    known.discard("confirm")  # a file confirms its outliers with --confirm-outliers
    return known


def bad_lines(errors: RowErrors) -> list[str]:
    """Each bad line and its problems: "line 3: date: …"."""
    return [
        f"line {index + FIRST_DATA_LINE}: "
        + " ".join(_sentence(f"{name}: {' '.join(map(str, m))}") for name, m in fields.items())
        for index, fields in errors.errors.items()
    ]


def _sentence(text: str) -> str:
    return text if text.endswith(".") else f"{text}."


def outlier_hint(errors: RowErrors, how: str) -> str:
    outliers = any("confirm it if" in str(fields) for fields in errors.errors.values())
    return f" ({OUTLIER_HINT.format(how=how)})" if outliers else ""


@dataclass(frozen=True)
class CsvImport:
    """A kind of CSV file and the service that writes it, as the command and the admin's
    upload both read it: `upsert(rows=…, actor=…)` writes all the rows or raises
    RowErrors; `check` is its rules of a batch, run on the lines that parse when others
    do not."""

    label: str  # what the rows are, e.g. "Prices"
    serializer_class: type[Serializer]
    required: frozenset[str]
    upsert: Callable[..., Any]
    check: Check | None = None

    def columns(self) -> list[str]:
        """The columns a file names, in the serializer's order."""
        known = columns_known(self.serializer_class)
        fields: dict[str, Any] = dict(self.serializer_class().fields)
        return [name for name in fields if name in known]

    def rows(self, text: str, source: str) -> CsvRows:
        """The file's lines (CsvFileError: not one this import reads)."""
        return parsed_csv(text, source, set(self.required), columns_known(self.serializer_class))

    def run(
        self,
        found: CsvRows,
        *,
        actor: str,
        confirm: bool = False,
        progress: Callable[[str], Any] | None = None,
    ) -> Any:
        """Every row checked, then all written as `actor` (RowErrors naming every bad
        row); `progress` is told when the writing starts."""

        def write(rows: list[dict[str, Any]]) -> Any:
            if progress:
                progress(f"Every line read; writing {len(rows):,} rows, all or none …")
            return self.upsert(rows=rows, actor=actor)

        return import_rows(found, self.serializer_class, write, confirm=confirm, check=self.check)


class ImportCommand(BaseCommand):
    """A command importing one CSV file through a service, all rows or none: `FILE`,
    `--actor` (the audit trail's name, default the command's), and `--confirm-outliers`
    when the rows carry prices or rates."""

    actor: str
    confirmable = False
    # The service's rules of a batch, run on the lines that parse when others do not (not
    # `check`: BaseCommand's runs the system checks).
    batch_check: Check | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The CSV file (UTF-8; ',' or ';' separated).")
        if self.confirmable:
            parser.add_argument(
                "--confirm-outliers",
                action="store_true",
                help="Accept values further than PMS_PRICE_BAND from the previous one.",
            )
        parser.add_argument("--actor", default=self.actor)

    def read(
        self,
        options: dict[str, Any],
        serializer_class: type[Serializer],
        required: set[str],
        write: Write,
    ) -> Any:
        """Check and write the file's rows (`write`): CommandError naming every bad line."""
        spec = CsvImport(
            "rows",
            serializer_class,
            frozenset(required),
            lambda *, rows, actor: write(rows),
            type(self).batch_check,
        )
        return self.import_csv(options, spec)

    def import_csv(self, options: dict[str, Any], spec: CsvImport) -> Any:
        """Check and write the file's rows through `spec`: CommandError naming every bad
        line, nothing written."""
        path = options["file"]
        self.stdout.write(f"Reading {path} …")
        if not Path(path).is_file():
            raise CommandError(f"{path}: no such file.")
        try:
            found = spec.rows(decoded(Path(path).read_bytes(), path), path)
        except CsvFileError as error:
            raise CommandError(str(error)) from None
        count = len(found.rows)
        self.stdout.write(
            f"{count:,} line{'s' if count != 1 else ''} ({found.dialect}); checking every line …"
        )
        try:
            return spec.run(
                found,
                actor=options["actor"],
                confirm=bool(options.get("confirm_outliers")),
                progress=self.stdout.write,
            )
        except RowErrors as errors:
            hint = outlier_hint(errors, "--confirm-outliers")
            later = (
                "\nThe other lines are checked against the book once these are fixed."
                if isinstance(errors, LinesUnchecked)
                else ""
            )
            raise CommandError(
                f"{path}: nothing imported: {len(errors.errors)} bad line(s). Fix them and "
                f"run again{hint}:\n  " + "\n  ".join(bad_lines(errors)) + later
            ) from None
