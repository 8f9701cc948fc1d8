"""The Number Reputation client against a live local HTTP server.

Telnyx is outside this machine, so a loopback server answers with the shapes
TELEPHONY.md §5 documents (paths, JSON:API pages, the error envelope) and records
exactly what the client sent: raw paths (the `+` as %2B), query strings, bodies.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from remediation.providers import ProviderError, ProviderTransientError, TelnyxClient

ENTERPRISE = "4a6192a4-573d-446d-b3ce-aff9117272a6"
BASE = f"/v2/enterprises/{ENTERPRISE}/reputation"


def number(e164: str, risk: str | None = "low") -> dict[str, Any]:
    return {
        "phone_number": e164,
        "enterprise_id": ENTERPRISE,
        "reputation_data": None
        if risk is None
        else {
            "spam_risk": risk,
            "spam_category": None,
            "maturity_score": 80,
            "connection_score": 70,
            "engagement_score": 60,
            "sentiment_score": 50,
            "last_refreshed_at": "2026-10-05T07:00:12Z",
        },
    }


@dataclass
class Upstream:
    """What the fake provider received, and the answers it gives."""

    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[dict[str, Any]], tuple[int, Any, dict]]] = (
        field(default_factory=dict)
    )

    def on(self, method: str, path: str, answer: Callable[..., Any]) -> None:
        self.routes[(method, path)] = answer


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    state = Upstream()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = {
                "method": self.command,
                "raw_path": parts.path,
                "query": parse_qs(parts.query),
                "body": json.loads(body) if body else None,
                "auth": self.headers.get("Authorization"),
            }
            state.seen.append(seen)
            route = state.routes.get((self.command, parts.path))
            if route is None:
                status, payload, headers = 404, {"errors": [{"code": "10005"}]}, {}
            else:
                status, payload, headers = route(seen)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(upstream: Upstream) -> Iterator[TelnyxClient]:
    with TelnyxClient(
        base_url=upstream.url, api_key="KEY_test", retries=0, sleep=lambda s: None
    ) as made:
        yield made


def test_it_pages_through_every_monitored_number(upstream, client) -> None:
    """GIVEN 523 monitored numbers WHEN the client lists them THEN it asks for pages
    of 250 until total_pages and returns all of them in order."""
    everything = [number(f"+1202555{i:04d}") for i in range(523)]

    def page(seen: dict[str, Any]) -> tuple[int, Any, dict]:
        n = int(seen["query"]["page[number]"][0])
        size = int(seen["query"]["page[size]"][0])
        window = everything[(n - 1) * size : n * size]
        meta = {
            "page_number": n,
            "page_size": size,
            "total_results": 523,
            "total_pages": 3,
        }
        return 200, {"data": window, "meta": meta}, {}

    upstream.on("GET", f"{BASE}/numbers", page)
    listed = client.numbers_list(enterprise_id=ENTERPRISE)
    assert [n["phone_number"] for n in listed] == [
        n["phone_number"] for n in everything
    ]
    pages = [s["query"]["page[number]"][0] for s in upstream.seen]
    assert pages == ["1", "2", "3"]
    assert {s["query"]["page[size]"][0] for s in upstream.seen} == {"250"}
    assert upstream.seen[0]["auth"] == "Bearer KEY_test"


def test_a_numbers_plus_travels_as_percent_2b(upstream, client) -> None:
    """GIVEN a number in a path WHEN it is read or deregistered THEN the raw path
    carries %2B, never a bare + (which a server reads as a space)."""
    path = f"{BASE}/numbers/%2B12025550142"
    upstream.on("GET", path, lambda seen: (200, {"data": number("+12025550142")}, {}))
    upstream.on("DELETE", path, lambda seen: (204, None, {}))
    got = client.number_retrieve(
        enterprise_id=ENTERPRISE, phone_number="+12025550142", fresh=True
    )
    assert got["reputation_data"]["spam_risk"] == "low"
    client.number_deregister(enterprise_id=ENTERPRISE, phone_number="+12025550142")
    assert [s["raw_path"] for s in upstream.seen] == [path, path]
    assert upstream.seen[0]["query"] == {"fresh": ["true"]}


@pytest.mark.parametrize("count", [0, 101])
def test_it_refuses_batches_outside_1_to_100_before_sending(
    upstream, client, count
) -> None:
    """GIVEN 0 or 101 numbers WHEN registering or refreshing THEN nothing is sent."""
    batch = [f"+1202555{i:04d}" for i in range(count)]
    with pytest.raises(ProviderError, match="1 to 100"):
        client.numbers_register(enterprise_id=ENTERPRISE, phone_numbers=batch)
    with pytest.raises(ProviderError, match="1 to 100"):
        client.numbers_refresh(enterprise_id=ENTERPRISE, phone_numbers=batch)
    assert upstream.seen == []


def test_it_sends_a_hundred_and_reads_the_refresh_answer(upstream, client) -> None:
    """GIVEN 100 numbers WHEN refreshed THEN one POST carries all of them and the
    documented per-number results come back."""
    batch = [f"+1202555{i:04d}" for i in range(100)]

    def answer(seen: dict[str, Any]) -> tuple[int, Any, dict]:
        results = [
            {"phone_number": n, "success": True, "error": None}
            for n in seen["body"]["phone_numbers"]
        ]
        return (
            200,
            {
                "data": {
                    "results": results,
                    "total_requested": 100,
                    "total_successful": 100,
                    "total_failed": 0,
                }
            },
            {},
        )

    upstream.on("POST", f"{BASE}/numbers/refresh", answer)
    got = client.numbers_refresh(enterprise_id=ENTERPRISE, phone_numbers=batch)
    assert got["total_successful"] == 100
    assert upstream.seen[0]["body"] == {"phone_numbers": batch}


@pytest.mark.parametrize(
    ("status", "code", "detail"),
    [
        (400, "10015", "Number Reputation is already enabled."),
        (403, "10010", "Terms of Service not accepted."),
        (404, "10009", "Resource not found"),
        (422, "10005", "field required"),
    ],
)
def test_provider_refusals_keep_status_code_and_errors(
    upstream, client, status, code, detail
) -> None:
    """GIVEN the documented error envelope WHEN enable is refused THEN the error
    carries the status, the string code and the pointer, and is not retried."""
    envelope = {
        "errors": [
            {
                "code": code,
                "title": "Bad",
                "detail": detail,
                "source": {"pointer": "/body/loa_document_id"},
            }
        ]
    }
    upstream.on("POST", BASE, lambda seen: (status, envelope, {}))
    with pytest.raises(ProviderError) as caught:
        client.reputation_enable(
            enterprise_id=ENTERPRISE, loa_document_id="doc", check_frequency="daily"
        )
    error = caught.value
    assert not isinstance(error, ProviderTransientError)
    assert error.status_code == status
    assert error.codes == [code]
    assert error.errors[0]["source"]["pointer"] == "/body/loa_document_id"
    assert detail in str(error)
    assert len(upstream.seen) == 1
    assert upstream.seen[0]["body"] == {
        "loa_document_id": "doc",
        "check_frequency": "daily",
    }


def test_a_429_hands_back_its_retry_after(upstream, client) -> None:
    """GIVEN the per-enterprise rate limit WHEN refreshing THEN the error is
    transient and carries the Retry-After seconds; nothing is retried in place."""
    upstream.on(
        "POST",
        f"{BASE}/numbers/refresh",
        lambda seen: (
            429,
            {"errors": [{"code": "10011", "title": "Too many"}]},
            {"Retry-After": "17"},
        ),
    )
    with pytest.raises(ProviderTransientError) as caught:
        client.numbers_refresh(enterprise_id=ENTERPRISE, phone_numbers=["+12025550100"])
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 17
    assert len(upstream.seen) == 1


def test_frequency_webhook_and_disable_use_the_documented_paths(
    upstream, client
) -> None:
    """PATCH …/frequency, PATCH …/webhook, DELETE …/reputation (204)."""
    record = {
        "data": {
            "enterprise_id": ENTERPRISE,
            "status": "approved",
            "loa_status": "approved",
            "check_frequency": "weekly",
        }
    }
    upstream.on("PATCH", f"{BASE}/frequency", lambda seen: (200, record, {}))
    upstream.on("PATCH", f"{BASE}/webhook", lambda seen: (200, record, {}))
    upstream.on("DELETE", BASE, lambda seen: (204, None, {}))
    got = client.reputation_update_frequency(
        enterprise_id=ENTERPRISE, check_frequency="weekly"
    )
    assert got["check_frequency"] == "weekly"
    client.reputation_set_webhook(enterprise_id=ENTERPRISE, webhook_url=None)
    client.reputation_disable(enterprise_id=ENTERPRISE)
    assert [(s["method"], s["raw_path"], s["body"]) for s in upstream.seen] == [
        ("PATCH", f"{BASE}/frequency", {"check_frequency": "weekly"}),
        ("PATCH", f"{BASE}/webhook", {"webhook_url": None}),
        ("DELETE", BASE, None),
    ]
