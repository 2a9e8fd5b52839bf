"""`POST /api/auth/token/`: a token for a username and password (hashed in the database,
expiring: `pms_site.authentication`), throttled per username and per address (429 with
Retry-After), so that a password is not guessed at request speed.

The throttle counts in the database, in the same transaction as a row lock: it never
fails open (Redis down, or restarted, changes nothing), and two attempts at once are
both counted. A database that is down refuses the login anyway (503)."""

import hashlib
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from core.serializers import RejectUnknownFields, UTCDateTimeField

from .authentication import issue_token
from .models import LoginAttempts

# A key's attempts are forgotten this long after its last one (the longest window is a day).
STALE_SECONDS = 2 * 86400


class LoginThrottle(SimpleRateThrottle):
    """DRF's sliding window, its history kept in a `LoginAttempts` row read under its lock."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.key = self.get_cache_key(request, view)  # may raise ParseError: a 400
        if self.rate is None or self.key is None or getattr(request, "_pms_throttled", False):
            return True  # (refused by an earlier throttle: this one counts nothing)
        self.now = self.timer()
        with transaction.atomic():
            row, new = LoginAttempts.objects.select_for_update().get_or_create(
                key=self.key, defaults={"last_at": self.now}
            )
            if new:  # the table grows only here: the keys long silent go
                LoginAttempts.objects.filter(last_at__lt=self.now - STALE_SECONDS).delete()
            self.history = [at for at in row.history if at > self.now - self.duration]  # type: ignore[attr-defined]
            allowed = len(self.history) < self.num_requests  # type: ignore[attr-defined]
            if allowed:  # a refused attempt writes nothing
                self.history.insert(0, self.now)
                row.history, row.last_at = self.history, self.now
                row.save(update_fields=["history", "last_at"])
        request._pms_throttled = not allowed  # type: ignore[attr-defined]
        return allowed


class LoginUsernameThrottle(LoginThrottle):
    scope = "login-username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not username:
            return None
        digest = hashlib.sha256(
            str(username).strip().lower().encode("utf-8", "surrogatepass")
        ).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class LoginAddressThrottle(LoginThrottle):
    scope = "login-address"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class StrictAuthTokenSerializer(RejectUnknownFields, AuthTokenSerializer):
    """Username and password, nothing else."""


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
    expiry = UTCDateTimeField(help_text="When it stops being accepted (UTC).")


class TokenView(APIView):
    """`POST {username, password}` → `{"token", "expiry"}`, throttled."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # type: ignore[assignment]
    throttle_classes = (LoginAddressThrottle, LoginUsernameThrottle)

    @extend_schema(request=StrictAuthTokenSerializer, responses=TokenSerializer)
    def post(self, request: Request) -> Response:
        serializer = StrictAuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, expiry = issue_token(serializer.validated_data["user"])
        return Response(TokenSerializer({"token": token, "expiry": expiry}).data)


token_view = TokenView.as_view()
