"""Serializers of the morning pack API."""

from rest_framework import serializers

from core.calendar import next_business_day, today
from core.serializers import FundDateField, ModelSerializer, StrictSerializer

from ..models import MorningPack


class MorningPackSerializer(ModelSerializer):
    sections = serializers.JSONField(
        help_text="headline, market_overview, portfolio, pnl_by_strategy, risk, proposals, "
        "attribution, data_quality"
    )

    class Meta:
        model = MorningPack
        fields = ["date", "data_date", "generated_at", "generated_by", "sent_at", "sections"]
        read_only_fields = fields


class CachedMorningPackSerializer(MorningPackSerializer):
    cached = serializers.BooleanField(default=False)
    cache_age_seconds = serializers.FloatField(allow_null=True, default=None)

    class Meta(MorningPackSerializer.Meta):
        fields = [*MorningPackSerializer.Meta.fields, "cached", "cache_age_seconds"]
        read_only_fields = fields


class PackRequestSerializer(StrictSerializer):
    date = FundDateField(
        required=False,
        latest=lambda: next_business_day(today()),
        help_text="Business date; default today (or the next business day).",
    )
    send = serializers.BooleanField(
        default=False, help_text="Email it to PMS_MORNING_PACK_RECIPIENTS."
    )
