"""Signals from the quant models, and the trade proposals sized from them.

A proposal is decided once: approved (the trade is booked at its quantity), modified and
approved (booked at the PM's quantity) or rejected; a pending proposal of an earlier date
expires when the next day's proposals are generated. Every decision is an AuditRecord.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.formatting import number
from portfolio.models import Instrument, Strategy, Trade, price_field, quantity_field


def score_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=7, decimal_places=6, **kwargs)  # type: ignore[arg-type]


class Signal(models.Model):
    """A quant model's view on an instrument for a strategy: score in [−1, 1] on a date."""

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="signals")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="signals")
    date = models.DateField()
    score = score_field(help_text="−1 (full short) to +1 (full long).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date", "strategy_id", "instrument_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "strategy", "date"], name="signal_unique_per_day"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=Decimal("-1"), score__lte=Decimal("1")),
                name="signal_score_in_unit_interval",
            ),
        ]
        indexes = [models.Index(fields=["strategy", "date"], name="signal_strategy_date_idx")]

    def __str__(self) -> str:
        return f"{self.date} {self.instrument} / {self.strategy} score {number(self.score)}"


class TradeProposal(models.Model):
    """A sized trade for the PM to decide: `quantity` is signed (positive buys).

    `rationale` holds the sizing inputs (score, σ, target, current, …) and `what_if` the
    fund's VaR 95% and limit statuses before and after this trade alone: once modified and
    approved, the trade booked (the proposed size's stays in the decision's audit record).
    A proposal keeps the score of the signal it was sized from: a signal decided once
    proposes again only when it is new (another date, or re-scored).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        MODIFIED = "modified"
        REJECTED = "rejected"
        EXPIRED = "expired"

    date = models.DateField()
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="proposals")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="proposals")
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, related_name="proposals")
    quantity = quantity_field(help_text="Signed: positive buys, negative sells.")
    score = score_field()
    rationale = models.JSONField()
    what_if = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    executed_quantity = quantity_field(null=True, blank=True)
    executed_price = price_field(null=True, blank=True)
    trade = models.OneToOneField(
        Trade, on_delete=models.PROTECT, null=True, blank=True, related_name="proposal"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("decide_tradeproposal", "Can approve, modify or reject proposals"),
        ]
        ordering = ["-date", "strategy_id", "instrument_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "instrument", "strategy"], name="proposal_unique_per_day"
            ),
            models.CheckConstraint(condition=~Q(quantity=0), name="proposal_quantity_not_zero"),
            # Booked exactly when approved, as proposed or modified.
            models.CheckConstraint(
                condition=Q(status__in=["approved", "modified"], trade__isnull=False)
                | (~Q(status__in=["approved", "modified"]) & Q(trade__isnull=True)),
                name="proposal_booked_iff_approved",
            ),
        ]
        indexes = [models.Index(fields=["status", "date"], name="proposal_status_date_idx")]

    def __str__(self) -> str:
        side = "buy" if self.quantity >= 0 else "sell"
        return (
            f"{self.date} {self.instrument} / {self.strategy} {side} "
            f"{number(abs(self.quantity))} ({self.status})"
        )

    @property
    def direction(self) -> str:
        return "buy" if self.quantity > 0 else "sell"

    def standing(self, moment: Callable[[dt.datetime], str]) -> str:
        """Its status, with who decided it and when (`moment` formats the time: UTC in the
        API, São Paulo's in the admin); a pending or expired proposal was never decided."""
        if self.decided_at is None:
            return str(self.status)
        return f"{self.status} by {self.decided_by} at {moment(self.decided_at)}"
