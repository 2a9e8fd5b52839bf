"""The daily snapshots move here from attribution: the models are added to portfolio's
state on their existing tables (db_table), which keep their rows; no SQL runs."""

from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0003_audit_object_index"),
        ("attribution", "0002_snapshots_move_to_portfolio"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="PortfolioSnapshot",
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
                        ("date", models.DateField(unique=True)),
                        (
                            "nav",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "pnl",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "flow",
                            models.DecimalField(
                                decimal_places=2,
                                default=Decimal("0"),
                                help_text="Capital flows effective at the start of the date.",
                                max_digits=24,
                            ),
                        ),
                        ("daily_return", models.DecimalField(decimal_places=16, max_digits=24)),
                        (
                            "gross_exposure",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "net_exposure",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "positions",
                            models.PositiveIntegerField(help_text="Open positions at the close."),
                        ),
                        ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "attribution_portfoliosnapshot",
                        "ordering": ["date"],
                    },
                ),
                migrations.CreateModel(
                    name="PositionSnapshot",
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
                        ("date", models.DateField()),
                        ("quantity", models.DecimalField(decimal_places=6, max_digits=24)),
                        ("avg_cost", models.DecimalField(decimal_places=12, max_digits=28)),
                        (
                            "price",
                            models.DecimalField(
                                decimal_places=8,
                                help_text="The close it is marked at (its last trade price if none).",
                                max_digits=24,
                            ),
                        ),
                        (
                            "price_date",
                            models.DateField(
                                help_text="Date of that close; none if unpriced.", null=True
                            ),
                        ),
                        ("fx_rate", models.DecimalField(decimal_places=10, max_digits=24)),
                        (
                            "notional_base",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "market_value_base",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "unrealized_pnl_base",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "realized_pnl_base",
                            models.DecimalField(
                                decimal_places=2,
                                default=Decimal("0"),
                                help_text="Cumulative since the first trade.",
                                max_digits=24,
                            ),
                        ),
                        (
                            "daily_pnl_base",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "dv01_base",
                            models.DecimalField(
                                decimal_places=2, default=Decimal("0"), max_digits=24
                            ),
                        ),
                        (
                            "instrument",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="portfolio.instrument",
                            ),
                        ),
                        (
                            "position",
                            models.ForeignKey(
                                help_text="The book position of its last trade on or before the date.",
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="snapshots",
                                to="portfolio.position",
                            ),
                        ),
                        (
                            "strategy",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="portfolio.strategy",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "attribution_positionsnapshot",
                        "ordering": ["date", "instrument_id", "strategy_id"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("date", "instrument", "strategy"),
                                name="positionsnapshot_unique_day",
                            )
                        ],
                    },
                ),
            ],
        )
    ]
