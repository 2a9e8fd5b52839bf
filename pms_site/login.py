"""`POST /api/auth/token/`: a token for a username and password, throttled per username
and per address (429 with Retry-After), so that a password is not guessed at request
speed."""

import hashlib
import logging
from typing import Any

from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.serializers import RejectUnknownFields

logger = logging.getLogger("pms.auth")


class LoginThrottle(SimpleRateThrottle):
    """Counts token requests in the shared cache; a cache that fails lets them through
    (logged) rather than refusing every login."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.get_cache_key(request, view) is None:  # may raise ParseError: a 400
            return True
        try:
            return super().allow_request(request, view)
        except Exception as error:  # the cache is down: no count, no refusal
            logger.warning("Login throttle unavailable (%s): request let through.", error)
            return True


class LoginUsernameThrottle(LoginThrottle):
    scope = "login-username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not username:
            return None
        digest = hashlib.sha256(str(username).strip().lower().encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


class LoginAddressThrottle(LoginThrottle):
    scope = "login-address"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class StrictAuthTokenSerializer(RejectUnknownFields, AuthTokenSerializer):
    """Username and password, nothing else."""


class TokenView(ObtainAuthToken):
    """`POST {username, password}` → `{"token"}`, throttled."""

    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # type: ignore[assignment]
    serializer_class = StrictAuthTokenSerializer
    throttle_classes = (LoginAddressThrottle, LoginUsernameThrottle)


token_view = TokenView.as_view()
