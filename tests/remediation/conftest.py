"""Fixtures of the remediation tests: enterprises, numbers, the sandbox in process,
a local HTTPS webhook receiver, and the provider-side helpers."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections

from remediation import providers
from remediation.choices import SpamRisk
from remediation.models import Enterprise, OwnedNumber
from tests.remediation.factories import (
    EnterpriseFactory,
    OwnedNumberFactory,
    PendingEnterpriseFactory,
)
from trustconsole.core.models import Organisation

SANDBOX_IN_PROCESS = "http://testserver/sandbox/telnyx/v2"


def make_enterprise(
    organisation: Organisation,
    name: str = "Northwind Dental",
    *,
    approved: bool = True,
    **fields: Any,
) -> Enterprise:
    """An enterprise; approved with terms accepted unless told otherwise."""
    factory = EnterpriseFactory if approved else PendingEnterpriseFactory
    return factory(organisation=organisation, name=name, **fields)


def numbers(count: int, *, start: int = 0, prefix: str = "+1202") -> list[str]:
    """`count` distinct valid E.164 numbers."""
    return [f"{prefix}{5550000 + start + i:07d}" for i in range(count)]


def own(
    enterprise: Enterprise,
    e164s: list[str],
    *,
    spam_risk: str | None = SpamRisk.HIGH,
    **fields: Any,
) -> list[OwnedNumber]:
    """Make the enterprise own these numbers (built by the factory, saved in bulk)."""
    return OwnedNumber.objects.bulk_create(
        OwnedNumberFactory.build(
            enterprise=enterprise, e164=e164, spam_risk=spam_risk, **fields
        )
        for e164 in e164s
    )


@pytest.fixture
def enterprise(org: Organisation) -> Enterprise:
    """Alpha's approved enterprise."""
    return make_enterprise(org)


@pytest.fixture
def sandbox_in_process(settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Provider traffic goes through the console's own sandbox, in this process.

    The WSGI app runs in the test's thread and transaction, like Django's test
    client (whose connection-closing signal handlers it also leaves out).
    """
    settings.REMEDIATION_SANDBOX_URL = SANDBOX_IN_PROCESS
    settings.REMEDIATION_HTTP_BACKOFF_MS = 0
    monkeypatch.setattr(
        providers, "transport_override", httpx.WSGITransport(app=WSGIHandler())
    )
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield SANDBOX_IN_PROCESS
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class QuietTransport(httpx.BaseTransport):
    """The in-process sandbox, called from inside a test-client request: the
    test client reconnects Django's connection-closing handlers after each of its
    own requests, so they are taken off again before every provider call."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        return self.inner.handle_request(request)


@pytest.fixture
def sandbox_from_client(
    sandbox_in_process: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The in-process sandbox, reachable from views that a test client calls."""
    monkeypatch.setattr(
        providers, "transport_override", QuietTransport(providers.transport_override)
    )
    return sandbox_in_process


# --- A local HTTPS webhook receiver ------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "receiver.pem", directory / "receiver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Receiver:
    """What the local receiver got, and how it answers."""

    url: str
    ca_file: Path
    received: list[dict[str, Any]] = field(default_factory=list)
    # Status codes to answer with, in turn; 200 once they run out.
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.received]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """An HTTPS server on 127.0.0.1 (certificate for localhost) recording POSTs."""
    cert, key = _self_signed(tmp_path)
    state = Receiver(url="", ca_file=cert)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"nope")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"https://localhost:{server.server_address[1]}/hooks/remediation"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook_settings(settings: Any, receiver: Receiver) -> Receiver:
    """This process may deliver to the local receiver (development setting on)."""
    settings.OUTBOUND_ALLOW_PRIVATE = True
    settings.REMEDIATION_WEBHOOK_CA_FILE = str(receiver.ca_file)
    settings.REMEDIATION_WEBHOOK_RETRY_SECONDS = 1
    return receiver


Submit = Callable[..., Any]
