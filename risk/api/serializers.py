"""Serializers of the risk API: parse and validate input, describe output."""

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from core import inputs
from core.serializers import (
    FundDateField,
    ModelSerializer,
    StrictDecimalField,
    StrictSerializer,
    positive,
)
from portfolio.models import Instrument

from .. import services
from ..engine import TENOR_BUCKETS
from ..models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario
from ..selectors import (
    LIMIT_STATUSES,
    MAX_WINDOW,
    Backtest,
    Decomposition,
    RiskReport,
    default_window,
    min_window,
    validate_request,
)
from ..selectors.decomposition import BY, DEFAULT_CONFIDENCE, validate_decomposition
from ..services import SHOCK_MAX, SHOCK_PLACES, SHOCK_TARGET_PATTERN
from .report import backtest_shown, decomposition_shown, report_shown


class RiskLimitSerializer(ModelSerializer):
    scope = serializers.CharField(read_only=True)

    class Meta:
        model = RiskLimit
        fields = [
            "id",
            "name",
            "metric",
            "scope_type",
            "scope_value",
            "scope",
            "limit",
            "warning_fraction",
            "is_active",
        ]
        extra_kwargs = {
            "limit": {"validators": [positive]},
            "warning_fraction": {"min_value": Decimal("0.0001"), "max_value": Decimal("1")},
        }


class RiskAlertSerializer(ModelSerializer):
    """One alert per limit and breach: its first and last day in breach, the days between,
    the utilization of its last day and its worst."""

    limit_name = serializers.CharField(source="limit.name", read_only=True, allow_null=True)
    metric = serializers.CharField(source="limit.metric", read_only=True, allow_null=True)
    scope = serializers.CharField(source="limit.scope", read_only=True, allow_null=True)
    threshold = serializers.DecimalField(
        source="limit.limit", max_digits=24, decimal_places=6, read_only=True, allow_null=True
    )
    first_day = serializers.DateField(source="date", read_only=True)
    last_day = serializers.DateField(source="last", read_only=True)

    class Meta:
        model = RiskAlert
        fields = [
            "id",
            "limit",
            "limit_name",
            "metric",
            "scope",
            "threshold",
            "source",
            "message",
            "status",
            "first_day",
            "last_day",
            "days",
            "value",
            "utilization",
            "worst_utilization",
            "opened_at",
            "acknowledged_by",
            "acknowledged_at",
            "note",
            "resolved_at",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(StrictSerializer):
    note = serializers.CharField(
        max_length=inputs.NOTE_MAX,
        help_text="What is done about the alert (required).",
    )


class ShockSerializer(StrictSerializer):
    """A relative move for price instruments and currencies (−1 to +10), a move in bp for
    yields (±10,000)."""

    target_type = serializers.ChoiceField(choices=["instrument", "asset_class", "currency"])
    target = serializers.RegexField(
        SHOCK_TARGET_PATTERN,
        max_length=32,
        help_text="A symbol, an asset class or a currency code.",
    )
    shock = StrictDecimalField(
        max_digits=18, decimal_places=SHOCK_PLACES, min_value=-SHOCK_MAX, max_value=SHOCK_MAX
    )
    quote_type = serializers.ChoiceField(
        choices=Instrument.QuoteType.choices,
        required=False,
        help_text="Asset-class shocks: only the price (relative) or yield (bp) instruments.",
    )


class ShocksField(serializers.ListField):
    child = ShockSerializer()

    def run_validation(self, data: Any = serializers.empty) -> Any:
        """Valid shocks, JSON-safe as a scenario stores them (the move as a string)."""
        return services.shocks_clean(super().run_validation(data))


class StressScenarioSerializer(ModelSerializer):
    shocks = ShocksField(required=False)

    class Meta:
        model = StressScenario
        fields = [
            "id",
            "name",
            "description",
            "shocks",
            "historical_start",
            "historical_end",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]


class StressRequestSerializer(StrictSerializer):
    scenario = serializers.PrimaryKeyRelatedField(
        queryset=StressScenario.objects.all(), required=False
    )
    shocks = ShocksField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("scenario" in attrs) == ("shocks" in attrs):
            raise serializers.ValidationError("Send either scenario (an id) or shocks.")
        return attrs


class StressPositionSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    strategy = serializers.CharField()
    pnl = serializers.DecimalField(max_digits=24, decimal_places=2)


class StressResultSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    scenario = serializers.IntegerField(required=False)
    name = serializers.CharField(required=False)
    pnl = serializers.DecimalField(max_digits=24, decimal_places=2)
    by_position = StressPositionSerializer(many=True)
    missing_history = serializers.ListField(child=serializers.CharField())


class WindowField(serializers.IntegerField):
    """Daily returns of the risk window: PMS_RISK_MIN_WINDOW to MAX_WINDOW, the bounds
    read when the field is made (the schema states the settings in force)."""

    def __init__(self) -> None:
        bounds = f"The window is {min_window()} to {MAX_WINDOW} daily returns."
        super().__init__(
            error_messages={"min_value": bounds, "max_value": bounds},
            required=False,
            default=default_window,
            min_value=min_window(),
            max_value=MAX_WINDOW,
            help_text="Daily returns; default PMS_RISK_WINDOW.",
        )


class LiveRiskQuerySerializer(serializers.Serializer):
    window = WindowField()
    method = serializers.CharField(required=False, default="historical")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Here, before the answer's cache key is built from them.
        validate_request(attrs["window"], attrs["method"])
        return attrs


class LimitStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    metric = serializers.CharField()
    scope = serializers.CharField()
    limit = serializers.DecimalField(max_digits=24, decimal_places=6)
    value = serializers.DecimalField(max_digits=28, decimal_places=6, allow_null=True)
    utilization = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)
    status = serializers.ChoiceField(choices=LIMIT_STATUSES)


