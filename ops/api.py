"""The operations' API: the pipelines' runs with their steps, running one on the cluster,
and the administrator's official NAVs (written with their reconciliation)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import MarketDataViewSet
from core.calendar import today
from core.permissions import OPS
from core.serializers import (
    FundDateField,
    ModelSerializer,
    StrictSerializer,
    UpsertResultSerializer,
)
from portfolio.api.serializers import OfficialNavSerializer
from portfolio.filtersets import OfficialNavFilter
from portfolio.models import OfficialNav

from . import pipelines
from .models import PipelineRun
from .reconciliation import official_navs_upsert_and_reconcile


class PipelineRunSerializer(ModelSerializer):
    steps = serializers.JSONField(
        help_text="Per step, in order: name, status, attempts, started_at, finished_at, "
        "seconds, summary, error."
    )
    attempts = serializers.IntegerField()

    class Meta:
        model = PipelineRun
        fields = [
            "id",
            "pipeline",
            "business_date",
            "status",
            "steps",
            "attempts",
            "trigger",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "seconds",
            "error",
        ]
        read_only_fields = fields


class RunRequestSerializer(StrictSerializer):
    date = FundDateField(required=False, help_text="Business date; default today.")
    force = serializers.BooleanField(
        default=False,
        help_text="Take over a run recorded as queued or running whose worker died (never "
        "one whose worker is alive on the server's host).",
    )


class RunQueuedSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    status = serializers.CharField()


class RunBusySerializer(serializers.Serializer):
    detail = serializers.CharField()
    run_id = serializers.IntegerField(help_text="The run that holds the date.")
    status = serializers.CharField(help_text="queued or running")


class PipelineRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = PipelineRun.objects.order_by("-requested_at", "-id")
    serializer_class = PipelineRunSerializer
    filterset_fields = ["pipeline", "status", "business_date"]


class PipelineRunView(APIView):
    """Reserve the run and enqueue it on the django-q2 cluster (`manage.py qcluster`); 409
    with the id of the run that holds the date while it is queued or running."""

    write_groups = (OPS,)

    @extend_schema(
        request=RunRequestSerializer,
        responses={
            202: RunQueuedSerializer,
            409: OpenApiResponse(
                RunBusySerializer, description="The date's run is queued or running already."
            ),
        },
        parameters=[
            OpenApiParameter("pipeline", str, OpenApiParameter.PATH, enum=list(pipelines.PIPELINES))
        ],
    )
    def post(self, request: Request, pipeline: str) -> Response:
        if pipeline not in pipelines.PIPELINES:
            return Response(
                {"detail": f"Unknown pipeline {pipeline!r}: use {', '.join(pipelines.PIPELINES)}."},
                status=status.HTTP_404_NOT_FOUND,
            )
        data = RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        try:
            run = pipelines.pipeline_enqueue(
                pipeline=pipeline,
                date=values.get("date") or today(),
                actor=request.user.get_username(),
                force=values["force"],
            )
        except pipelines.RunBusy as busy:
            return Response(
                {"detail": str(busy), "run_id": busy.run_id, "status": busy.status},
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"run_id": run.pk, "status": run.status}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    methods=["POST"],
    request=OfficialNavSerializer(many=True),
    responses={200: UpsertResultSerializer},
)
class OfficialNavViewSet(MarketDataViewSet):
    """The administrator's NAV, quota and units per business day. A POST upserts by date
    and reconciles those days with the fund's, opening or resolving their NAV break
    alerts in the same transaction (GET /api/nav/reconciliation/ shows them)."""

    queryset = OfficialNav.objects.order_by("date")
    serializer_class = OfficialNavSerializer
    row_serializer_class = OfficialNavSerializer
    filterset_class = OfficialNavFilter
    upsert = staticmethod(official_navs_upsert_and_reconcile)
