"""Base classes of the API views shared by the apps."""

from collections.abc import Callable
from typing import Any

from django.http import QueryDict
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer

from .filtering import query_values_problem
from .permissions import OPS
from .serializers import validated_rows


def actor(request: Request) -> str:
    return str(request.user.get_username())


def parsed_query(serializer_class: type[Serializer], query: QueryDict) -> dict[str, Any]:
    """A GET's query parameters (`request.query_params`) through `serializer_class`: 400
    naming the field if bad, given twice or empty (DRF would take an empty one as left
    out)."""
    problems = {
        name: [problem] for name in query if (problem := query_values_problem(query.getlist(name)))
    }
    if problems:
        raise ValidationError(problems)
    parsed = serializer_class(data=query)
    parsed.is_valid(raise_exception=True)
    return dict(parsed.validated_data)


class ServiceWritesMixin:
    """A model viewset whose writes go through the owning app's services, which check the
    rules and write the audit record (the admin calls the same ones):
    `create_service(actor=…, **fields)`, `update_service(obj, actor=…, **changes)`,
    `delete_service(obj, actor=…)`. The serializer only parses the input."""

    request: Any
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    delete_service: Callable[..., Any]

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.instance = type(self).create_service(
            actor=actor(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer: BaseSerializer) -> None:
        serializer.instance = type(self).update_service(
            serializer.instance, actor=actor(self.request), **serializer.validated_data
        )

    def perform_destroy(self, instance: Any) -> None:
        type(self).delete_service(instance, actor=actor(self.request))


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
