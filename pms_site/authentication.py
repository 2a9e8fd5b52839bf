"""Token authentication that remembers, per process and for a short while, whose a token is.

A cached read of the book must cost no database query, and looking a token up costs two
(token and user, then the user's groups). A process keeps a token's user, groups
included, for PMS_AUTH_CACHE_SECONDS; deleting the token or changing the user or its
groups forgets it at once in that process, and the others within that time.
"""

import threading
import time
from typing import Any

from django.conf import settings
from rest_framework.authentication import TokenAuthentication

_known: dict[str, tuple[float, Any, Any]] = {}  # token key → (expires, user, token)
_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        now = time.monotonic()
        known = _known.get(key)
        if known is not None and known[0] > now:
            return known[1], known[2]
        user, token = super().authenticate_credentials(key)
        user._pms_groups = set(user.groups.values_list("name", flat=True))
        with _lock:
            _known[key] = (now + settings.PMS_AUTH_CACHE_SECONDS, user, token)
        return user, token


def forget(user_id: int | None = None) -> None:
    """Forget the tokens of a user (all of them without `user_id`)."""
    with _lock:
        for key, (_, user, _) in list(_known.items()):
            if user_id is None or user.pk == user_id:
                del _known[key]
