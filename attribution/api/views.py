"""Views of the performance API that are not cached: parse, call one selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import parsed_query

from .. import selectors
from . import serializers as s


class PerformanceView(APIView):
    """Return, volatility, Sharpe and Sortino against the CDI, drawdown, Calmar, hit ratio,
    best and worst day: the fund's and each strategy's, over a period."""

    @extend_schema(parameters=[s.PerformanceQuerySerializer], responses=s.PerformanceSerializer)
    def get(self, request: Request) -> Response:
        report = selectors.performance(
            **parsed_query(s.PerformanceQuerySerializer, request.query_params)
        )
        return Response(s.PerformanceSerializer(report).data)
