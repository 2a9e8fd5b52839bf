"""Base classes of the API views shared by the apps."""

from typing import Any

from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from .permissions import OPS
from .serializers import validated_rows


def actor(request: Request) -> str:
    return str(request.user.get_username())


class MarketDataViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET lists; POST upserts a list of rows, all or nothing (200: rows may be updated)."""

    write_groups = (OPS,)
    row_serializer_class: type[Serializer]
    upsert: Any  # the service: (rows=..., actor=...) -> (created, updated)

    def create(self, request: Request) -> Response:
        if not isinstance(request.data, list) or not request.data:
            return Response(
                {"detail": "Send a non-empty JSON list of rows."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        rows = validated_rows(self.row_serializer_class, request.data)
        created, updated = self.upsert(rows=rows, actor=actor(request))
        return Response({"created": created, "updated": updated})
