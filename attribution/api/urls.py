from django.urls import path

from . import views

app_name = "attribution-api"

urlpatterns = [
    path("attribution/", views.AttributionView.as_view(), name="attribution"),
]
