"""Token authentication, and the token endpoint.

A cached read of the book must cost no database query, and looking a token up costs two
(token and user, then the user's groups). A process keeps a token's user, groups
included, for PMS_AUTH_CACHE_SECONDS (5 s) for reads; a write always looks the token up,
so a deleted token or a deactivated user is refused at once for writes, in every
process, and for reads within those seconds. Deleting the token or changing the user or
its groups forgets it at once in the process that did it.
"""

import threading
import time
from typing import Any

from django.conf import settings
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

_known: dict[str, tuple[float, Any, Any]] = {}  # token key → (expires, user, token)
_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        self._fresh = request.method not in SAFE_METHODS
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if not getattr(self, "_fresh", False) and (known := _remembered(key)) is not None:
            return known
        user, token = super().authenticate_credentials(key)
        user._pms_groups = set(user.groups.values_list("name", flat=True))
        with _lock:
            _known[key] = (time.time() + settings.PMS_AUTH_CACHE_SECONDS, user, token)
        return user, token


def _remembered(key: str) -> tuple[Any, Any] | None:
    known = _known.get(key)
    return (known[1], known[2]) if known is not None and known[0] > time.time() else None


def remembered_reader(header: str) -> Any | None:
    """The user of `Authorization: Token <key>` for a read, if this process remembers the
    token (the cached reads' fast path); None: let CachedTokenAuthentication decide."""
    keyword, _, key = header.partition(" ")
    if keyword != "Token" or not key:
        return None
    known = _remembered(key)
    return None if known is None else known[0]


def forget(user_id: int | None = None) -> None:
    """Forget the tokens of a user (all of them without `user_id`)."""
    with _lock:
        for key, (_, user, _) in list(_known.items()):
            if user_id is None or user.pk == user_id:
                del _known[key]
