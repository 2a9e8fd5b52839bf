"""Views of the risk API: parse, call one service or selector, render."""

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ServiceWritesMixin, actor, parsed_query
from core.permissions import ALL_GROUPS, PM, RISK

from .. import selectors, services
from ..filtersets import RiskAlertFilter, RiskSnapshotFilter
from ..models import RiskAlert, RiskLimit, RiskSnapshot, StressScenario
from . import serializers as s


class RiskSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RiskSnapshot.objects.order_by("date")
    serializer_class = s.RiskSnapshotSerializer
    filterset_class = RiskSnapshotFilter
    lookup_field = "date"
    lookup_value_regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def get_object(self) -> RiskSnapshot:
        try:
            dt.date.fromisoformat(self.kwargs["date"])
        except ValueError:
            raise NotFound(f"{self.kwargs['date']} is not a date.") from None
        snapshot: RiskSnapshot = super().get_object()
        return snapshot


class RiskLimitViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    queryset = RiskLimit.objects.order_by("name")
    serializer_class = s.RiskLimitSerializer
    filterset_fields = ["metric", "scope_type", "is_active"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_groups = (RISK,)

    create_service = staticmethod(services.limit_create)
    update_service = staticmethod(services.limit_update)
    delete_service = staticmethod(services.limit_delete)


class RiskAlertViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = RiskAlert.objects.select_related("limit").order_by("-date", "-pk")
    serializer_class = s.RiskAlertSerializer
    filterset_class = RiskAlertFilter
    write_groups = (RISK, PM)

    @extend_schema(request=s.AcknowledgeSerializer, responses=s.RiskAlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = self.get_object()
        data = s.AcknowledgeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.alert_acknowledge(
            alert_id=alert.pk, actor=actor(request), note=data.validated_data["note"]
        )
        return Response(s.RiskAlertSerializer(alert).data)


class StressScenarioViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    queryset = StressScenario.objects.order_by("name")
    serializer_class = s.StressScenarioSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    write_groups = (RISK,)

    create_service = staticmethod(services.scenario_create)
    update_service = staticmethod(services.scenario_update)
    delete_service = staticmethod(services.scenario_delete)


class DecompositionView(APIView):
    """Component VaR (historical) of the live book, and each strategy's incremental VaR."""

    @extend_schema(parameters=[s.DecompositionQuerySerializer], responses=s.DecompositionSerializer)
    def get(self, request: Request) -> Response:
        query = parsed_query(s.DecompositionQuerySerializer, request.query_params)
        return Response(s.DecompositionSerializer(selectors.decomposition(**query)).data)


class BacktestView(APIView):
    """The stored VaR against the next business day's fund P&L."""

    @extend_schema(parameters=[s.BacktestQuerySerializer], responses=s.BacktestSerializer)
    def get(self, request: Request) -> Response:
        query = parsed_query(s.BacktestQuerySerializer, request.query_params)
        return Response(s.BacktestSerializer(selectors.backtest(**query)).data)


class StressView(APIView):
    """Runs a stress on the current book. It changes nothing, so every group may run it."""

    write_groups = ALL_GROUPS

    @extend_schema(request=s.StressRequestSerializer, responses=s.StressResultSerializer)
    def post(self, request: Request) -> Response:
        data = s.StressRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(selectors.stress(**data.validated_data))
