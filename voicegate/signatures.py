"""Webhook signature checks of Telnyx, Twilio and Plivo.

Each check takes what arrived (headers, raw body or form, the URL the provider called)
and returns None when the request is genuine, or a short reason when it is not. The
reason is logged and never shown to the sender beyond a generic 401/403.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

TELNYX_TOLERANCE_SECONDS = 300


@functools.lru_cache(maxsize=256)
def _telnyx_key(public_key_b64: str) -> VerifyKey | None:
    """The Ed25519 key (libsodium, as Telnyx's SDK uses); parsed once per key."""
    try:
        raw = base64.b64decode(public_key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    return VerifyKey(raw)


def telnyx_key_valid(public_key_b64: str) -> bool:
    """Whether a string is a base64 raw 32-byte Ed25519 public key."""
    return _telnyx_key(public_key_b64) is not None


def telnyx_verify(
    *,
    public_key_b64: str,
    signature_b64: str | None,
    timestamp: str | None,
    body: bytes,
    now: float | None = None,
) -> str | None:
    """Ed25519 over `{timestamp}|{raw body}`, timestamp within ±300 s."""
    if not signature_b64 or not timestamp:
        return "missing telnyx-signature-ed25519 or telnyx-timestamp header"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "telnyx-timestamp is not a Unix time"
    now = time.time() if now is None else now
    if abs(int(now) - sent_at) > TELNYX_TOLERANCE_SECONDS:
        return "telnyx-timestamp is more than 300 s away from now"
    key = _telnyx_key(public_key_b64)
    if key is None:
        return "the connection's Telnyx public key is not a base64 32-byte key"
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64"
    if len(signature) != 64:
        return "signature is not 64 bytes"
    try:
        key.verify(timestamp.encode() + b"|" + body, signature)
    except BadSignatureError:
        return "signature does not match"
    return None


def _with_default_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    port = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    netloc = f"{host}:{port}"
    if parts.username:
        auth = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{auth}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is None:
        return url
    netloc = parts.netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def twilio_signature(
    *, auth_token: str, url: str, params: Mapping[str, Iterable[str]]
) -> str:
    """Base64 HMAC-SHA1 of the URL followed by sorted name+value pairs."""
    payload = url
    for name in sorted(params):
        for value in sorted(set(params[name])):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode().strip()


def twilio_verify(
    *,
    auth_token: str,
    signature: str | None,
    url: str,
    params: Mapping[str, Iterable[str]],
) -> str | None:
    """X-Twilio-Signature, trying the URL with and without its default port."""
    if not signature:
        return "missing X-Twilio-Signature header"
    for candidate in {_without_port(url), _with_default_port(url)}:
        expected = twilio_signature(auth_token=auth_token, url=candidate, params=params)
        if hmac.compare_digest(expected, signature.strip()):
            return None
    return "signature does not match"


def plivo_signature_v3(
    *,
    auth_token: str,
    url: str,
    nonce: str,
    method: str,
    params: Mapping[str, Iterable[str]],
) -> str:
    """Base64 HMAC-SHA256 of Plivo's V3 base string and the nonce."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    if method.upper() == "GET":
        merged = sorted(
            query + [(k, v) for k, values in params.items() for v in values]
        )
        base += "?" + "&".join(f"{k}={v}" for k, v in merged)
    else:
        base += "?"
        if query:
            base += "&".join(f"{k}={v}" for k, v in sorted(query)) + "."
        for name in sorted(params):
            for value in sorted(params[name]):
                base += name + value
    message = f"{base}.{nonce}".encode()
    digest = hmac.new(auth_token.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def plivo_verify(
    *,
    auth_token: str,
    signature: str | None,
    nonce: str | None,
    url: str,
    method: str,
    params: Mapping[str, Iterable[str]],
) -> str | None:
    """X-Plivo-Signature-V3 (any of its comma-separated values) with its nonce."""
    if not signature or not nonce:
        return "missing X-Plivo-Signature-V3 or X-Plivo-Signature-V3-Nonce header"
    expected = plivo_signature_v3(
        auth_token=auth_token, url=url, nonce=nonce, method=method, params=params
    )
    for candidate in signature.split(","):
        if hmac.compare_digest(expected, candidate.strip()):
            return None
    return "signature does not match"


def shared_token_verify(*, expected: str, given: str | None) -> str | None:
    """A generic connection's shared token, compared in constant time."""
    if not given:
        return "missing Bearer token"
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "token does not match"
    return None
