"""Risk limits and their alerts, stress scenarios, and the daily risk snapshot."""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.calendar import today
from core.formatting import money, percent
from portfolio.models import Instrument, Strategy

from .engine import TENOR_BUCKETS


class RiskLimit(models.Model):
    """A limit on a risk metric of the fund, or of one strategy or asset class.

    Units: VaR, ES, asset-class gross, DV01 and daily loss in base currency (DV01 per bp);
    gross/net leverage and single-position concentration as multiples of NAV; drawdown as
    a fraction of the peak of the time-weighted NAV index (flows are not gains or losses).
    """

    class Metric(models.TextChoices):
        VAR_95 = "var_95", "VaR 95%"
        VAR_99 = "var_99", "VaR 99%"
        ES_95 = "es_95", "Expected shortfall 95%"
        ES_99 = "es_99", "Expected shortfall 99%"
        GROSS_LEVERAGE = "gross_leverage", "Gross leverage (× NAV)"
        NET_LEVERAGE = "net_leverage", "Net leverage (|net| × NAV)"
        CONCENTRATION = "concentration", "Largest position (|notional| / NAV)"
        ASSET_CLASS_GROSS = "asset_class_gross", "Asset-class gross notional"
        DV01 = "dv01", "DV01 (|net|, per bp)"
        DAILY_LOSS = "daily_loss", "Daily loss"
        DRAWDOWN = "drawdown", "Drawdown from the peak (time-weighted NAV index)"

    class ScopeType(models.TextChoices):
        FUND = "", "Fund"
        STRATEGY = "strategy", "Strategy"
        ASSET_CLASS = "asset_class", "Asset class"
        TENOR = "tenor", "Tenor bucket"

    name = models.CharField(max_length=120, unique=True)
    metric = models.CharField(max_length=24, choices=Metric.choices)
    scope_type = models.CharField(max_length=16, choices=ScopeType.choices, blank=True)
    scope_value = models.CharField(
        max_length=32,
        blank=True,
        help_text="Strategy code, asset class or tenor bucket (for a DV01 limit: "
        f"{', '.join(TENOR_BUCKETS)}); blank for the fund.",
    )
    limit = models.DecimalField(max_digits=24, decimal_places=6)
    warning_fraction = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8"),
        help_text="Warn when the value reaches this fraction of the limit.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(limit__gt=0), name="risklimit_limit_positive"),
            models.CheckConstraint(
                condition=Q(warning_fraction__gt=0, warning_fraction__lte=1),
                name="risklimit_warning_fraction_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=(Q(scope_type="") & Q(scope_value=""))
                | (~Q(scope_type="") & ~Q(scope_value="")),
                name="risklimit_scope_value_iff_scope_type",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> str:
        return f"{self.scope_type}:{self.scope_value}" if self.scope_type else "fund"

    def clean(self) -> None:
        """The scope must exist and suit the metric (used by the admin and the API)."""
        metric, scope_type, value = self.metric, self.scope_type, self.scope_value
        kind = self.ScopeType
        if scope_type == kind.FUND and value:
            raise ValidationError(
                {"scope_value": "A fund-wide limit has no scope_value; set scope_type."}
            )
        if scope_type != kind.FUND and not value:
            raise ValidationError({"scope_value": f"Name the {scope_type} this limit is on."})
        if scope_type == kind.STRATEGY and not Strategy.objects.filter(code=value).exists():
            raise ValidationError({"scope_value": f"Unknown strategy {value!r}."})
        if scope_type == kind.ASSET_CLASS and value not in Instrument.AssetClass.values:
            choices = ", ".join(Instrument.AssetClass.values)
            raise ValidationError(
                {"scope_value": f"Unknown asset class {value!r}: one of {choices}."}
            )
        if scope_type == kind.TENOR and value not in TENOR_BUCKETS:
            buckets = ", ".join(TENOR_BUCKETS)
            raise ValidationError(
                {"scope_value": f"Unknown tenor bucket {value!r}: one of {buckets}."}
            )
        if scope_type == kind.TENOR and metric != self.Metric.DV01:
            raise ValidationError({"scope_type": "A tenor scope is for a dv01 limit."})
        if metric == self.Metric.ASSET_CLASS_GROSS and scope_type != kind.ASSET_CLASS:
            raise ValidationError(
                {"scope_type": "An asset_class_gross limit is scoped to an asset class."}
            )
        if metric == self.Metric.DRAWDOWN and scope_type != kind.FUND:
            raise ValidationError(
                {"scope_type": "A drawdown limit is fund-wide (scope_type blank)."}
            )


RATIO_METRICS = {
    RiskLimit.Metric.GROSS_LEVERAGE,
    RiskLimit.Metric.NET_LEVERAGE,
    RiskLimit.Metric.CONCENTRATION,
}


def limit_figure(metric: str, value: Decimal | str | None) -> str:
    """A limit or its value in the metric's unit: 3.50× NAV, a 12.0% drawdown, an amount
    in the base currency."""
    if value is None:
        return "—"
    amount = Decimal(value)
    if metric in RATIO_METRICS:
        return f"{amount:,.2f}×"
    if metric == RiskLimit.Metric.DRAWDOWN:
        return percent(amount, 1)
    return money(amount)


# The source of the alert of a day whose NAV breaks with the administrator's official one.
NAV_BREAK = "nav_break"
SOURCES_SHOWN = {NAV_BREAK: "NAV break with the administrator"}


class RiskAlert(models.Model):
    """A limit's breach, or a failure of the daily data (a pipeline that failed on a
    business date, a day whose NAV breaks with the administrator's): open → acknowledged →
    resolved.

    One per limit and breach: a breach is the run of consecutive business days the limit is
    in breach, from `date` (its first day) to `last_day`, with the value and utilization of
    its last day and the worst utilization of all its days; every check of a day in it or
    next to it updates it, and it resolves itself when a later check finds the limit back
    under (`resolved_on`). A later breach is a new alert. A pipeline's alert is one per
    source and business date, resolved when the pipeline succeeds for that date; a NAV
    break's (source `nav_break`) is one per business date, resolved when the day reconciles.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    limit = models.ForeignKey(
        RiskLimit, on_delete=models.PROTECT, related_name="alerts", null=True, blank=True
    )
    source = models.CharField(
        max_length=64, blank=True, help_text='Without a limit, what raised it: "pipeline:eod".'
    )
    message = models.TextField(blank=True)
    date = models.DateField(
        "first day", help_text="The breach's first business day (a pipeline's: the run's date)."
    )
    last_day = models.DateField(
        null=True, blank=True, help_text="The breach's last business day; blank: its first."
    )
    days = models.PositiveIntegerField(default=1, help_text="Business days in breach.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    value = models.DecimalField(
        max_digits=28,
        decimal_places=6,
        null=True,
        help_text="On the last day in breach. Null: undefined (NAV ≤ 0).",
    )
    utilization = models.DecimalField(
        max_digits=16, decimal_places=6, null=True, help_text="On the last day in breach."
    )
    worst_utilization = models.DecimalField(
        max_digits=16, decimal_places=6, null=True, blank=True, help_text="Over the breach."
    )
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    resolved_on = models.DateField(
        null=True, blank=True, help_text="The business day a check found the limit back under."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            ("acknowledge_riskalert", "Can acknowledge alerts"),
        ]
        ordering = ["-date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["limit", "date"], name="riskalert_one_per_limit_date"),
            models.UniqueConstraint(
                fields=["source", "date"],
                condition=Q(limit__isnull=True),
                name="riskalert_one_per_source_date",
            ),
            models.CheckConstraint(
                condition=Q(limit__isnull=False) | ~Q(source=""), name="riskalert_has_a_cause"
            ),
            models.CheckConstraint(
                condition=Q(last_day__isnull=True) | Q(last_day__gte=models.F("date")),
                name="riskalert_last_day_not_before_first",
            ),
        ]
        indexes = [models.Index(fields=["status", "date"], name="riskalert_status_date_idx")]

    def __str__(self) -> str:
        return f"{self.subject} from {self.date} ({self.status})"

    @property
    def subject(self) -> str:
        """What the alert is about, in the fund's words: the limit's name, or its source's."""
        if self.limit:
            return self.limit.name
        return SOURCES_SHOWN.get(self.source, self.source)

    @property
    def last(self) -> dt.date:
        """The breach's last business day (its first, when only that is recorded)."""
        return self.last_day or self.date


class StressScenario(models.Model):
    """Either a set of shocks or a historical window (start, end) replayed from prices.

    A shock is `{target_type: instrument|asset_class|currency, target, shock, quote_type?}`:
    a relative move for price instruments and currencies, a move in bp for yields.
    """

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    shocks = models.JSONField(default=list, blank=True)
    historical_start = models.DateField(null=True, blank=True)
    historical_end = models.DateField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(historical_start__isnull=True) & Q(historical_end__isnull=True))
                | Q(historical_start__lt=models.F("historical_end")),
                name="stressscenario_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Shocks or a past window, not both (the shocks themselves are checked on input)."""
        start, end = self.historical_start, self.historical_end
        if self.shocks and (start or end):
            raise ValidationError("A scenario is shocks or a historical window, not both.")
        if not self.shocks and not (start and end):
            raise ValidationError("Give shocks, or historical_start and historical_end.")
        if start and end and start >= end:
            raise ValidationError({"historical_end": "Must be after historical_start."})
        if end and end > today():
            raise ValidationError({"historical_end": f"{end} is in the future."})


