"""CSV files into the services: a file is parsed whole, then written whole or not at all."""

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from rest_framework.serializers import Serializer

from .api.serializers import validated_rows
from .errors import RowErrors

FIRST_DATA_LINE = 2  # line 1 is the header


def read_rows(path: str, required: set[str]) -> list[dict[str, str]]:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file.")
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise CommandError(
                f"{path}: missing column(s) {', '.join(sorted(missing))}; "
                f"the header must name {', '.join(sorted(required))}."
            )
        rows = [
            {k: v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}
            for row in reader
        ]
    if not rows:
        raise CommandError(f"{path}: no rows.")
    return rows


def import_file(
    path: str,
    serializer_class: type[Serializer],
    required: set[str],
    write: Callable[[list[dict[str, Any]]], Any],
) -> Any:
    """Validate every row, then write; any bad row raises CommandError naming its lines."""
    return write(validated_rows(serializer_class, read_rows(path, required)))


def run_import(path: str, *args: Any) -> Any:
    try:
        return import_file(path, *args)
    except RowErrors as errors:
        raise CommandError(
            f"{path}: nothing imported. Fix these lines and run again: "
            + errors.describe(line_offset=FIRST_DATA_LINE, label="line")
        ) from None
