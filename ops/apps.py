from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The fund's operations: the pipelines and their runs, schedules, health, metrics,
    backups and verify_system."""

    name = "ops"
