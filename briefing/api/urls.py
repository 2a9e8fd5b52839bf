from django.urls import path

from . import views

app_name = "briefing-api"

urlpatterns = [
    path("morning-pack/latest/", views.LatestPackView.as_view(), name="latest"),
    path("morning-pack/generate/", views.GenerateView.as_view(), name="generate"),
    path("morning-pack/<isodate:day>/", views.PackView.as_view(), name="pack"),
    path("morning-pack/<isodate:day>/html/", views.PackPageView.as_view(), name="page"),
]
