"""Views of the morning pack API: the latest pack, a date's pack (JSON or page), generate."""

import datetime as dt

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import actor
from core.permissions import OPS, PM

from .. import render, selectors, services
from . import serializers as s


class PackPageView(APIView):
    """The pack as the page a PM reads (and prints), `text/html`."""

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR})
    def get(self, request: Request, day: dt.date) -> HttpResponse:
        pack = selectors.morning_pack(day)
        if pack is None:
            raise NotFound(f"No morning pack for {day}.")
        return HttpResponse(render.html(pack), content_type="text/html; charset=utf-8")


class GenerateView(APIView):
    write_groups = (PM, OPS)

    @extend_schema(request=s.PackRequestSerializer, responses={201: s.CachedMorningPackSerializer})
    def post(self, request: Request) -> Response:
        data = s.PackRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pack = services.morning_pack_generate(**data.validated_data, actor=actor(request))
        return Response(s.CachedMorningPackSerializer(pack).data, status=status.HTTP_201_CREATED)
