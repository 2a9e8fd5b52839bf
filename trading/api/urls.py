from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "trading-api"

# A SimpleRouter: the API root view is portfolio's, under the same /api/ prefix.
router = SimpleRouter(trailing_slash=True)
router.register("signals", views.SignalViewSet)
router.register("proposals", views.TradeProposalViewSet)

urlpatterns = [path("", include(router.urls))]
