"""Bearer API token authentication for the REST API."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from trustconsole.core.actor import Actor
from trustconsole.core.models import ApiToken
from trustconsole.core.services import token_touch
from trustconsole.core.tokens import GENERATION_KEY, token_hash, token_prefix
from trustconsole.lib.processcache import GenerationCache

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

# Authenticated tokens of this process, by the SHA-256 of the raw value: a hit
# costs a hash and a dict lookup. Any change to a token moves GENERATION_KEY
# (core/apps.py), so a revocation reaches every process within CHECK_SECONDS.
token_cache: GenerationCache[ApiToken] = GenerationCache(
    GENERATION_KEY, max_age=CACHE_SECONDS, check_seconds=CHECK_SECONDS
)


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


def bearer_value(meta: Mapping[str, Any]) -> str | None:
    """The raw value of an `Authorization: Bearer …` header, else None."""
    scheme, _, raw = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    return raw.strip() if scheme.lower() == "bearer" else None


def token_actor(token: ApiToken) -> Actor:
    """Who acts with an authenticated token (its use is recorded once a minute)."""
    token_touch(token=token)
    return Actor(organisation=token.organisation, role=token.role, token=token)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer tc_…`: the token's organisation and role act."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenPrincipal, ApiToken] | None:
        raw = bearer_value(request.META)
        if raw is None:
            return None
        token = token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        request._request.actor = token_actor(token)  # type: ignore[attr-defined]
        return TokenPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes Bearer tokens in the OpenAPI schema."""

    target_class = "trustconsole.core.api.auth.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "tc_…"}
