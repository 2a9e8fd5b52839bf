"""The database itself refuses UPDATE and DELETE on the ledger and the audit trail.

PostgreSQL only: a row trigger raises for any UPDATE or DELETE, whoever sends it (the ORM,
raw SQL, psql). TRUNCATE of a whole table (test teardown, the demo reset) is not a row
change and stays possible for the tables' owner.
"""

from django.db import migrations

TABLES = ("portfolio_trade", "portfolio_auditrecord")

FUNCTION = """
CREATE OR REPLACE FUNCTION pms_refuse_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # its % are plpgsql's, not placeholders
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pms_refuse_row_change()"
        )


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS pms_refuse_row_change()")


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
