"""The product's URLs and the floor: a bare Django view that returns stored bytes."""

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

FLOOR_KEY = "bench:floor"


def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(cache.get(FLOOR_KEY), content_type="application/json")


urlpatterns = [path("floor/", floor), path("", include("pms_site.urls"))]
