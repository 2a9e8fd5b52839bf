"""Funded holdings: an instrument's settlement (margined, the default, or funded), the
cost base of funded positions and the FX part of their P&L.

Every existing instrument becomes margined and every new amount is 0, which is what a
margined position has: no stored figure changes (DESIGN.md "Instruments").
"""

from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0007_benchmark_rates"),
    ]

    operations = [
        migrations.AddField(
            model_name="instrument",
            name="settlement",
            field=models.CharField(
                choices=[("margined", "Margined"), ("funded", "Funded")],
                default="margined",
                help_text="Margined: futures, swaps, forwards, FX (nothing paid up front). Funded: bonds, equities, ETFs bought outright; their cost is carried in base currency at the trade-date rate, so their P&L includes the currency's move on it. Fixed once the instrument has trades.",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="cost_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: what the open quantity cost, in base currency at trade-date rates.",
                max_digits=24,
            ),
        ),
        migrations.AddField(
            model_name="position",
            name="fx_pnl_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: the currency's move on the cost, unrealized.",
                max_digits=24,
            ),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="cost_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: the cost of the quantity held, in base.",
                max_digits=24,
            ),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="daily_fx_pnl_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: the part of daily P&L from the currency.",
                max_digits=24,
            ),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="fx_pnl_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: the currency's move on the cost, unrealized.",
                max_digits=24,
            ),
        ),
        migrations.AddField(
            model_name="trade",
            name="realized_fx_pnl_base",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Funded: the part of it from the currency's move on the cost it released.",
                max_digits=24,
            ),
        ),
        migrations.AddConstraint(
            model_name="instrument",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("settlement", "funded"), _negated=True),
                    ("quote_type", "price"),
                    _connector="OR",
                ),
                name="instrument_funded_is_price_quoted",
            ),
        ),
    ]
