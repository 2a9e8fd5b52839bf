"""API tokens: django-rest-knox's, stored as a SHA-512 digest (never the token itself) and
expiring PMS_TOKEN_TTL_HOURS after they were issued; looked up here with a short memory.

A cached read of the book must cost no database query, and looking a token up costs two
(token and user, then the user's groups). A process keeps a token's user, groups
included, for PMS_AUTH_CACHE_SECONDS (5 s) for reads, and never past the token's expiry;
a write always looks the token up, so a deleted or expired token, a changed password or a
deactivated user is refused at once for writes, in every process, and for reads within
those seconds. A password change or a deactivation deletes the user's tokens
(`revoke_tokens_on_credentials_change`); the process that made it forgets them at once.
"""

import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

_known: dict[str, tuple[float, Any, Any]] = {}  # token → (remembered until, user, token row)
_lock = threading.Lock()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        self._fresh = request.method not in SAFE_METHODS
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:  # a header no token can match: a 401, not a 500
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not getattr(self, "_fresh", False) and (known := _remembered(key)) is not None:
            return known
        user, row = super().authenticate_credentials(token)
        user._pms_groups = set(user.groups.values_list("name", flat=True))
        until = time.time() + settings.PMS_AUTH_CACHE_SECONDS
        if row.expiry is not None:
            until = min(until, row.expiry.timestamp())
        with _lock:
            _known[key] = (until, user, row)
        return user, row

    def _cleanup_token(self, auth_token: Any) -> bool:
        """An expired token is deleted and refused (knox's own also scans every other token
        of the user at each request: the token endpoint clears those instead)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


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


def issue_token(user: User) -> tuple[str, Any]:
    """A new token for `user` (the string, shown once, and its expiry); the user's expired
    tokens are deleted on the way."""
    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    row, token = AuthToken.objects.create(user=user)
    return token, row.expiry


def validate_new_password(sender: Any, instance: User, **kwargs: Any) -> None:
    """pre_save of a user: a password just set (`set_password`, whatever called it: the
    admin, createsuperuser, changepassword, load_demo, a shell) passes Django's validators,
    or nothing is saved (ValidationError; createsuperuser reports it as its error)."""
    password = getattr(instance, "_password", None)  # Django's: set by set_password until saved
    if password is not None:
        validate_password(password, instance)


def _credentials(user_id: int) -> tuple[str, bool] | None:
    return User.objects.filter(pk=user_id).values_list("password", "is_active").first()


def note_credentials(sender: Any, instance: User, update_fields: Any = None, **kw: Any) -> None:
    """pre_save of a user: remember its stored password and activity, to compare after."""
    credentials = {"password", "is_active"}
    if instance.pk is None or (update_fields is not None and not credentials & update_fields):
        instance._pms_credentials = None  # type: ignore[attr-defined]
        return
    instance._pms_credentials = _credentials(instance.pk)  # type: ignore[attr-defined]


def revoke_tokens_on_credentials_change(sender: Any, instance: User, **kwargs: Any) -> None:
    """post_save of a user: a new password or a deactivation deletes its API tokens, in the
    same transaction as the change."""
    before = getattr(instance, "_pms_credentials", None)
    if before is None:
        return
    password, active = before
    if instance.password != password or (active and not instance.is_active):
        AuthToken.objects.filter(user=instance).delete()
        forget(instance.pk)
