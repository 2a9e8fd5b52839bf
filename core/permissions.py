"""Authorization by Django groups.

Every PMS group may read; a view names the groups that may write (`write_groups`).
Superusers may do everything. Anonymous requests never get here (401 from authentication).

The admin checks Django model permissions instead: `pms_site.roles` gives each group the
ones that mirror these API rights.
"""

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

VIEWER, PM, RISK, OPS = "viewer", "pm", "risk", "ops"
ALL_GROUPS = (VIEWER, PM, RISK, OPS)
READERS = frozenset(ALL_GROUPS)


def user_groups(user: Any) -> set[str]:
    # Cached on the user object: one query per request, however many checks.
    if not hasattr(user, "_pms_groups"):
        user._pms_groups = set(user.groups.values_list("name", flat=True))
    return user._pms_groups  # type: ignore[no-any-return]


class GroupPermission(BasePermission):
    message = "Your groups do not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return may_read(user)
        return user.is_superuser or bool(user_groups(user) & set(getattr(view, "write_groups", ())))


def may_read(user: Any) -> bool:
    """An authenticated user may read: a superuser, or a member of a PMS group."""
    return bool(user.is_superuser or user_groups(user) & READERS)
