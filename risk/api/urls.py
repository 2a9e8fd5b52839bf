from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "risk-api"

router = DefaultRouter(trailing_slash=True)
router.register("snapshots", views.RiskSnapshotViewSet)
router.register("limits", views.RiskLimitViewSet)
router.register("alerts", views.RiskAlertViewSet)
router.register("scenarios", views.StressScenarioViewSet)

urlpatterns = [
    path("stress/", views.StressView.as_view(), name="stress"),
    path("decomposition/", views.DecompositionView.as_view(), name="decomposition"),
    path("backtest/", views.BacktestView.as_view(), name="backtest"),
    path("", include(router.urls)),
]
