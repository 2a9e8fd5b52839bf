"""Import the administrator's official NAVs from a CSV file (columns date, nav, quota,
units): all rows or none, then reconcile their days with the fund's."""

from typing import Any

from core.csv_import import ImportCommand
from ops.reconciliation import official_navs_record, reconciled_summary
from portfolio.api.serializers import OfficialNavSerializer
from portfolio.services import official_navs_check


class Command(ImportCommand):
    help = (
        "Import the fund administrator's official NAV, quota and units from a CSV file with "
        "columns date,nav,quota,units (upsert by date: a date sent again is a correction), "
        "all rows or none, and reconcile those days with the fund's: a NAV break opens an "
        "alert, a day that reconciles resolves its alert."
    )
    actor = "import_official_nav"
    batch_check = staticmethod(official_navs_check)

    def handle(self, *args: Any, **options: Any) -> None:
        (created, updated), check = self.read(
            options,
            OfficialNavSerializer,
            {"date", "nav", "quota", "units"},
            lambda rows: official_navs_record(rows=rows, actor=options["actor"]),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Official NAVs imported: {created} created, {updated} updated.")
        )
        summary = f"Reconciled: {reconciled_summary(check)}."
        if not check.breaks:
            self.stdout.write(summary)
            return
        first, last = check.breaks[0], check.breaks[-1]
        self.stdout.write(self.style.WARNING(summary))
        self.stdout.write(
            f"Each day against the fund's: GET /api/nav/reconciliation/?start={first}&end={last}"
        )
