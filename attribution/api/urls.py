from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "attribution-api"

# A SimpleRouter: the API root view is portfolio's, under the same /api/ prefix.
router = SimpleRouter(trailing_slash=True)
router.register("position-snapshots", views.PositionSnapshotViewSet)

urlpatterns = [
    path("attribution/", views.AttributionView.as_view(), name="attribution"),
    path("nav/", views.NavView.as_view(), name="nav"),
    path("", include(router.urls)),
]
