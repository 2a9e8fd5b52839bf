"""Daily snapshots of the book, rebuilt from the ledger: per position and for the fund.

A position here is an (instrument, strategy) pair over its whole life: its cumulative
realized P&L runs across the times it was closed and reopened, so its daily P&L
`(U_t + R_t) − (U_{t−1} + R_{t−1})` sums exactly over any period.
"""

from django.db import models
from django.utils import timezone

from portfolio.models import (
    Instrument,
    Position,
    Strategy,
    money_field,
    price_field,
    quantity_field,
    rate_field,
)


class PositionSnapshot(models.Model):
    """An (instrument, strategy) position at the close of a business date, in base currency.

    Present on a date when the position is open at its close or was open at the previous
    one or traded that day, so that its last day's P&L is kept.
    """

    date = models.DateField()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="+")
    position = models.ForeignKey(
        Position,
        on_delete=models.PROTECT,
        related_name="snapshots",
        help_text="The book position of its last trade on or before the date.",
    )
    quantity = quantity_field()
    avg_cost = models.DecimalField(max_digits=28, decimal_places=12)
    price = price_field(help_text="The close it is marked at (its last trade price if none).")
    price_date = models.DateField(null=True, help_text="Date of that close; none if unpriced.")
    fx_rate = rate_field()
    notional_base = money_field()
    market_value_base = money_field()
    unrealized_pnl_base = money_field()
    realized_pnl_base = money_field(help_text="Cumulative since the first trade.")
    daily_pnl_base = money_field()
    dv01_base = money_field()

    class Meta:
        ordering = ["date", "instrument_id", "strategy_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "instrument", "strategy"], name="positionsnapshot_unique_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.instrument_id}/{self.strategy_id} {self.daily_pnl_base}"


class PortfolioSnapshot(models.Model):
    """The fund at the close of a business date.

    `nav = nav(previous) + flow + pnl`; `daily_return = pnl / (nav(previous) + flow)`.
    """

    date = models.DateField(unique=True)
    nav = money_field()
    pnl = money_field()
    flow = money_field(help_text="Capital flows effective at the start of the date.")
    daily_return = models.DecimalField(max_digits=24, decimal_places=16)
    gross_exposure = money_field()
    net_exposure = money_field()
    positions = models.PositiveIntegerField(help_text="Open positions at the close.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} NAV {self.nav}"
