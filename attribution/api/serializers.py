"""Serializers of the performance API: parse the query, describe the answers."""

from rest_framework import serializers

from core.serializers import money_field

from ..selectors import DEFAULT_BY, DEFAULT_PERIOD, DIMENSIONS, PERIODS


class AttributionQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default=DEFAULT_PERIOD)
    by = serializers.ChoiceField(choices=list(DIMENSIONS), default=DEFAULT_BY)
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
