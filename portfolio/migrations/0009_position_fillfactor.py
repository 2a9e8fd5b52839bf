"""Room on each page of the positions for a new version of its rows.

Every mark-to-market rewrites every open position. PostgreSQL can write the new version of a
row on the page of the old one, without touching any index (a heap-only tuple), when that
page has room and no indexed column changes — a mark changes none. With the default fill
factor of 100 the pages are full, so each mark also inserts into the four indexes of every
position: at 10,000 positions the update takes about 2.5 times as long. Half-full pages
hold one new version of each row; the old one is pruned when the page is next written.

PostgreSQL only. The setting applies to pages written from now on: existing pages fill the
new way as marks move their rows (or at once with `VACUUM FULL portfolio_position`).
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE portfolio_position SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE portfolio_position RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0008_funded_holdings")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
