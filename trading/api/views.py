"""Views of the trade workflow API: parse, call one service, render."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from core.api import MarketDataViewSet, actor
from core.calendar import today
from core.permissions import OPS, PM
from core.serializers import UpsertResultSerializer
from portfolio.models import AuditRecord

from .. import services
from ..filtersets import SignalFilter, TradeProposalFilter
from ..models import Signal, TradeProposal
from . import serializers as s


@extend_schema(
    methods=["POST"],
    request=s.SignalRowSerializer(many=True),
    responses={200: UpsertResultSerializer},
)
class SignalViewSet(MarketDataViewSet):
    queryset = Signal.objects.select_related("instrument", "strategy").order_by(
        "date", "strategy__code", "instrument__symbol"
    )
    serializer_class = s.SignalSerializer
    row_serializer_class = s.SignalRowSerializer
    filterset_class = SignalFilter
    upsert = staticmethod(services.signals_upsert)


class TradeProposalViewSet(viewsets.ReadOnlyModelViewSet):
    """Proposals to read; `pm` decides them, `pm` or `ops` generates them."""

    queryset = TradeProposal.objects.select_related("instrument", "strategy").order_by(
        "-date", "strategy__code", "instrument__symbol"
    )
    serializer_class = s.TradeProposalSerializer
    filterset_class = TradeProposalFilter

    @property
    def write_groups(self) -> tuple[str, ...]:
        return (PM, OPS) if self.action == "generate" else (PM,)

    def get_serializer_class(self) -> Any:
        return (
            s.TradeProposalDetailSerializer
            if self.action == "retrieve"
            else super().get_serializer_class()
        )

    def get_object(self) -> TradeProposal:
        proposal: TradeProposal = super().get_object()
        if self.action == "retrieve":
            proposal.decisions = AuditRecord.objects.filter(  # type: ignore[attr-defined]
                object_type=TradeProposal.__name__, object_id=str(proposal.pk)
            ).order_by("at", "id")
        return proposal

    @extend_schema(request=s.ProposalGenerateSerializer, responses=s.ProposalGenerationSerializer)
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        data = s.ProposalGenerateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        day = data.validated_data.get("date") or today()
        result = services.proposal_generate(date=day, actor=actor(request))
        body = {
            "date": day,
            "created": len(result.created),
            "expired": result.expired,
            "proposals": self.get_queryset().filter(date=day),
            "skipped": result.skipped,
        }
        return Response(s.ProposalGenerationSerializer(body).data)

    def _decide(self, request: Request, parser: type[Serializer], decide: Any) -> Any:
        """Parse the decision, then call the service on this proposal (locked there)."""
        data = parser(data=request.data)
        data.is_valid(raise_exception=True)
        return decide(proposal_id=self.get_object().pk, **data.validated_data, actor=actor(request))

    @extend_schema(request=s.ApproveSerializer, responses=s.ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        approval = self._decide(request, s.ApproveSerializer, services.proposal_approve)
        return Response(s.ApprovalSerializer(approval).data)

    @extend_schema(request=s.ModifyApproveSerializer, responses=s.ApprovalSerializer)
    @action(detail=True, methods=["post"], url_path="modify-approve")
    def modify_approve(self, request: Request, pk: str | None = None) -> Response:
        approval = self._decide(
            request, s.ModifyApproveSerializer, services.proposal_modify_approve
        )
        return Response(s.ApprovalSerializer(approval).data)

    @extend_schema(request=s.RejectSerializer, responses=s.RejectionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        proposal = self._decide(request, s.RejectSerializer, services.proposal_reject)
        return Response(s.RejectionSerializer({"proposal": proposal}).data)
