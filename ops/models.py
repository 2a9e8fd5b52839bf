"""The record of each pipeline run (end of day, pre-open) for a business date."""

from django.db import models
from django.utils import timezone


class PipelineRun(models.Model):
    """One per pipeline and business date: running it again replaces its steps' record.

    `steps`: one entry per step, in order: {name, status, attempts, started_at,
    finished_at, seconds, error}.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    pipeline = models.CharField(max_length=32)
    business_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    steps = models.JSONField(default=list)
    trigger = models.CharField(
        max_length=16, help_text="schedule, api, command, admin or recovery (queued again)"
    )
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    worker = models.CharField(
        max_length=120, blank=True, help_text="host:pid of the process that ran it last."
    )
    cluster = models.CharField(
        max_length=120,
        blank=True,
        help_text="The id of the django-q2 cluster whose worker ran it last (its heartbeat "
        "tells whether it still can); blank when a command ran it in its own process.",
    )
    recoveries = models.PositiveSmallIntegerField(
        default=0,
        help_text="Times its date was queued again since it was last requested, because the "
        "cluster or worker running it died.",
    )
    note = models.TextField(
        blank=True, help_text="What befell the run besides its steps: a takeover, a shutdown."
    )

    class Meta:
        # The table it had in pms_site, kept: a backup taken before the move restores onto
        # it as it is (pg_restore --clean replaces the tables the archive names, and no
        # other; a renamed table would survive the restore beside the old one).
        db_table = "pms_site_pipelinerun"
        permissions = [
            ("run_pipelinerun", "Can run pipelines"),
        ]
        ordering = ["-business_date", "pipeline"]
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline", "business_date"], name="pipelinerun_one_per_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} {self.business_date} {self.status}"

    @property
    def attempts(self) -> int:
        return sum(step.get("attempts", 0) for step in self.steps)


class Heartbeat(models.Model):
    """The last time a django-q2 cluster showed it was alive: each `manage.py qcluster`
    writes its own row (its cluster id) several times within PMS_HEARTBEAT_MAX_AGE_SECONDS,
    while its sentinel lives."""

    name = models.CharField(max_length=120, primary_key=True, help_text="The cluster's id.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True, help_text="The qcluster's pid.")
    seen_at = models.DateTimeField()

    class Meta:
        db_table = "pms_site_heartbeat"  # kept, as PipelineRun's is

    def __str__(self) -> str:
        return f"{self.name} on {self.host}:{self.pid} {self.seen_at:%Y-%m-%d %H:%M:%S}"
