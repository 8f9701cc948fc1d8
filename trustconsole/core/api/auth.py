"""Bearer API token authentication for the REST API."""

from __future__ import annotations

import hmac
import threading
import time
from typing import TYPE_CHECKING

from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from trustconsole.core.actor import Actor
from trustconsole.core.models import ApiToken
from trustconsole.core.services import token_touch
from trustconsole.core.tokens import GENERATION_KEY, token_hash, token_prefix

if TYPE_CHECKING:
    from rest_framework.request import Request


class TokenPrincipal:
    """Stands in for `request.user` when an API token authenticates."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, token: ApiToken) -> None:
        self.token = token

    def __str__(self) -> str:
        return f"token:{self.token.prefix}"


CACHE_SECONDS = 30.0  # a cached token is read from the database again after this
CHECK_SECONDS = 1.0  # how often the shared token generation is read (revocation delay)
CACHE_LIMIT = 10_000  # tokens held per process


class _TokenCache:
    """Authenticated tokens of this process, by the SHA-256 of the raw value.

    A hit costs a hash and a dict lookup; no database query, no cache round trip
    per request. Revocation reaches every process within CHECK_SECONDS: the shared
    generation (tokens.GENERATION_KEY) is read at most that often, and when it
    moved — or cannot be read — the cached tokens are dropped.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple[ApiToken, float]] = {}
        self.generation: object = None
        self.checked = -CHECK_SECONDS

    def _check(self, now: float) -> None:
        if now - self.checked < CHECK_SECONDS:
            return
        try:
            generation = cache.get(GENERATION_KEY, 0)
        except Exception:  # noqa: BLE001 - cannot tell: trust nothing cached
            generation = object()
        with self.lock:
            if generation != self.generation:
                self.tokens.clear()
                self.generation = generation
            self.checked = now

    def get(self, digest: str) -> ApiToken | None:
        now = time.monotonic()
        self._check(now)
        hit = self.tokens.get(digest)
        if hit is None or now - hit[1] >= CACHE_SECONDS:
            return None
        return hit[0]

    def put(self, digest: str, token: ApiToken) -> None:
        with self.lock:
            if len(self.tokens) >= CACHE_LIMIT:
                self.tokens.clear()
            self.tokens[digest] = (token, time.monotonic())

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.checked = -CHECK_SECONDS


token_cache = _TokenCache()


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token matching a raw value, or None (cached: see _TokenCache)."""
    prefix = token_prefix(raw)
    if prefix is None:
        return None
    digest = token_hash(raw)
    cached = token_cache.get(digest)
    if cached is not None:
        return cached
    token = (
        ApiToken.objects.select_related("organisation")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(digest, token.token_hash):
        return None
    token_cache.put(digest, token)
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer tc_…`: the token's organisation and role act."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token_authenticate(raw.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        token_touch(token=token)
        request._request.actor = Actor(  # type: ignore[attr-defined]
            organisation=token.organisation, role=token.role, token=token
        )
        return TokenPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes Bearer tokens in the OpenAPI schema."""

    target_class = "trustconsole.core.api.auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "tc_…"}
