"""Voice gate test fixtures: signing keys, a recording HTTP server, connections."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core import signals
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.db import close_old_connections
from django.db.models import QuerySet
from django.http import HttpResponse
from django.test import Client
from django.test.client import ClientHandler

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from trustconsole.hotpath import HotRouter, hook_token
from voicegate import gate, services
from voicegate.choices import Provider
from voicegate.models import CallDecision, VoiceConnection


def _forget_voice_keys() -> None:
    client = gate.redis_client()
    if client is None:
        # The file cache of this test process: counters of earlier runs must not
        # count towards this test's repeated calls. (A test may have pointed the
        # cache at a server that is not there.)
        with contextlib.suppress(Exception):
            cache.clear()
        return
    for key in client.scan_iter(match=cache.make_key("voice:*"), count=1000):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_gate() -> Iterator[None]:
    """Every test starts with a cold gate, no counters and an empty decision stream."""
    gate.reset()
    gate._normalised.cache_clear()
    _forget_voice_keys()
    yield
    _forget_voice_keys()
    gate.reset()


class RouterClientHandler(ClientHandler):
    """Django's test client handler, with provider webhooks sent through the
    console's WSGI application (`trustconsole.wsgi`: the router, its plain path)
    as gunicorn sends them. Like Django's own, it leaves database connections
    alone (the test's transaction outlives its requests)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.router = HotRouter(WSGIHandler(), recycle_connections=False)

    def __call__(self, environ: dict[str, Any]) -> HttpResponse:
        if hook_token(environ) is None:
            return super().__call__(environ)
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, headers

        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            result = self.router(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        code, reason = seen["status"].split(" ", 1)
        response = HttpResponse(
            content, status=int(code), reason=reason, headers=dict(seen["headers"])
        )
        response.wsgi_request = WSGIRequest(environ)  # type: ignore[attr-defined]
        return response


@pytest.fixture
def client() -> Client:
    """The test client; webhooks go through the WSGI application's router."""
    test_client = Client()
    test_client.handler = RouterClientHandler(enforce_csrf_checks=False)
    return test_client


def logged() -> QuerySet[CallDecision]:
    """The call log once every decision waiting in Redis has been stored."""
    gate.decisions_flush()
    return CallDecision.objects.all()


@dataclass
class TelnyxSigner:
    """Signs bodies like Telnyx does: Ed25519 over `{timestamp}|{body}`."""

    key: Ed25519PrivateKey

    @property
    def public_b64(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def headers(self, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(ts.encode() + b"|" + body)
        return {
            "HTTP_TELNYX_SIGNATURE_ED25519": base64.b64encode(signature).decode(),
            "HTTP_TELNYX_TIMESTAMP": ts,
        }

    def http_headers(self, body: bytes) -> dict[str, str]:
        """The same headers as an HTTP client sends them."""
        signed = self.headers(body)
        return {
            "content-type": "application/json",
            "telnyx-signature-ed25519": signed["HTTP_TELNYX_SIGNATURE_ED25519"],
            "telnyx-timestamp": signed["HTTP_TELNYX_TIMESTAMP"],
        }


@pytest.fixture
def telnyx_signer() -> TelnyxSigner:
    return TelnyxSigner(Ed25519PrivateKey.generate())


def call_initiated(
    caller: str,
    *,
    to: str = "+14155550100",
    event_id: str | None = None,
    direction: str = "incoming",
    event_type: str = "call.initiated",
) -> dict[str, Any]:
    """A Telnyx Call Control v2 `call.initiated` event as documented."""
    return {
        "data": {
            "record_type": "event",
            "event_type": event_type,
            "id": event_id or str(uuid.uuid4()),
            "occurred_at": "2026-11-23T10:00:00.000000Z",
            "payload": {
                "call_control_id": "v3:" + uuid.uuid4().hex,
                "call_leg_id": str(uuid.uuid4()),
                "call_session_id": str(uuid.uuid4()),
                "client_state": "",
                "connection_id": "7267000000000000",
                "direction": direction,
                "from": caller,
                "state": "parked",
                "to": to,
            },
        },
        "meta": {"attempt": 1, "delivered_to": "https://console.example.com"},
    }


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    """A real HTTP server on 127.0.0.1 that records requests and answers as told."""

    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    # Answers given in order; the last one repeats: (status, json body).
    answers: list[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: [(200, {"data": {"result": "ok"}})]
    )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_answer(self) -> tuple[int, dict[str, Any]]:
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0]


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    holder: dict[str, RecordingServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            rec = holder["server"]
            rec.requests.append(
                Recorded(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
            )
            status, payload = rec.next_answer()
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = RecordingServer(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["server"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def telnyx_api(
    recording_server: RecordingServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> RecordingServer:
    """The recording server stands in for api.telnyx.com/v2 (here and in children)."""
    settings.VOICEGATE_TELNYX_API_BASE = recording_server.url + "/v2"
    monkeypatch.setenv("VOICEGATE_TELNYX_API_BASE", settings.VOICEGATE_TELNYX_API_BASE)
    return recording_server


@pytest.fixture
def make_connection() -> Callable[..., VoiceConnection]:
    def make(
        org: Organisation, provider: str = Provider.TELNYX_CALL_CONTROL, **kw: Any
    ):
        kw.setdefault("name", f"{provider} {uuid.uuid4().hex[:6]}")
        kw.setdefault(
            "api_key", "KEY_test" if provider == Provider.TELNYX_CALL_CONTROL else ""
        )
        return services.connection_create(
            actor=Actor.system_for(org, "test"), provider=provider, **kw
        )

    return make


def hook_path(connection: VoiceConnection) -> str:
    return f"/voice/hooks/{connection.webhook_token}/"


BLACKLISTED_CALLER = "+14155550123"


@pytest.fixture
def hook(org, telnyx_signer, make_connection):
    """A Telnyx Call Control connection of `org`, whose visitor with the number
    BLACKLISTED_CALLER is blacklisted."""
    from visitors.services import visitor_blacklist, visitor_upsert

    actor = Actor.system_for(org, "test")
    visitor = visitor_upsert(actor=actor, name="Spammer", phones=[BLACKLISTED_CALLER])
    visitor_blacklist(actor=actor, visitor=visitor, reason="spam calls")
    return make_connection(org, secret=telnyx_signer.public_b64)
