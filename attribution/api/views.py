"""Views of the performance API: parse, call one selector, render."""

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from pms_site import cache

from .. import selectors
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
