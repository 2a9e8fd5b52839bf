"""Serializers of the trade workflow API: parse and validate input, describe output."""

from decimal import Decimal

from rest_framework import serializers

from core import inputs
from core.serializers import (
    FundDateField,
    ModelSerializer,
    StrictDecimalField,
    StrictSerializer,
    code_field,
    confirm_field,
    note_field,
    price_field,
    quantity_field,
)
from portfolio.api.serializers import AuditRecordSerializer, PositionSerializer, TradeSerializer

from ..models import Signal, TradeProposal


def score_field(**kwargs: object) -> StrictDecimalField:
    return StrictDecimalField(
        max_digits=7,
        decimal_places=6,
        min_value=Decimal("-1"),
        max_value=Decimal("1"),
        **kwargs,  # type: ignore[arg-type]
    )


class SignalSerializer(ModelSerializer):
    instrument = serializers.CharField(source="instrument.symbol")
    strategy = serializers.CharField(source="strategy.code")
    score = score_field()

    class Meta:
        model = Signal
        fields = ["instrument", "strategy", "date", "score", "created_at"]
        read_only_fields = ["created_at"]


class SignalRowSerializer(StrictSerializer):
    """One row of a signal upload (API or CSV)."""

    instrument = code_field()
    strategy = code_field()
    date = FundDateField()
    score = score_field(help_text="−1 (full short) to +1 (full long).")


class TradeProposalSerializer(ModelSerializer):
    """A proposal as the API shows it: nothing of it is written through the API."""

    instrument = serializers.CharField(source="instrument.symbol")
    strategy = serializers.CharField(source="strategy.code")
    direction = serializers.ChoiceField(choices=["buy", "sell"])
    rationale = serializers.JSONField(
        help_text="Sizing inputs: score, sigma (per return or per bp), price, fx_rate, "
        "unit_value, risk_budget, target, current, lot_size, min_trade_fraction."
    )
    what_if = serializers.JSONField(
        help_text="as_of, method, window, window_used, short_history, unavailable (why "
        "there is no VaR, else null), var_95_before, var_95_after (null without a VaR), "
        "limits_before, limits_after (id, name, metric, scope, limit, value, utilization, "
        "status), missing_history. Of the trade proposed; once modified and approved, of "
        "the trade booked."
    )

    class Meta:
        model = TradeProposal
        fields = [
            "id",
            "date",
            "instrument",
            "strategy",
            "quantity",
            "direction",
            "status",
            "score",
            "rationale",
            "what_if",
            "decided_by",
            "decided_at",
            "decision_note",
            "executed_quantity",
            "executed_price",
            "trade",
            "created_at",
        ]
        read_only_fields = fields


class TradeProposalDetailSerializer(TradeProposalSerializer):
    decisions = AuditRecordSerializer(
        many=True, read_only=True, help_text="The proposal's audit trail, oldest first."
    )

    class Meta(TradeProposalSerializer.Meta):
        fields = [*TradeProposalSerializer.Meta.fields, "decisions"]
        read_only_fields = fields


class ProposalGenerateSerializer(StrictSerializer):
    date = FundDateField(required=False, help_text="Proposal date; default today.")


class SkippedSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    strategy = serializers.CharField()
    reason = serializers.CharField()


class ProposalGenerationSerializer(serializers.Serializer):
    date = serializers.DateField()
    created = serializers.IntegerField()
    expired = serializers.IntegerField()
    proposals = TradeProposalSerializer(many=True, help_text="Every proposal of the date.")
    skipped = SkippedSerializer(many=True, help_text="Signals that gave no proposal, and why.")


class ApproveSerializer(StrictSerializer):
    price = price_field(required=False, help_text="Execution price; default the last price.")
    note = note_field()
    confirm = confirm_field()


class ModifyApproveSerializer(ApproveSerializer):
    quantity = quantity_field(
        help_text="Signed quantity to book instead of the proposed one, in the proposal's "
        "direction (a quantity of the other sign, or zero, is a 400)."
    )


class RejectSerializer(StrictSerializer):
    # Blank is refused with the service's own words, so that the schema can say it.
    reason = serializers.CharField(
        max_length=inputs.NOTE_MAX, error_messages={"blank": "Say why the proposal is rejected."}
    )


class ApprovalSerializer(serializers.Serializer):
    proposal = TradeProposalSerializer()
    trade = TradeSerializer()
    position = PositionSerializer()


class RejectionSerializer(serializers.Serializer):
    proposal = TradeProposalSerializer()
