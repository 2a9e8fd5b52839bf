"""Errors of the API answered as JSON, whatever went wrong and whatever DEBUG says.

- Under `/api/`, a 404 or a 500 is `{"detail": …}`, never Django's HTML page.
- A database that is down or does not answer (a connect or statement timeout) is a 503
  `{"detail"}` with `Retry-After`, for every path: the request changed nothing.
- A request body nested past what the JSON parser can take is a 400, not a RecursionError;
  a host not allowed, a body too large or too many fields is a 400 `{"detail"}` too.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

logger = logging.getLogger("pms.errors")

RETRY_AFTER_SECONDS = 5
API_PREFIX = "/api/"


def database_unavailable() -> JsonResponse:
    response = JsonResponse(
        {"detail": "The database is unavailable: nothing was changed; try again shortly."},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class ApiErrorsMiddleware:
    """The last word on errors: the database's outages, and the API's 404 and 500 pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code in (404, 500)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            detail = "Not found." if response.status_code == 404 else "Internal error."
            return JsonResponse({"detail": detail}, status=response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error(
                "Database unavailable for %s %s: %s", request.method, request.path, exception
            )
            return database_unavailable()
        if request.path.startswith(API_PREFIX):
            logger.exception("Internal error on %s %s", request.method, request.path)
            return JsonResponse(
                {"detail": "Internal error: it is logged, and the request changed nothing."},
                status=500,
            )
        return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a host not allowed, a body too large) answered before any view: JSON
    under `/api/`, Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            {"detail": "Bad request: the request was refused as malformed."}, status=400
        )
    return defaults.bad_request(request, exception)


class BoundedJSONParser(JSONParser):
    """JSON as DRF parses it, with nesting too deep for Python answered as a 400."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
