"""Views of the performance API: parse, call one selector, render."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets
from rest_framework.request import Request

from pms_site import cache

from .. import selectors
from ..filtersets import PortfolioSnapshotFilter, PositionSnapshotFilter
from ..models import PortfolioSnapshot, PositionSnapshot
from . import serializers as s


class AttributionView(cache.CachedJSONView):
    @extend_schema(parameters=[s.AttributionQuerySerializer], responses=s.AttributionSerializer)
    def get(self, request: Request) -> HttpResponse:
        query = s.AttributionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)

        def report() -> dict[str, Any]:
            by, bounds = params["by"], {k: v for k, v in params.items() if k != "by"}
            return selectors.attribution_report(
                selectors.period_resolve(bounds.pop("period"), **bounds), by
            )

        return cache.cached_json("attribution", cache.attribution_key(**params), report)


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
