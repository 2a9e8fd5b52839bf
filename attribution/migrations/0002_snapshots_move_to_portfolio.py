"""The daily snapshots are the fund's timeline, owned by portfolio now
(portfolio.0004_snapshots_from_attribution): attribution forgets the models, the tables
stay as they are, with their rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("attribution", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PortfolioSnapshot"),
                migrations.DeleteModel(name="PositionSnapshot"),
            ],
            database_operations=[],
        )
    ]
