"""Views of the portfolio API: parse, call one service or selector, render."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from core import inputs
from core.api import MarketDataViewSet, ServiceWritesMixin, actor, parsed_query
from core.calendar import today
from core.permissions import OPS, PM
from core.serializers import UpsertResultSerializer

from .. import selectors, services
from ..filtersets import (
    AuditRecordFilter,
    BenchmarkRateFilter,
    CapitalFlowFilter,
    FxRateFilter,
    PortfolioSnapshotFilter,
    PositionFilter,
    PositionSnapshotFilter,
    PriceFilter,
    TradeFilter,
)
from ..models import (
    AuditRecord,
    BenchmarkRate,
    CapitalFlow,
    FxRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from . import serializers as s


class ReferenceDataViewSet(
    ServiceWritesMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """List, create, read and PATCH reference data, written by the services (audited)."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    write_groups = (OPS,)


class InstrumentViewSet(ReferenceDataViewSet):
    queryset = Instrument.objects.all()
    serializer_class = s.InstrumentSerializer
    lookup_field = "symbol"
    lookup_value_regex = inputs.CODE_PATTERN  # anything else (a NUL, a slash) is a 404
    filterset_fields = ["asset_class", "currency", "quote_type", "is_active"]
    create_service = staticmethod(services.instrument_create)
    update_service = staticmethod(services.instrument_update)


class StrategyViewSet(ReferenceDataViewSet):
    queryset = Strategy.objects.all()
    serializer_class = s.StrategySerializer
    lookup_field = "code"
    lookup_value_regex = inputs.CODE_PATTERN
    create_service = staticmethod(services.strategy_create)
    update_service = staticmethod(services.strategy_update)


@extend_schema(
    methods=["POST"],
    request=s.PriceRowSerializer(many=True),
    responses={200: UpsertResultSerializer},
)
class PriceViewSet(MarketDataViewSet):
    queryset = Price.objects.select_related("instrument").order_by("instrument__symbol", "date")
    serializer_class = s.PriceSerializer
    row_serializer_class = s.PriceRowSerializer
    filterset_class = PriceFilter
    upsert = staticmethod(services.prices_upsert)


@extend_schema(
    methods=["POST"],
    request=s.FxRateSerializer(many=True),
    responses={200: UpsertResultSerializer},
)
class FxRateViewSet(MarketDataViewSet):
    queryset = FxRate.objects.order_by("currency", "date")
    serializer_class = s.FxRateSerializer
    row_serializer_class = s.FxRateSerializer
    filterset_class = FxRateFilter
    upsert = staticmethod(services.fx_rates_upsert)


@extend_schema(
    methods=["POST"],
    request=s.BenchmarkRateSerializer(many=True),
    responses={200: UpsertResultSerializer},
)
class BenchmarkRateViewSet(MarketDataViewSet):
    queryset = BenchmarkRate.objects.order_by("benchmark", "date")
    serializer_class = s.BenchmarkRateSerializer
    row_serializer_class = s.BenchmarkRateSerializer
    filterset_class = BenchmarkRateFilter
    upsert = staticmethod(services.benchmark_rates_upsert)


class CapitalFlowViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = CapitalFlow.objects.order_by("date", "id")
    serializer_class = s.CapitalFlowSerializer
    filterset_class = CapitalFlowFilter
    write_groups = (OPS,)

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = services.capital_flow_create(
            **serializer.validated_data, actor=actor(self.request)
        )


class PositionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Position.objects.select_related("instrument", "strategy").order_by("id")
    serializer_class = s.PositionSerializer
    filterset_class = PositionFilter
    write_groups = (PM,)

    @extend_schema(request=s.PositionOpenSerializer, responses={201: s.PositionSerializer})
    def create(self, request: Request) -> Response:
        data = s.PositionOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        trade = services.trade_book(
            request=services.TradeRequest(
                **{**values, "trade_date": values.get("trade_date") or today()}
            ),
            actor=actor(request),
            source=Trade.Source.API,
        )
        position = self.get_queryset().get(pk=trade.position_id)
        return Response(s.PositionSerializer(position).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.PositionCloseSerializer, responses=s.PositionSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        position = self.get_object()
        data = s.PositionCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        closed = services.position_close(
            position=position, **data.validated_data, actor=actor(request)
        )
        return Response(s.PositionSerializer(closed).data)

    @extend_schema(request=s.PositionRollSerializer, responses=s.PositionRollResultSerializer)
    @action(detail=True, methods=["post"])
    def roll(self, request: Request, pk: str | None = None) -> Response:
        """Close the position and open its quantity in another contract of its root, in one
        transaction (both trades, one audit record `position.roll`)."""
        position = self.get_object()
        data = s.PositionRollSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        closed, opened = services.position_roll(
            position=position, **data.validated_data, actor=actor(request)
        )
        return Response(s.PositionRollResultSerializer({"closed": closed, "opened": opened}).data)


class TradeViewSet(viewsets.ReadOnlyModelViewSet):
    """The trade ledger: read-only."""

    queryset = Trade.objects.select_related("instrument", "strategy").order_by("trade_date", "id")
    serializer_class = s.TradeSerializer
    filterset_class = TradeFilter


class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit trail: read-only, newest first."""

    queryset = AuditRecord.objects.order_by("-at", "-id")
    serializer_class = s.AuditRecordSerializer
    filterset_class = AuditRecordFilter


class FundView(APIView):
    """The fund: base currency, inception, calendar, how far the book and the timeline
    reach, its accounts now (the live book's NAV, quota, units, cash and performance
    provision) and its terms; PATCH changes the terms from a date (ops)."""

    write_groups = (OPS,)

    @extend_schema(responses=s.FundSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.FundSerializer(selectors.fund()).data)

    @extend_schema(request=s.FundTermsChangeSerializer, responses=s.FundSerializer)
    def patch(self, request: Request) -> Response:
        data = s.FundTermsChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.fund_terms_change(**data.validated_data, actor=actor(request))
        return Response(s.FundSerializer(selectors.fund()).data)


class MarkToMarketView(APIView):
    write_groups = (OPS,)

    @extend_schema(
        request=s.MarkToMarketRequestSerializer, responses=s.MarkToMarketResultSerializer
    )
    def post(self, request: Request) -> Response:
        data = s.MarkToMarketRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.mark_to_market(
            as_of=data.validated_data.get("date") or selectors.close_due(), actor=actor(request)
        )
        return Response(s.MarkToMarketResultSerializer(result).data)


class NavView(generics.ListAPIView):
    """The fund's daily NAV, P&L, flows and returns, oldest first."""

    queryset = PortfolioSnapshot.objects.order_by("date")
    serializer_class = s.NavSerializer
    filterset_class = PortfolioSnapshotFilter

    def paginate_queryset(self, queryset: Any) -> Any:
        # The page's days as plain values: what NavSerializer shows, nothing more.
        return super().paginate_queryset(queryset.values(*set(s.NAV_VALUES.values())))


class NavReconciliationView(generics.ListAPIView):
    """The fund's NAV, quota and units beside the administrator's official ones, day by
    day, oldest first: every day either side has, with its status (ok, break, missing)."""

    serializer_class = s.NavReconciliationSerializer
    filter_backends: list[Any] = []  # the query is the selector's, parsed below

    def get_queryset(self) -> Any:
        query = parsed_query(s.NavReconciliationQuerySerializer, self.request.query_params)
        return selectors.nav_reconciliation(**query)

    @extend_schema(parameters=[s.NavReconciliationQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PositionSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PositionSnapshot.objects.select_related("instrument", "strategy").order_by(
        "date", "instrument__symbol", "strategy__code"
    )
    serializer_class = s.PositionSnapshotSerializer
    filterset_class = PositionSnapshotFilter
