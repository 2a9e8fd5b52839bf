"""CSV files into the services: a file is parsed whole, then written whole or not at all.

A file is UTF-8 text with a header naming each column once; a column the import does not
know is an error (a misspelt `fees` must not be dropped in silence), and so is a line with
more values than the header has names.
"""

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.serializers import Serializer

from core.errors import RowErrors

from .serializers import validated_rows

FIRST_DATA_LINE = 2  # line 1 is the header


def read_rows(path: str, required: set[str], known: set[str]) -> list[dict[str, str]]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file.")
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            _check_header(path, header, required, known)
            reader.fieldnames = header
            rows = []
            for line, row in enumerate(reader, start=FIRST_DATA_LINE):
                if None in row:
                    raise CommandError(
                        f"{path}: line {line} has more values than the header has columns."
                    )
                rows.append(
                    {k: v.strip() for k, v in row.items() if v is not None and v.strip() != ""}
                )
    except UnicodeDecodeError as error:
        raise CommandError(
            f"{path}: not UTF-8 text (byte {error.start}): save it as CSV in UTF-8 and run again."
        ) from None
    except csv.Error as error:
        raise CommandError(f"{path}: not a CSV file ({error}).") from None
    if not rows:
        raise CommandError(f"{path}: no rows.")
    return rows


def _check_header(path: str, header: list[str], required: set[str], known: set[str]) -> None:
    twice = sorted(name for name, count in Counter(header).items() if count > 1)
    if twice:
        raise CommandError(f"{path}: column(s) named twice in the header: {', '.join(twice)}.")
    missing = required - set(header)
    if missing:
        raise CommandError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; "
            f"the header must name {', '.join(sorted(required))}."
        )
    unknown = sorted(set(header) - known)
    if unknown:
        raise CommandError(
            f"{path}: unknown column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(sorted(known))}."
        )


Check = Callable[[list[dict[str, Any]]], Any]  # a service's rules of a batch (RowErrors)


def every_bad_row(
    errors: RowErrors, serializer_class: type[Serializer], rows: list[dict[str, str]], check: Check
) -> RowErrors:
    """The errors of the rows that do not parse, and those `check` (the service's rules of
    a batch: its dates, its duplicates) finds among the rows that do, by the rows' own
    indexes: one run names every bad line, not the unparsed ones first and the rest on the
    next run."""
    parsed = [index for index in range(len(rows)) if index not in errors.errors]
    try:
        check(validated_rows(serializer_class, [rows[index] for index in parsed], text=True))
    except RowErrors as found:
        return RowErrors(
            {**{parsed[index]: fields for index, fields in found.errors.items()}, **errors.errors}
        )
    return errors


def import_file(
    path: str,
    serializer_class: type[Serializer],
    required: set[str],
    write: Callable[[list[dict[str, Any]]], Any],
    *,
    confirm: bool = False,
    check: Check | None = None,
) -> Any:
    """Validate every row, then write; any bad row raises CommandError naming its lines.
    With `confirm`, prices outside PMS_PRICE_BAND of the last close are accepted. With
    `check` (the write's own rules of a batch), a file with lines that do not parse has
    the other lines checked too, so that every bad line is named at once."""
    known = {name for name, field in serializer_class().fields.items() if not field.read_only}
    known.discard("confirm")  # a file confirms its outliers with --confirm-outliers
    rows = read_rows(path, required, known)
    if confirm:
        rows = [{**row, "confirm": "true"} for row in rows]
    try:
        parsed = validated_rows(serializer_class, rows, text=True)
    except RowErrors as errors:
        if check is None:
            raise
        raise every_bad_row(errors, serializer_class, rows, check) from None
    return write(parsed)


def run_import(path: str, *args: Any, confirm: bool = False, check: Check | None = None) -> Any:
    try:
        return import_file(path, *args, confirm=confirm, check=check)
    except RowErrors as errors:
        hint = (
            " (a price outside PMS_PRICE_BAND is accepted with --confirm-outliers)"
            if any("confirm" in str(fields) for fields in errors.errors.values())
            else ""
        )
        raise CommandError(
            f"{path}: nothing imported. Fix these lines and run again{hint}: "
            + errors.describe(line_offset=FIRST_DATA_LINE, label="line")
        ) from None


class ImportCommand(BaseCommand):
    """A command importing one CSV file through a service, all rows or none: `FILE`,
    `--actor` (the audit trail's name, default the command's), and `--confirm-outliers`
    when the rows carry prices."""

    actor: str
    confirmable = False
    # The service's rules of a batch, run on the lines that parse when others do not (not
    # `check`: BaseCommand's runs the system checks).
    batch_check: Check | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        if self.confirmable:
            parser.add_argument(
                "--confirm-outliers",
                action="store_true",
                help="Accept prices further than PMS_PRICE_BAND from the last close.",
            )
        parser.add_argument("--actor", default=self.actor)

    def read(
        self,
        options: dict[str, Any],
        serializer_class: type[Serializer],
        required: set[str],
        write: Callable[[list[dict[str, Any]]], Any],
    ) -> Any:
        """Validate and write the file's rows (CommandError naming the bad lines)."""
        self.stdout.write(f"Reading {options['file']} …")
        return run_import(
            options["file"],
            serializer_class,
            required,
            write,
            confirm=bool(options.get("confirm_outliers")),
            check=type(self).batch_check,
        )
