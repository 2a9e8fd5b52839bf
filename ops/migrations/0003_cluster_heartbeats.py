"""One heartbeat per django-q2 cluster (its id, host and pid), and the cluster that runs
each pipeline run, so that a run whose cluster died is found whatever its host."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0002_content_types"),
    ]

    operations = [
        migrations.AddField(
            model_name="heartbeat",
            name="host",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="heartbeat",
            name="pid",
            field=models.PositiveIntegerField(
                blank=True, help_text="The qcluster's pid.", null=True
            ),
        ),
        migrations.AddField(
            model_name="pipelinerun",
            name="cluster",
            field=models.CharField(
                blank=True,
                help_text="The id of the django-q2 cluster whose worker ran it last (its heartbeat tells whether it still can); blank when a command ran it in its own process.",
                max_length=120,
            ),
        ),
        migrations.AddField(
            model_name="pipelinerun",
            name="recoveries",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Times its date was queued again since it was last requested, because the cluster or worker running it died.",
            ),
        ),
        migrations.AlterField(
            model_name="heartbeat",
            name="name",
            field=models.CharField(
                help_text="The cluster's id.", max_length=120, primary_key=True, serialize=False
            ),
        ),
        migrations.AlterField(
            model_name="pipelinerun",
            name="trigger",
            field=models.CharField(
                help_text="schedule, api, command, admin or recovery (queued again)", max_length=16
            ),
        ),
    ]
