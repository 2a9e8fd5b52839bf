from django.urls import path

from . import views

app_name = "briefing-api"

urlpatterns = [
    path("morning-pack/generate/", views.GenerateView.as_view(), name="generate"),
    path("morning-pack/<isodate:day>/html/", views.PackPageView.as_view(), name="page"),
]
