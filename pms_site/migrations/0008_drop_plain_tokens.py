"""API tokens were DRF's, kept in plain text in `authtoken_token`; they are knox's now,
kept as digests. The old table goes, with every token in it (each user asks for a new
one), and so do its migration records, content type and permissions."""

from typing import Any

from django.db import migrations


def forget_the_old_app(apps: Any, schema_editor: Any) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(app_label="authtoken").delete()
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("pms_site", "0007_login_attempts"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
        migrations.RunPython(forget_the_old_app, migrations.RunPython.noop),
    ]
