"""PipelineRun and Heartbeat now belong to the ops app (ops 0001 takes them over with their
tables): they leave pms_site's migration state only; no table is touched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pms_site", "0005_permissions")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PipelineRun"),
                migrations.DeleteModel(name="Heartbeat"),
            ]
        )
    ]
