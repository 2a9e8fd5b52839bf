"""The API tokens in the admin (superusers): who holds one, since and until when, by the
token's first characters (knox's `token_key`; the token itself is not kept). A token is
issued by `POST /api/auth/token/` only, and never edited; deleting one revokes it."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from knox.models import AuthToken


class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "token_key", "created", "expiry")
    fields = list_display
    readonly_fields = list_display
    list_select_related = ("user",)
    search_fields = ("user__username", "token_key")
    ordering = ("-created",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser  # whatever permission a group was given by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def register() -> None:
    """In place of knox's own admin (its digests, and an "add" that cannot issue a token)."""
    if admin.site.is_registered(AuthToken):
        admin.site.unregister(AuthToken)
    admin.site.register(AuthToken, AuthTokenAdmin)
