from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

app_name = "portfolio-api"

router = DefaultRouter(trailing_slash=True)
router.register("instruments", views.InstrumentViewSet)
router.register("strategies", views.StrategyViewSet)
router.register("prices", views.PriceViewSet)
router.register("fx-rates", views.FxRateViewSet)
router.register("benchmark-rates", views.BenchmarkRateViewSet)
router.register("capital-flows", views.CapitalFlowViewSet)
router.register("positions", views.PositionViewSet)
router.register("trades", views.TradeViewSet)
router.register("audit", views.AuditRecordViewSet)
router.register("position-snapshots", views.PositionSnapshotViewSet)

urlpatterns = [
    path("fund/", views.FundView.as_view(), name="fund"),
    path("book/mark-to-market/", views.MarkToMarketView.as_view(), name="mark-to-market"),
    path("nav/", views.NavView.as_view(), name="nav"),
    path("nav/reconciliation/", views.NavReconciliationView.as_view(), name="nav-reconciliation"),
    path("", include(router.urls)),
]
