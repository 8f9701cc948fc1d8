"""The one SSRF guard for every URL the console calls on someone's behalf.

User-supplied destinations (remediation status webhooks, a voice connection's
downstream URL, an organisation's provider API base) pass here twice:

- when they are saved (`url_check`): the scheme, the host literal and, for names,
  every address the name resolves to right now; the refusal is a field error;
- when they are called (`guarded_client`): an httpx transport resolves the host,
  refuses the request if any address is not public, then connects to the vetted
  address itself (the `Host` header and TLS SNI/certificate check keep the real
  name), so DNS cannot change between the check and the connection. Redirects
  are never followed.

Refused: loopback, private, link-local, shared (100.64/10), multicast, reserved,
unspecified and other not globally routable addresses, and IPv4 smuggled inside
IPv6: IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
(`2002::/16`) are judged by the IPv4 address they carry; IPv4-compatible
(`::a.b.c.d`, deprecated), local-use NAT64 (`64:ff9b:1::/48`) and Teredo
(`2001::/32`) are refused outright.

`OUTBOUND_ALLOW_PRIVATE` (development and tests only; its old name
`REMEDIATION_WEBHOOK_ALLOW_PRIVATE` still works) lets private targets through.
Deployment configuration (`VOICEGATE_TELNYX_API_BASE`, `REMEDIATION_TELNYX_API_BASE`,
`REMEDIATION_SANDBOX_URL`) is the operator's own choice and is not checked here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
_COMPATIBLE = ipaddress.ip_network("::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class UnsafeDestination(ValueError):
    """A URL or address the console will not call; the message says why."""


def allow_private() -> bool:
    """The development switch: private targets allowed (never in production)."""
    return bool(
        getattr(settings, "OUTBOUND_ALLOW_PRIVATE", False)
        or getattr(settings, "REMEDIATION_WEBHOOK_ALLOW_PRIVATE", False)
    )


def _v4_refusal(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not publicly routable"
    return None


def address_refusal(address: str | IPAddress) -> str | None:
    """Why the console will not connect to this address, or None if it is public."""
    if isinstance(address, str):
        address = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    if isinstance(address, ipaddress.IPv4Address):
        return _v4_refusal(address)
    embedded: tuple[str, ipaddress.IPv4Address] | None = None
    if address.ipv4_mapped is not None:
        embedded = ("IPv4-mapped", address.ipv4_mapped)
    elif address in _NAT64:
        embedded = ("NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    elif address.sixtofour is not None:
        embedded = ("6to4", address.sixtofour)
    if embedded is not None:
        form, inner = embedded
        reason = _v4_refusal(inner)
        return f"{form} form of a {reason} IPv4 address" if reason else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address in _NAT64_LOCAL:
        return "local-use NAT64"
    if address in _TEREDO:
        return "a Teredo tunnel"
    if address in _COMPATIBLE:
        return "IPv4-compatible (deprecated)"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_site_local or address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not publicly routable"
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the literal itself for an IP)."""
    literal = _literal(host)
    if literal is not None:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise httpx.ConnectError(f"{host} has no address")
    return addresses


def vet_addresses(host: str, addresses: Sequence[str]) -> None:
    """Refuse the destination if any of its addresses is not public."""
    if allow_private():
        return
    refused = [(a, r) for a in addresses if (r := address_refusal(a)) is not None]
    if refused:
        detail = ", ".join(f"{a} is {r}" for a, r in refused)
        subject = "is" if _literal(host) is not None else "resolves to"
        raise UnsafeDestination(
            f"{host} {subject} a non-public address ({detail}); refused: the "
            "console does not call loopback, private, link-local or other internal "
            "addresses."
        )


def destination(host: str, port: int) -> str:
    """The vetted address to connect to for host:port (resolved once, here)."""
    name = host.lower().rstrip(".")
    if (name in _LOCAL_NAMES or name.endswith(".localhost")) and not allow_private():
        raise UnsafeDestination(f"{host} is this machine; refused.")
    addresses = resolve(host, port)
    vet_addresses(host, addresses)
    return addresses[0]


def url_check(url: str, *, schemes: Sequence[str] = ("https",)) -> str:
    """Validate a destination URL as it is saved; UnsafeDestination says why not.

    Names that do not resolve (yet) are accepted here; the call itself checks
    again. With the development switch, http is accepted too.
    """
    allowed = tuple(schemes) + (("http",) if allow_private() else ())
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeDestination(f"{url!r} is not a valid URL.") from exc
    if parts.scheme.lower() not in allowed:
        raise UnsafeDestination(
            "Use an " + " or ".join(f"{s}://" for s in allowed) + " address."
        )
    host = parts.hostname or ""
    if not host:
        raise UnsafeDestination(f"{url!r} has no host name.")
    if parts.username or parts.password:
        raise UnsafeDestination("Credentials in the URL are not accepted.")
    default = 443 if parts.scheme.lower() == "https" else 80
    # A name that does not resolve now is checked again when it is called.
    with contextlib.suppress(httpx.ConnectError):
        destination(host, port or default)
    return url.strip()


class PinnedTransport(httpx.HTTPTransport):
    """Connects to the vetted address of each request's host, keeping Host and SNI."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if allow_private():
            return super().handle_request(request)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = destination(url.host, port)
        request.url = url.copy_with(host=address)
        # Certificate and SNI are checked against the name, not the address; the
        # Host header was set from the original URL when the request was built.
        request.extensions = {**request.extensions, "sni_hostname": url.host}
        return super().handle_request(request)


def guarded_client(*, timeout: float, **kwargs: Any) -> httpx.Client:
    """An httpx client whose every request passes the guard; redirects not followed.

    `verify` (a path or SSLContext) goes to the transport. Refusals raise
    UnsafeDestination from the request call.
    """
    verify = kwargs.pop("verify", True)
    return httpx.Client(
        transport=PinnedTransport(verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )
