"""The operations' API: the pipelines' runs, running one on the cluster, and the
administrator's official NAVs."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash=True)
router.register("pipelines/runs", api.PipelineRunViewSet)
router.register("official-nav", api.OfficialNavViewSet)

urlpatterns = [
    path("pipelines/<str:pipeline>/run/", api.PipelineRunView.as_view(), name="pipeline-run"),
    path("", include(router.urls)),
]
