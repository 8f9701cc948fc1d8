"""The SSRF guard: every address form refused, names resolved, addresses pinned,
redirects never followed, and the development switch for local stand-ins."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from trustconsole.lib import netguard

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::7f00:1",  # local-use NAT64
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
]
PUBLIC = [
    "93.184.216.34",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
]


def _url(address: str) -> str:
    return f"https://[{address}]/hook" if ":" in address else f"https://{address}/hook"


@pytest.fixture
def guarded(settings: Any) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.REMEDIATION_WEBHOOK_ALLOW_PRIVATE = False


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Record what would have gone on the wire instead of connecting."""
    sent: list[httpx.Request] = []

    def handle(self: Any, request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle)
    return sent


def _resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list:
    calls: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        if host not in answers:
            raise socket.gaierror(-2, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, 1, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize("address", REFUSED)
def test_it_refuses_every_non_public_address_form_when_saved_and_when_called(
    guarded, no_connections, address
) -> None:
    assert netguard.address_refusal(address) is not None
    with pytest.raises(netguard.UnsafeDestination, match="non-public"):
        netguard.url_check(_url(address))
    with (
        netguard.guarded_client(timeout=2) as client,
        pytest.raises(netguard.UnsafeDestination),
    ):
        client.post(_url(address), content=b"{}")
    assert no_connections == []


@pytest.mark.parametrize("address", PUBLIC)
def test_it_accepts_public_addresses_and_ipv4_forms_of_public_ones(
    guarded, no_connections, address
) -> None:
    assert netguard.address_refusal(address) is None
    assert netguard.url_check(_url(address)) == _url(address)
    with netguard.guarded_client(timeout=2) as client:
        assert client.post(_url(address), content=b"{}").status_code == 204
    assert len(no_connections) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.216.34/hook", "https://"),
        ("ftp://93.184.216.34/hook", "https://"),
        ("https:///hook", "no host"),
        ("https://user:pw@93.184.216.34/hook", "Credentials"),
        ("https://localhost/hook", "this machine"),
        ("https://api.localhost/hook", "this machine"),
        ("https://[::1/hook", "not a valid URL"),
    ],
)
def test_it_refuses_other_schemes_and_malformed_urls(guarded, url, reason) -> None:
    with pytest.raises(netguard.UnsafeDestination, match=reason):
        netguard.url_check(url)


def test_a_name_resolving_to_any_private_address_is_refused(
    guarded, monkeypatch, no_connections
) -> None:
    """GIVEN names whose DNS answers include a private address WHEN they are saved
    or called THEN both refuse, before any connection."""
    _resolver(
        monkeypatch,
        {
            "hooks.example.com": ["93.184.216.34", "10.0.0.5"],
            "metadata.example.com": ["169.254.169.254"],
            "six.example.com": ["64:ff9b::7f00:1"],
        },
    )
    for host in ("hooks.example.com", "metadata.example.com", "six.example.com"):
        with pytest.raises(netguard.UnsafeDestination, match="resolves to"):
            netguard.url_check(f"https://{host}/hook")
        with (
            netguard.guarded_client(timeout=2) as client,
            pytest.raises(netguard.UnsafeDestination),
        ):
            client.get(f"https://{host}/hook")
    assert no_connections == []
    # A name that does not resolve yet is accepted when saved (checked on call).
    assert netguard.url_check("https://later.example.com/hook")


def test_the_connection_goes_to_the_vetted_address_with_the_real_host_name(
    guarded, monkeypatch, no_connections
) -> None:
    """GIVEN a name resolving to a public address WHEN it is called THEN it is
    resolved once and the request goes to that address, with the name kept for
    the Host header and TLS SNI (so a second DNS answer can never be used)."""
    calls = _resolver(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    with netguard.guarded_client(timeout=2) as client:
        client.post("https://hooks.example.com:8443/r?x=1", content=b"{}")
    (sent,) = no_connections
    assert calls == ["hooks.example.com"]
    assert str(sent.url) == "https://93.184.216.34:8443/r?x=1"
    assert sent.headers["host"] == "hooks.example.com:8443"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


class _Server:
    def __init__(self, status: int, location: str = "") -> None:
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.paths.append(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    target = _Server(200)
    redirector = _Server(302, location=target.url + "/internal")
    yield redirector, target
    redirector.close()
    target.close()


def test_redirects_are_never_followed(loopback_targets, servers) -> None:
    """GIVEN a destination answering 302 to another address WHEN it is called
    THEN the 302 is the answer and the other address never hears from us."""
    redirector, target = servers
    with netguard.guarded_client(timeout=5) as client:
        response = client.post(redirector.url + "/hook", content=b"{}")
    assert response.status_code == 302
    assert redirector.paths == ["/hook"]
    assert target.paths == []


def test_local_stand_ins_work_only_through_the_development_switch(
    settings, servers
) -> None:
    _, target = servers
    settings.OUTBOUND_ALLOW_PRIVATE = False
    settings.REMEDIATION_WEBHOOK_ALLOW_PRIVATE = False
    with (
        netguard.guarded_client(timeout=5) as client,
        pytest.raises(netguard.UnsafeDestination, match="loopback"),
    ):
        client.post(target.url + "/a", content=b"{}")
    assert target.paths == []
    settings.OUTBOUND_ALLOW_PRIVATE = True
    with netguard.guarded_client(timeout=5) as client:
        assert client.post(target.url + "/b", content=b"{}").status_code == 200
    assert target.paths == ["/b"]
    assert netguard.url_check(target.url + "/b", schemes=("https",))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "False"),
        ({"OUTBOUND_ALLOW_PRIVATE": "true"}, "True"),
        ({"REMEDIATION_WEBHOOK_ALLOW_PRIVATE": "true"}, "True"),  # the old name
        (
            {
                "OUTBOUND_ALLOW_PRIVATE": "false",
                "REMEDIATION_WEBHOOK_ALLOW_PRIVATE": "1",
            },
            "False",
        ),
    ],
)
def test_the_switch_reads_its_old_name_as_an_alias(env, expected) -> None:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OUTBOUND_ALLOW_PRIVATE", "REMEDIATION_WEBHOOK_ALLOW_PRIVATE")
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.OUTBOUND_ALLOW_PRIVATE)",
        ],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "trustconsole.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected
