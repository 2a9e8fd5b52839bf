"""The cached reads of the API: each parses its query with its app's serializer and
answers `cache.read(<data set>, …)`; the data sets are in `datasets`."""

import datetime as dt
import json
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from attribution.api import serializers as attribution
from briefing.api import serializers as briefing
from core.api import parsed_query
from portfolio.api import serializers as portfolio
from risk.api import serializers as risk

from . import cache


class CachedJSONView(APIView):
    """A read answered by `cache.read`: the stored JSON bytes, sent as they are; a browser is
    shown DRF's browsable page of the same answer."""

    # JSON first: `Accept: application/json`, `*/*`, none, or `?format=json` pick it, and
    # the stored bytes go out with nothing parsed or rendered. `Accept: text/html` or
    # `?format=api` pick the browsable page: the answer, cache fields included, parsed back
    # from those bytes into a Response. Errors are DRF's Responses, in the negotiated format.
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer)

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        if isinstance(response, cache.PreparedResponse) and not isinstance(
            getattr(request, "accepted_renderer", None), JSONRenderer
        ):
            response = Response(json.loads(response.content), status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)


class BookView(CachedJSONView):
    @extend_schema(responses=portfolio.BookSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read("book")


class LiveRiskView(CachedJSONView):
    @extend_schema(parameters=[risk.LiveRiskQuerySerializer], responses=risk.LiveRiskSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read(
            "risk", **parsed_query(risk.LiveRiskQuerySerializer, request.query_params)
        )


class AttributionView(CachedJSONView):
    @extend_schema(
        parameters=[attribution.AttributionQuerySerializer],
        responses=attribution.AttributionSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        return cache.read(
            "attribution",
            **parsed_query(attribution.AttributionQuerySerializer, request.query_params),
        )


class LatestPackView(CachedJSONView):
    @extend_schema(responses=briefing.CachedMorningPackSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read("morning_pack")


class PackView(CachedJSONView):
    @extend_schema(responses=briefing.CachedMorningPackSerializer)
    def get(self, request: Request, day: dt.date) -> HttpResponse:
        return cache.read("morning_pack", date=day)
