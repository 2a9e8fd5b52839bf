import datetime as dt

from django.contrib import admin
from django.urls import include, path, register_converter
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from attribution.api.views import PerformanceView
from ops import health, metrics
from pms_site import cached_api, login


class IsoDateConverter:
    """`YYYY-MM-DD` in a path, as a date: anything else is no match (404)."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        return dt.date.fromisoformat(value)  # ValueError: no match

    def to_url(self, value: dt.date | str) -> str:
        return value.isoformat() if isinstance(value, dt.date) else value


register_converter(IsoDateConverter, "isodate")

urlpatterns = [
    # The cached reads first: URLs resolve in order, and GET /api/book/ is the hottest path.
    path("api/book/", cached_api.BookView.as_view(), name="book"),
    path("api/risk/live/", cached_api.LiveRiskView.as_view(), name="risk-live"),
    path("api/attribution/", cached_api.AttributionView.as_view(), name="attribution"),
    path("api/performance/", PerformanceView.as_view(), name="performance"),
    path("api/morning-pack/latest/", cached_api.LatestPackView.as_view(), name="pack-latest"),
    path("api/morning-pack/<isodate:day>/", cached_api.PackView.as_view(), name="pack"),
    path("health/", health.health_view, name="health"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/auth/token/", login.token_view, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("portfolio.api.urls")),
    path("api/risk/", include("risk.api.urls")),
    path("api/", include("trading.api.urls")),
    path("api/", include("briefing.api.urls")),
    path("api/", include("ops.urls")),
]

handler400 = "pms_site.errors.bad_request"
