"""PipelineRun and Heartbeat, taken over from pms_site (its 0006 lets them go): they enter
ops' migration state on the tables pms_site created, rows and all; no table is touched."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    # After pms_site has let the models go: the tables exist, and only one app's state
    # holds them at any migration (unapplying pms_site 0006 unapplies this one too).
    dependencies = [("pms_site", "0006_models_to_ops")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PipelineRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("pipeline", models.CharField(max_length=32)),
                        ("business_date", models.DateField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                    ("skipped", "Skipped"),
                                ],
                                default="queued",
                                max_length=16,
                            ),
                        ),
                        ("steps", models.JSONField(default=list)),
                        (
                            "trigger",
                            models.CharField(
                                help_text="schedule, api, command or admin", max_length=16
                            ),
                        ),
                        ("requested_by", models.CharField(max_length=150)),
                        (
                            "requested_at",
                            models.DateTimeField(default=django.utils.timezone.now),
                        ),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("seconds", models.FloatField(blank=True, null=True)),
                        ("error", models.TextField(blank=True)),
                        (
                            "worker",
                            models.CharField(
                                blank=True,
                                help_text="host:pid of the process that ran it last.",
                                max_length=120,
                            ),
                        ),
                        (
                            "note",
                            models.TextField(
                                blank=True,
                                help_text="What befell the run besides its steps: a takeover, "
                                "a shutdown.",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "pms_site_pipelinerun",
                        "ordering": ["-business_date", "pipeline"],
                        "permissions": [("run_pipelinerun", "Can run pipelines")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("pipeline", "business_date"),
                                name="pipelinerun_one_per_date",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="Heartbeat",
                    fields=[
                        (
                            "name",
                            models.CharField(max_length=32, primary_key=True, serialize=False),
                        ),
                        ("seen_at", models.DateTimeField()),
                    ],
                    options={"db_table": "pms_site_heartbeat"},
                ),
            ]
        )
    ]
