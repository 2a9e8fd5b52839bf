"""The cached reads of the API: each parses its query with its app's serializer and
answers `cache.read(<data set>, …)`; the data sets are in `datasets`."""

import datetime as dt

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from attribution.api import serializers as attribution
from briefing.api import serializers as briefing
from core.api import parsed_query
from portfolio.api import serializers as portfolio
from risk.api import serializers as risk

from . import cache


class BookView(cache.CachedJSONView):
    @extend_schema(responses=portfolio.BookSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read("book")


class LiveRiskView(cache.CachedJSONView):
    @extend_schema(parameters=[risk.LiveRiskQuerySerializer], responses=risk.LiveRiskSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read("risk", **parsed_query(risk.LiveRiskQuerySerializer, request))


class AttributionView(cache.CachedJSONView):
    @extend_schema(
        parameters=[attribution.AttributionQuerySerializer],
        responses=attribution.AttributionSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        return cache.read(
            "attribution", **parsed_query(attribution.AttributionQuerySerializer, request)
        )


class LatestPackView(cache.CachedJSONView):
    @extend_schema(responses=briefing.CachedMorningPackSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cache.read("morning_pack")


class PackView(cache.CachedJSONView):
    @extend_schema(responses=briefing.CachedMorningPackSerializer)
    def get(self, request: Request, day: dt.date) -> HttpResponse:
        return cache.read("morning_pack", date=day)
