"""API token format and hashing: `tc_<prefix>_<secret>`; only SHA-256 is stored.

Authenticated tokens are cached in each process (core/api/auth.py); any change to a
token (revoked, deleted) moves GENERATION_KEY in the shared cache, which every
process reads at most once a second and then drops its cached tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "tc_"
GENERATION_KEY = "core:api-token-generation"


def token_generate() -> tuple[str, str, str]:
    """Return (raw token, lookup prefix, hash) for a new token."""
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return raw, prefix, token_hash(raw)


def token_hash(raw: str) -> str:
    """SHA-256 suffices: tokens carry 256 bits of randomness, unlike passwords."""
    return hashlib.sha256(raw.encode()).hexdigest()


def token_prefix(raw: str) -> str | None:
    """The lookup prefix of a raw token, or None when it is not one of ours."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    prefix, sep, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(prefix) != 8 or not secret:
        return None
    return prefix


def token_matches(raw: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(token_hash(raw), stored_hash)
