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
from pms_site import cache

from .. import render, services
from ..models import MorningPack
from . import serializers as s


def pack_for(day: dt.date | None) -> MorningPack:
    """The pack of a date, or the latest: 404 when there is none."""
    packs = MorningPack.objects.all()
    if day is not None:
        packs = packs.filter(date=day)
    pack = packs.order_by("-date").first()
    if pack is None:
        raise NotFound(
            "No morning pack yet: POST /api/morning-pack/generate/."
            if day is None
            else f"No morning pack for {day}."
        )
    return pack


def cached_pack(day: dt.date | None) -> HttpResponse:
    return cache.cached_json(
        "morning_pack",
        cache.morning_pack_key(day.isoformat() if day else None),
        lambda: s.MorningPackSerializer(pack_for(day)).data,
    )


class LatestPackView(cache.CachedJSONView):
    @extend_schema(responses=s.CachedMorningPackSerializer)
    def get(self, request: Request) -> HttpResponse:
        return cached_pack(None)


class PackView(cache.CachedJSONView):
    @extend_schema(responses=s.CachedMorningPackSerializer)
    def get(self, request: Request, day: dt.date) -> HttpResponse:
        return cached_pack(day)


class PackPageView(APIView):
    """The pack as the page a PM reads (and prints), `text/html`."""

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR})
    def get(self, request: Request, day: dt.date) -> HttpResponse:
        return HttpResponse(render.html(pack_for(day)), content_type="text/html; charset=utf-8")


class GenerateView(APIView):
    write_groups = (PM, OPS)

    @extend_schema(request=s.PackRequestSerializer, responses={201: s.CachedMorningPackSerializer})
    def post(self, request: Request) -> Response:
        data = s.PackRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pack = services.morning_pack_generate(**data.validated_data, actor=actor(request))
        return Response(s.CachedMorningPackSerializer(pack).data, status=status.HTTP_201_CREATED)
