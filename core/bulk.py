"""Set-based writes: many rows changed by one statement per batch, never row by row.

`UPDATE … FROM (VALUES …)` runs on PostgreSQL and on SQLite ≥ 3.33 alike; at 10,000 rows
it is tens of times faster than `bulk_update`, whose CASE WHEN grows with every row.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router

# Rows per statement: bounded by SQLite's 32,766 variables for the widest update here.
BATCH_ROWS = 2000


def bulk_update_rows(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """Set `field_names` of the rows given as `(pk, value, value, …)` tuples."""
    if not rows:
        return 0
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields: list[Any] = [meta.get_field(name) for name in field_names]
    pk_column = str(pk.column)
    columns = [pk_column, *(str(field.column) for field in fields)]
    postgres = connection.vendor == "postgresql"
    if postgres:
        alias = f"v ({', '.join(quote(c) for c in columns)})"
        refs = [f"v.{quote(c)}" for c in columns]
    else:  # SQLite names the columns of VALUES column1, column2, …
        alias = "v"
        refs = [f"v.column{n}" for n in range(1, len(columns) + 1)]

    def value_of(field: Any, ref: str) -> str:
        # PostgreSQL types VALUES columns from their first row; say the type outright.
        return f"CAST({ref} AS {field.db_type(connection)})" if postgres else ref

    assignments = ", ".join(
        f"{quote(field.column)} = {value_of(field, ref)}"
        for field, ref in zip(fields, refs[1:], strict=True)
    )
    table = quote(meta.db_table)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    preparers = [pk, *fields]
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start : start + BATCH_ROWS]
            params = [
                field.get_db_prep_save(value, connection)  # type: ignore[union-attr]
                for row in batch
                for field, value in zip(preparers, row, strict=True)
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM (VALUES {', '.join([placeholders] * len(batch))}) AS {alias} "
                f"WHERE {table}.{quote(pk_column)} = {refs[0]}",
                params,
            )
            updated += cursor.rowcount
    return updated
