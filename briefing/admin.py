"""Admin of the morning pack: each pack with a link to its page, and a send action."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import ReadOnlyAdmin, has_model_permission

from . import render, services
from .models import MorningPack


@admin.register(MorningPack)
class MorningPackAdmin(ReadOnlyAdmin):
    list_display = ("date", "data_date", "view", "generated_at", "generated_by", "sent_at")
    date_hierarchy = "date"
    exclude = ("sections",)
    readonly_fields = ("view",)
    actions = ["send"]

    def has_send_permission(self, request: HttpRequest) -> bool:
        return has_model_permission(self, request, "send")

    def get_urls(self) -> list[Any]:
        page = self.admin_site.admin_view(self.page_view)
        return [path("<int:pk>/page/", page, name="briefing_morningpack_page"), *super().get_urls()]

    def page_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        return HttpResponse(render.html(get_object_or_404(MorningPack, pk=pk)))

    @admin.display(description="page")
    def view(self, pack: MorningPack) -> SafeString:
        url = reverse("admin:briefing_morningpack_page", args=[pack.pk])
        return format_html('<a href="{}" target="_blank">view</a>', url)

    @admin.action(
        description="Email selected packs to PMS_MORNING_PACK_RECIPIENTS", permissions=["send"]
    )
    def send(self, request: HttpRequest, queryset: QuerySet[MorningPack]) -> None:
        for pack in queryset:
            try:
                services.morning_pack_send(pack=pack, actor=request.user.get_username())
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return
        self.message_user(request, f"Sent {queryset.count()} pack(s).")
