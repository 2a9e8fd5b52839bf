"""The cached reads of the API: each names its data set (in `datasets`) and the serializer
of its query, and answers `cache.read(<data set>, …)` (`CachedJSONView`)."""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from attribution.api import serializers as attribution
from briefing.api import serializers as briefing
from core.api import parsed_query
from core.permissions import may_read
from portfolio.api import serializers as portfolio
from risk.api import serializers as risk

from . import cache
from .authentication import remembered_reader


class CachedJSONView(APIView):
    """A GET of data set `dataset` answered by `cache.read`: the stored JSON bytes, sent as
    they are; a browser is shown DRF's browsable page of the same answer. `query_serializer`
    parses the query parameters, if the data set takes any. Each view's docstring is its
    description in the API's schema."""

    dataset: str
    query_serializer: type[Serializer] | None = None

    # JSON first: `Accept: application/json`, `*/*`, none, or `?format=json` pick it, and
    # the stored bytes go out with nothing parsed or rendered. `Accept: text/html` or
    # `?format=api` pick the browsable page: the answer, cache fields included, parsed back
    # from those bytes into a Response. Errors are DRF's Responses, in the negotiated format.
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer)

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        return cache.read(self.dataset, **self.given(request.query_params, kwargs))

    def given(self, query: QueryDict, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The data set's parameters: the query's, parsed (400 naming the field if bad),
        and the URL's."""
        parsed = parsed_query(self.query_serializer, query) if self.query_serializer else {}
        return {**parsed, **kwargs}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        answer = self._floor_hit(request, kwargs)
        if answer is not None:
            return answer
        return super().dispatch(request, *args, **kwargs)

    def _floor_hit(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase | None:
        """The floor of a cached read: the token check, one MGET and the bytes. A GET whose
        token this process remembers (`pms_site.authentication`), by a user who may read,
        wanting JSON, with a valid query and a current payload, is answered here without
        DRF's request, negotiation and checks: the same bytes and headers. Anything else
        (no token or an unknown one, HTML, a bad query, a miss, the cache down) is None,
        for DRF to answer as it answers every other view."""
        if request.method != "GET" or not _wants_json(request.META, request.GET):
            return None
        user = remembered_reader(request.META.get("HTTP_AUTHORIZATION", ""))
        if user is None or not may_read(user):
            return None
        try:
            given = self.given(request.GET, kwargs)
        except ValidationError:
            return None
        answer = cache.hit(self.dataset, **given)
        if answer is None:
            return None
        request.user = user  # as DRF's authentication leaves it, for the middleware
        for header, value in self.default_response_headers.items():
            answer.headers[header] = value
        return answer

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # What API clients send picks the JSON without DRF parsing every header.
        if self.format_kwarg is None and _wants_json(request.META, request.query_params):
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def finalize_response(
        self, request: Request, response: Any, *args: Any, **kwargs: Any
    ) -> Response:
        if isinstance(response, cache.PreparedResponse) and not isinstance(
            getattr(request, "accepted_renderer", None), JSONRenderer
        ):
            response = Response(json.loads(response.content), status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)


def _wants_json(meta: dict[str, Any], query: QueryDict) -> bool:
    """No Accept, `*/*` or `application/json`, and no `?format=`: DRF would pick the JSON."""
    return (
        meta.get("HTTP_ACCEPT", "*/*") in ("*/*", "application/json")
        and api_settings.URL_FORMAT_OVERRIDE not in query
    )


@extend_schema_view(get=extend_schema(responses=portfolio.BookSerializer))
class BookView(CachedJSONView):
    """The book now: positions, P&L and NAV in the base currency, marked at the latest
    prices; `cached` and `cache_age_seconds` say whether it came from the cache."""

    dataset = "book"


@extend_schema_view(
    get=extend_schema(parameters=[risk.LiveRiskQuerySerializer], responses=risk.LiveRiskSerializer)
)
class LiveRiskView(CachedJSONView):
    """Risk of the book now: VaR and expected shortfall by `method` over `window` daily
    returns, exposures, DV01 and limits; `cached` and `cache_age_seconds` as for the book."""

    dataset = "risk"
    query_serializer = risk.LiveRiskQuerySerializer


@extend_schema_view(
    get=extend_schema(
        parameters=[attribution.AttributionQuerySerializer],
        responses=attribution.AttributionSerializer,
    )
)
class AttributionView(CachedJSONView):
    """P&L attribution over a period, Carino-linked, by strategy, asset class, instrument
    and currency; `cached` and `cache_age_seconds` as for the book."""

    dataset = "attribution"
    query_serializer = attribution.AttributionQuerySerializer


@extend_schema_view(get=extend_schema(responses=briefing.CachedMorningPackSerializer))
class LatestPackView(CachedJSONView):
    """The latest morning pack generated; `cached` and `cache_age_seconds` as for the
    book."""

    dataset = "morning_pack"


@extend_schema_view(get=extend_schema(responses=briefing.CachedMorningPackSerializer))
class PackView(CachedJSONView):
    """The morning pack of a business date; `cached` and `cache_age_seconds` as for the
    book."""

    dataset = "morning_pack"

    def given(self, query: QueryDict, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"date": kwargs["day"]}  # the URL's /api/morning-pack/<day>/
