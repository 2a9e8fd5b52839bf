"""The pipelines' API: the runs, and running one on the cluster."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

runs = SimpleRouter(trailing_slash=True)
runs.register("pipelines/runs", api.PipelineRunViewSet)

urlpatterns = [
    path("pipelines/<str:pipeline>/run/", api.PipelineRunView.as_view(), name="pipeline-run"),
    path("", include(runs.urls)),
]
