"""Views of the performance API: parse, call one selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..filtersets import PortfolioSnapshotFilter, PositionSnapshotFilter
from ..models import PortfolioSnapshot, PositionSnapshot
from . import serializers as s


class AttributionView(APIView):
    @extend_schema(parameters=[s.AttributionQuerySerializer], responses=s.AttributionSerializer)
    def get(self, request: Request) -> Response:
        query = s.AttributionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        by = params.pop("by")
        period = selectors.period_resolve(params.pop("period"), **params)
        report = selectors.attribution_report(period, by)
        return Response({**report, "cached": False, "cache_age_seconds": None})


class NavView(generics.ListAPIView):
    """The fund's daily NAV, P&L, flows and returns, oldest first."""

    queryset = PortfolioSnapshot.objects.order_by("date")
    serializer_class = s.NavSerializer
    filterset_class = PortfolioSnapshotFilter


class PositionSnapshotViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = PositionSnapshot.objects.select_related("instrument", "strategy").order_by(
        "date", "instrument__symbol", "strategy__code"
    )
    serializer_class = s.PositionSnapshotSerializer
    filterset_class = PositionSnapshotFilter