class RiskSnapshot(models.Model):
    """The risk of the book at a business date's close (historical method, default window),
    computed from the fund's timeline of that date.

    One per date: computing a date again replaces it. On a young fund the window used is
    shorter than the window; below the minimum there is no VaR or ES (null, and
    `var_unavailable` says why).
    """

    date = models.DateField(unique=True)
    nav = models.DecimalField(max_digits=24, decimal_places=2)
    window = models.PositiveIntegerField(help_text="The window asked for (PMS_RISK_WINDOW).")
    window_used = models.PositiveIntegerField(
        null=True, help_text="Daily returns the history gave (none recorded before it was kept)."
    )
    var_unavailable = models.TextField(blank=True, help_text="Why there is no VaR, if none.")
    var_95 = models.DecimalField(max_digits=24, decimal_places=2, null=True)
    var_99 = models.DecimalField(max_digits=24, decimal_places=2, null=True)
    es_95 = models.DecimalField(max_digits=24, decimal_places=2, null=True)
    es_99 = models.DecimalField(max_digits=24, decimal_places=2, null=True)
    exposures = models.JSONField()
    dv01_by_currency = models.JSONField()
    dv01_by_tenor = models.JSONField(
        default=list, help_text="The net DV01 by time to maturity: [{bucket, dv01}], in order."
    )
    drawdown = models.JSONField(
        default=dict, help_text="The fund's drawdown from its peak: value, peak_date."
    )
    limits = models.JSONField(help_text="Each limit's value, utilization and status.")
    missing_history = models.JSONField(default=list)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} VaR 95% {money(self.var_95)}"
