"""Set-based writes: many rows changed by one statement, never row by row.

On PostgreSQL the rows are COPYed into a temporary table and applied by one
`UPDATE … FROM` it (10,000 marks in about a tenth of a second). Elsewhere (SQLite ≥ 3.33)
`UPDATE … FROM (VALUES …)` per batch; either is tens of times faster than `bulk_update`,
whose CASE WHEN grows with every row.
"""

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router, transaction

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
    if connection.vendor == "postgresql":
        return _copy_update(connection, meta.db_table, pk, fields, rows)
    # SQLite names the columns of VALUES column1, column2, …
    refs = [f"v.column{n}" for n in range(1, len(columns) + 1)]
    assignments = ", ".join(
        f"{quote(field.column)} = {ref}" for field, ref in zip(fields, refs[1:], strict=True)
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
                f"FROM (VALUES {', '.join([placeholders] * len(batch))}) AS v "
                f"WHERE {table}.{quote(pk_column)} = {refs[0]}",
                params,
            )
            updated += cursor.rowcount
    return updated


def _copy_update(
    connection: Any, db_table: str, pk: Any, fields: list[Any], rows: Sequence[Sequence[Any]]
) -> int:
    """PostgreSQL: COPY the rows into a temporary table shaped like the target's columns,
    then one UPDATE … FROM it. The values go to psycopg as they are (Decimal, date, int,
    aware datetime, None): the columns' own types round and check them."""
    quote = connection.ops.quote_name
    table, staging = quote(db_table), quote(f"bulk_{db_table}")
    columns = ", ".join(quote(f.column) for f in (pk, *fields))
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {staging} AS v "
            f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}"
        )
        updated: int = cursor.rowcount
        cursor.execute(f"DROP TABLE {staging}")
    return updated


def bulk_insert(model: type[models.Model], objects: Sequence[models.Model]) -> int:
    """Insert new rows (their primary keys assigned by the database and not read back): by
    COPY on PostgreSQL (the attributes as they are, as in `_copy_update`), by
    `bulk_create` in batches elsewhere."""
    if not objects:
        return 0
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects, batch_size=BATCH_ROWS)
        return len(objects)
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    attnames = [f.attname for f in fields]
    columns = ", ".join(quote(str(f.column)) for f in fields)
    table = quote(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            copy.write_row([getattr(obj, name) for name in attnames])
    return len(objects)
