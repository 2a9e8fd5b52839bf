"""The PMS admin site: Django's, with the fund dashboard as its front page."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import path


class PMSAdminSite(admin.AdminSite):
    site_header = "PMS — the fund's workspace"
    site_title = "PMS"
    index_title = "Fund dashboard"
    index_template = "admin/pms_dashboard.html"
    enable_nav_sidebar = False  # the header's links to the main screens stand in for it

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from .dashboard import dashboard  # the apps' selectors, loaded after the registry

        # Fund figures for the PMS groups (each may view positions), not any staff user.
        shown = dashboard(request) if request.user.has_perm("portfolio.view_position") else None
        response: TemplateResponse = super().index(
            request, {"dashboard": shown, **(extra_context or {})}
        )
        return response

    def get_urls(self) -> list[Any]:
        analytics = path("analytics/", self.admin_view(self.analytics), name="pms_analytics")
        return [analytics, *super().get_urls()]

    def analytics(self, request: HttpRequest) -> TemplateResponse:
        """Risk and performance: VaR decomposition, its backtest, statistics vs the CDI."""
        from .analytics import analytics

        if not request.user.has_perm("portfolio.view_position"):
            raise PermissionDenied
        context = {
            **self.each_context(request),
            "title": "Risk and performance",
            "a": analytics(request),
        }
        return TemplateResponse(request, "admin/pms_analytics.html", context)


class PMSAdminConfig(AdminConfig):
    """Django's admin app on the PMS site (in INSTALLED_APPS in its place)."""

    default_site = "pms_site.admin_site.PMSAdminSite"
