"""Signature schemes of Telnyx (Ed25519), Twilio (HMAC-SHA1) and Plivo (V3)."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.voicegate.conftest import TelnyxSigner
from voicegate import signatures

BODY = b'{"data":{"event_type":"call.initiated","id":"e1"}}'


def _verify(signer: TelnyxSigner, body: bytes, headers: dict[str, str], **kw):
    return signatures.telnyx_verify(
        public_key_b64=signer.public_b64,
        signature_b64=headers.get("HTTP_TELNYX_SIGNATURE_ED25519"),
        timestamp=headers.get("HTTP_TELNYX_TIMESTAMP"),
        body=body,
        **kw,
    )


def test_telnyx_genuine_signature_verifies(telnyx_signer: TelnyxSigner) -> None:
    assert _verify(telnyx_signer, BODY, telnyx_signer.headers(BODY)) is None


def test_telnyx_tampered_body_is_refused(telnyx_signer: TelnyxSigner) -> None:
    headers = telnyx_signer.headers(BODY)
    tampered = BODY.replace(b"e1", b"e2")
    assert _verify(telnyx_signer, tampered, headers) == "signature does not match"


def test_telnyx_timestamp_window_is_300s_both_ways(telnyx_signer: TelnyxSigner) -> None:
    now = int(time.time())
    for offset, ok in ((-299, True), (299, True), (-301, False), (301, False)):
        headers = telnyx_signer.headers(BODY, timestamp=now + offset)
        result = _verify(telnyx_signer, BODY, headers, now=now)
        assert (result is None) is ok, (offset, result)


def test_telnyx_signature_by_another_key_is_refused(
    telnyx_signer: TelnyxSigner,
) -> None:
    other = TelnyxSigner(Ed25519PrivateKey.generate())
    assert (
        _verify(telnyx_signer, BODY, other.headers(BODY)) == "signature does not match"
    )


def test_telnyx_missing_headers_and_bad_key() -> None:
    assert "missing" in signatures.telnyx_verify(
        public_key_b64="x", signature_b64=None, timestamp="1", body=BODY
    )
    signature = base64.b64encode(b"\0" * 64).decode()
    assert "public key" in signatures.telnyx_verify(
        public_key_b64="bm90IGEga2V5",
        signature_b64=signature,
        timestamp=str(int(time.time())),
        body=BODY,
    )
    assert not signatures.telnyx_key_valid("bm90IGEga2V5")


TWILIO_PARAMS = {
    "CallSid": ["CA1234567890ABCDE"],
    "Caller": ["+14158675309"],
    "Digits": ["1234"],
    "From": ["+14158675309"],
    "To": ["+18005551212"],
}


def test_twilio_official_vector_with_and_without_port() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert (
        signatures.twilio_signature(auth_token="12345", url=url, params=TWILIO_PARAMS)
        == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    )
    # Twilio may have signed the URL with the default port added; both are accepted.
    for signature in ("RSOYDt4T1cUTdK1PDd93/VVr8B8=", "kvajT1Ptam85bY51eRf/AJRuM3w="):
        assert (
            signatures.twilio_verify(
                auth_token="12345", signature=signature, url=url, params=TWILIO_PARAMS
            )
            is None
        )


def test_twilio_tampered_param_or_missing_header_is_refused() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    changed = {**TWILIO_PARAMS, "From": ["+14158675300"]}
    assert signatures.twilio_verify(
        auth_token="12345",
        signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        url=url,
        params=changed,
    )
    assert "missing" in signatures.twilio_verify(
        auth_token="12345", signature=None, url=url, params=TWILIO_PARAMS
    )


def test_plivo_v3_round_trip_and_tamper() -> None:
    url = "https://console.example.com/voice/hooks/abc/?x=1"
    params = {"CallUUID": ["u1"], "From": ["+14155550123"], "To": ["+14155550100"]}
    signature = signatures.plivo_signature_v3(
        auth_token="plivo-token", url=url, nonce="n123", method="POST", params=params
    )
    ok = signatures.plivo_verify(
        auth_token="plivo-token",
        signature=f"bogus, {signature}",
        nonce="n123",
        url=url,
        method="POST",
        params=params,
    )
    assert ok is None
    changed = {**params, "From": ["+14155550199"]}
    assert signatures.plivo_verify(
        auth_token="plivo-token",
        signature=signature,
        nonce="n123",
        url=url,
        method="POST",
        params=changed,
    )
    assert signatures.plivo_verify(
        auth_token="plivo-token",
        signature=signature,
        nonce="other",
        url=url,
        method="POST",
        params=params,
    )


def test_shared_token() -> None:
    assert signatures.shared_token_verify(expected="a" * 20, given="a" * 20) is None
    assert signatures.shared_token_verify(expected="a" * 20, given="b" * 20)
    assert signatures.shared_token_verify(expected="a" * 20, given=None)
