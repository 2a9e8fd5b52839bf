from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The fund's operations: the pipelines and their runs, schedules, health, metrics,
    backups and verify_system."""

    name = "ops"
    verbose_name = "Operations"  # the heading of its models in the admin

    def ready(self) -> None:
        # Imported here, not at the top: the modules read models, which the app registry
        # loads only after every apps.py is imported.
        from briefing.selectors import failed_runs_reader_register
        from portfolio.services import accounts_moved_register

        from .pipelines import failed_runs
        from .reconciliation import accounts_reconciled

        failed_runs_reader_register(failed_runs)
        accounts_moved_register(accounts_reconciled)