class TenorDv01Serializer(serializers.Serializer):
    bucket = serializers.ChoiceField(choices=TENOR_BUCKETS)
    dv01 = serializers.DecimalField(max_digits=24, decimal_places=2)


class DrawdownSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    value = serializers.DecimalField(
        max_digits=16, decimal_places=6, help_text="1 − I / peak I, I the time-weighted NAV index."
    )
    peak_date = serializers.DateField(allow_null=True)


class LiveRiskSerializer(serializers.Serializer):
    """The schema of GET /api/risk/live/ (the view returns a plain dict)."""

    # The dict is a `RiskReport` (`risk.selectors.live_risk`) shown by `report_shown`.
    as_of = serializers.DateField()
    nav = serializers.DecimalField(max_digits=24, decimal_places=2)
    method = serializers.CharField()
    window = serializers.IntegerField(help_text="The window asked for.")
    window_used = serializers.IntegerField(
        help_text="Daily returns the history gives, up to the window (a young fund has fewer)."
    )
    short_history = serializers.BooleanField(help_text="window_used < window.")
    var_unavailable = serializers.CharField(
        allow_null=True, help_text="Why VaR and ES are null (too little history), else null."
    )
    var = serializers.DictField(
        child=serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    )
    expected_shortfall = serializers.DictField(
        child=serializers.DecimalField(max_digits=24, decimal_places=2, allow_null=True)
    )
    exposures = serializers.DictField()
    dv01_by_currency = serializers.DictField(
        child=serializers.DecimalField(max_digits=24, decimal_places=2)
    )
    dv01_by_tenor = TenorDv01Serializer(
        many=True,
        help_text="The book's net DV01 by time to maturity, in bucket order; the buckets "
        "add up to the book's DV01.",
    )
    drawdown = DrawdownSerializer()
    limits = LimitStatusSerializer(many=True)
    missing_history = serializers.ListField(child=serializers.CharField())
    cached = serializers.BooleanField()
    cache_age_seconds = serializers.FloatField(allow_null=True)

    def to_representation(self, report: RiskReport) -> dict[str, Any]:  # type: ignore[override]
        return report_shown(report)


class RiskSnapshotSerializer(ModelSerializer):
    class Meta:
        model = RiskSnapshot
        fields = [
            "date",
            "nav",
            "window",
            "window_used",
            "var_unavailable",
            "var_95",
            "var_99",
            "es_95",
            "es_99",
            "exposures",
            "dv01_by_currency",
            "dv01_by_tenor",
            "drawdown",
            "limits",
            "missing_history",
            "computed_at",
        ]


class DecompositionQuerySerializer(serializers.Serializer):
    by = serializers.CharField(required=False, default="position", help_text=" | ".join(BY))
    confidence = serializers.FloatField(required=False, default=DEFAULT_CONFIDENCE)
    window = WindowField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        validate_decomposition(attrs["by"], attrs["confidence"])
        validate_request(attrs["window"], "historical")
        return attrs


class ComponentSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="SYMBOL/STRATEGY, a strategy, an asset class or a currency."
    )
    component_var = serializers.DecimalField(max_digits=28, decimal_places=2)
    share = serializers.DecimalField(max_digits=16, decimal_places=6, allow_null=True)


class IncrementalSerializer(serializers.Serializer):
    strategy = serializers.CharField()
    incremental_var = serializers.DecimalField(max_digits=28, decimal_places=2)


class DecompositionSerializer(serializers.Serializer):
    # A `Decomposition` (`risk.selectors.decomposition`), shown by `decomposition_shown`.
    as_of = serializers.DateField()
    by = serializers.ChoiceField(choices=BY)
    confidence = serializers.FloatField()
    window_used = serializers.IntegerField()
    var = serializers.DecimalField(max_digits=28, decimal_places=2)
    rows = ComponentSerializer(many=True, help_text="Largest first; they add up to var.")
    incremental = IncrementalSerializer(many=True)

    def to_representation(self, report: Decomposition) -> dict[str, Any]:  # type: ignore[override]
        return decomposition_shown(report)


class BacktestQuerySerializer(serializers.Serializer):
    confidence = serializers.FloatField(required=False, default=0.99, help_text="0.95 or 0.99")
    start = FundDateField(required=False)
    end = FundDateField(required=False)


class LikelihoodRatioSerializer(serializers.Serializer):
    lr = serializers.DecimalField(max_digits=24, decimal_places=6)
    p_value = serializers.DecimalField(max_digits=16, decimal_places=6)


class BacktestDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The snapshot's date; the P&L is the next day's.")
    var = serializers.DecimalField(max_digits=24, decimal_places=2)
    pnl = serializers.DecimalField(max_digits=24, decimal_places=2)
    exception = serializers.BooleanField()


class BacktestSerializer(serializers.Serializer):
    # A `Backtest` (`risk.selectors.backtest`), shown by `backtest_shown`.
    confidence = serializers.FloatField()
    start = serializers.DateField()
    end = serializers.DateField()
    observations = serializers.IntegerField()
    exceptions = serializers.IntegerField()
    expected = serializers.DecimalField(max_digits=16, decimal_places=6)
    kupiec = LikelihoodRatioSerializer()
    christoffersen = LikelihoodRatioSerializer()
    traffic_light = serializers.ChoiceField(choices=["green", "yellow", "red"])
    traffic_light_days = serializers.IntegerField(
        help_text="The observations it counts: the last 250, or all when fewer."
    )
    days = BacktestDaySerializer(many=True)

    def to_representation(self, report: Backtest) -> dict[str, Any]:  # type: ignore[override]
        return backtest_shown(report)
