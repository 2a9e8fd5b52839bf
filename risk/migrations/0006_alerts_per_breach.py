"""One alert per limit and breach: the fields of a breach, and today's alerts of the days of
a breach (consecutive business days in breach) folded into one (risk.breaches)."""

from typing import Any

from django.db import migrations, models
from django.db.models import F

from risk.breaches import fold_daily_alerts

ROW_FIELDS = (
    "id",
    "limit_id",
    "date",
    "status",
    "value",
    "utilization",
    "acknowledged_by",
    "acknowledged_at",
    "note",
    "resolved_at",
)
BREACH_FIELDS = (
    "date",
    "last_day",
    "days",
    "value",
    "utilization",
    "worst_utilization",
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "note",
    "resolved_at",
)


def fold_alerts(apps: Any, schema_editor: Any) -> None:
    """Every alert becomes one of one day; then the limits' alerts of consecutive business
    days in breach become one per breach (its earliest day's row kept)."""
    alert_model = apps.get_model("risk", "RiskAlert")
    alert_model.objects.update(last_day=F("date"), days=1)
    rows = list(alert_model.objects.filter(limit__isnull=False).values(*ROW_FIELDS))
    kept, folded = fold_daily_alerts(rows)
    alert_model.objects.filter(pk__in=folded).delete()
    changed = []
    for breach in kept:
        alert = alert_model(pk=breach["id"])
        for name in BREACH_FIELDS:
            setattr(alert, name, breach[name])
        changed.append(alert)
    alert_model.objects.bulk_update(changed, BREACH_FIELDS, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0005_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="riskalert",
            options={
                "ordering": ["-date", "-pk"],
                "permissions": [("acknowledge_riskalert", "Can acknowledge alerts")],
            },
        ),
        migrations.AddField(
            model_name="riskalert",
            name="days",
            field=models.PositiveIntegerField(default=1, help_text="Business days in breach."),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="last_day",
            field=models.DateField(
                blank=True, help_text="The breach's last business day; blank: its first.", null=True
            ),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="resolved_on",
            field=models.DateField(
                blank=True,
                help_text="The business day a check found the limit back under.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="riskalert",
            name="worst_utilization",
            field=models.DecimalField(
                blank=True, decimal_places=6, help_text="Over the breach.", max_digits=16, null=True
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="date",
            field=models.DateField(
                help_text="The breach's first business day (a pipeline's: the run's date).",
                verbose_name="first day",
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="utilization",
            field=models.DecimalField(
                decimal_places=6, help_text="On the last day in breach.", max_digits=16, null=True
            ),
        ),
        migrations.AlterField(
            model_name="riskalert",
            name="value",
            field=models.DecimalField(
                decimal_places=6,
                help_text="On the last day in breach. Null: undefined (NAV ≤ 0).",
                max_digits=28,
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="riskalert",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("last_day__isnull", True), ("last_day__gte", models.F("date")), _connector="OR"
                ),
                name="riskalert_last_day_not_before_first",
            ),
        ),
        migrations.RunPython(fold_alerts, migrations.RunPython.noop, elidable=True),
    ]
