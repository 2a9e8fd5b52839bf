"""Serializers of the risk API: parse and validate input, describe output."""

import re
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models
from rest_framework import serializers

from core import inputs
from core.serializers import (
    ModelSerializer,
    StrictDecimalField,
    StrictSerializer,
    note_field,
    positive,
)
from portfolio.models import Instrument

from ..models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario
from ..selectors import LIMIT_STATUSES, default_window, validate_request

M = TypeVar("M", bound=models.Model)


def model_instance(model: type[M], instance: M | None, attrs: dict[str, Any]) -> M:
    """The object as it would be saved, to run the model's own `clean()` on it."""
    if instance is None:
        return model(**attrs)
    saved = {f.attname: getattr(instance, f.attname) for f in model._meta.concrete_fields}
    return model(**{**saved, **attrs})


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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The model's rules, on the limit as it would be saved.
        model_instance(RiskLimit, self.instance, attrs).clean()
        return attrs


class RiskAlertSerializer(ModelSerializer):
    limit_name = serializers.CharField(source="limit.name", read_only=True, allow_null=True)
    metric = serializers.CharField(source="limit.metric", read_only=True, allow_null=True)
    scope = serializers.CharField(source="limit.scope", read_only=True, allow_null=True)
    threshold = serializers.DecimalField(
        source="limit.limit", max_digits=24, decimal_places=6, read_only=True, allow_null=True
    )

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
            "date",
            "status",
            "value",
            "utilization",
            "opened_at",
            "acknowledged_by",
            "acknowledged_at",
            "note",
            "resolved_at",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(StrictSerializer):
    note = note_field()


class ShockSerializer(StrictSerializer):
    """A relative move for price instruments and currencies (−1 to +10), a move in bp for
    yields (±10,000)."""

    target_type = serializers.ChoiceField(choices=["instrument", "asset_class", "currency"])
    target = serializers.RegexField(
        r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z",
        max_length=32,
        help_text="A symbol, an asset class or a currency code.",
    )
    shock = StrictDecimalField(
        max_digits=18, decimal_places=8, min_value=Decimal("-10000"), max_value=Decimal("10000")
    )
    quote_type = serializers.ChoiceField(
        choices=Instrument.QuoteType.choices,
        required=False,
        help_text="Asset-class shocks: only the price (relative) or yield (bp) instruments.",
    )


def validate_shocks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Targets must exist, and a relative move cannot take a price to zero or below.

    Two queries whatever the number of shocks: the instruments named, and the quote types
    held in each asset class named (an asset class holding both needs `quote_type`).
    """
    if not rows:
        raise serializers.ValidationError("Give at least one shock.")
    symbols = {r["target"] for r in rows if r["target_type"] == "instrument"}
    quote_of = dict(
        Instrument.objects.filter(symbol__in=symbols).values_list("symbol", "quote_type")
    )
    classes = {r["target"] for r in rows if r["target_type"] == "asset_class"}
    held: dict[str, set[str]] = {}
    for asset_class, quote_type in (
        Instrument.objects.filter(asset_class__in=classes)
        .values_list("asset_class", "quote_type")
        .distinct()
    ):
        held.setdefault(asset_class, set()).add(quote_type)
    errors: dict[str, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        kind, target = row["target_type"], row["target"]
        quote_types = {row.get("quote_type") or "price"}
        problem = None
        if kind == "instrument":
            if target not in quote_of:
                problem = ("target", f"Unknown instrument {target!r}.")
            quote_types = {quote_of.get(target, "price")}
        elif kind == "asset_class":
            if target not in Instrument.AssetClass.values:
                problem = ("target", f"Unknown asset class {target!r}.")
            elif not row.get("quote_type"):
                quote_types = held.get(target, {"price"})
                if len(quote_types) > 1:
                    problem = (
                        "quote_type",
                        f"{target} holds price and yield instruments: say which this shock "
                        "moves (quote_type price: relative move; yield: bp).",
                    )
        elif not re.fullmatch(inputs.CURRENCY_PATTERN, target):
            problem = ("target", "A currency is a three-letter ISO code in capitals, e.g. USD.")
        if problem is None and "price" in quote_types and not -1 < row["shock"] <= 10:
            problem = ("shock", "A relative move must be above -1 (-100%) and at most 10.")
        if problem:
            errors[str(index)] = {problem[0]: [problem[1]]}
    if errors:
        raise serializers.ValidationError(errors)
    return rows


class ShocksField(serializers.ListField):
    child = ShockSerializer()

    def run_validation(self, data: Any = serializers.empty) -> Any:
        """Valid shocks, JSON-safe as a scenario stores them (the move as a string)."""
        rows = validate_shocks(super().run_validation(data))
        return [{**row, "shock": str(row["shock"])} for row in rows]


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

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model_instance(StressScenario, self.instance, attrs).clean()
        return attrs


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


class LiveRiskQuerySerializer(serializers.Serializer):
    window = serializers.IntegerField(
        required=False, default=default_window, help_text="Daily returns; default PMS_RISK_WINDOW."
    )
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


class DrawdownSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    value = serializers.DecimalField(
        max_digits=16, decimal_places=6, help_text="1 − I / peak I, I the time-weighted NAV index."
    )
    peak_date = serializers.DateField(allow_null=True)


class LiveRiskSerializer(serializers.Serializer):
    """The schema of GET /api/risk/live/ (the view returns a plain dict)."""

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
    drawdown = DrawdownSerializer()
    limits = LimitStatusSerializer(many=True)
    missing_history = serializers.ListField(child=serializers.CharField())
    cached = serializers.BooleanField()
    cache_age_seconds = serializers.FloatField(allow_null=True)


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
            "drawdown",
            "limits",
            "missing_history",
            "computed_at",
        ]
