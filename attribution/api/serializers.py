"""Serializers of the performance API: parse the query, describe the answers."""

from rest_framework import serializers

from portfolio.api.serializers import ModelSerializer, money_field

from ..models import PositionSnapshot
from ..selectors import DIMENSIONS, PERIODS


class AttributionQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default="mtd")
    by = serializers.ChoiceField(choices=list(DIMENSIONS), default="strategy")
    as_of = serializers.DateField(
        required=False, help_text="Named periods end here (default latest)."
    )
    start = serializers.DateField(required=False, help_text="period=custom only.")
    end = serializers.DateField(required=False, help_text="period=custom only.")


class AttributionRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    pnl = money_field()
    contribution = serializers.CharField(help_text="Carino-linked contribution to the return.")


class AttributionSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS)
    by = serializers.ChoiceField(choices=list(DIMENSIONS))
    start = serializers.DateField()
    end = serializers.DateField()
    total_pnl = money_field()
    total_return = serializers.CharField(help_text="Π(1 + r_t) − 1, as a decimal string.")
    linking = serializers.CharField()
    rows = AttributionRowSerializer(many=True)
    cached = serializers.BooleanField()
    cache_age_seconds = serializers.FloatField(allow_null=True)


class NavSerializer(serializers.Serializer):
    """A day of the fund. NAV = previous NAV + flow + pnl; return = pnl / (previous NAV +
    flow)."""

    date = serializers.DateField()
    nav = money_field()
    pnl = money_field()
    flow = money_field()
    # `return` is a Python keyword: declared through the class namespace.
    vars()["return"] = serializers.DecimalField(
        max_digits=24, decimal_places=16, source="daily_return", help_text="The day's return."
    )
    gross_exposure = money_field()
    net_exposure = money_field()
    positions = serializers.IntegerField()


class PositionSnapshotSerializer(ModelSerializer):
    instrument = serializers.CharField(source="instrument.symbol")
    strategy = serializers.CharField(source="strategy.code")

    class Meta:
        model = PositionSnapshot
        fields = [
            "date",
            "instrument",
            "strategy",
            "position",
            "quantity",
            "avg_cost",
            "price",
            "price_date",
            "fx_rate",
            "notional_base",
            "market_value_base",
            "unrealized_pnl_base",
            "realized_pnl_base",
            "daily_pnl_base",
            "dv01_base",
        ]
        read_only_fields = fields
