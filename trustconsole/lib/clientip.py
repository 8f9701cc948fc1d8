"""The client's IP address of a request, honouring trusted proxies only."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip(meta: Mapping[str, str]) -> str | None:
    """The client's address: REMOTE_ADDR, unless it is a trusted proxy; then the
    right-most X-Forwarded-For hop that is not itself a trusted proxy
    (`VISITORS_TRUSTED_PROXIES`)."""
    remote = _ip(meta.get("REMOTE_ADDR", "") or "")
    trusted = _networks(tuple(settings.VISITORS_TRUSTED_PROXIES))
    if remote is None:
        return None

    def is_trusted(address: object) -> bool:
        return any(address in network for network in trusted)

    if not trusted or not is_trusted(remote):
        return str(remote)
    hops = [h for h in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            break  # garbage in the chain: trust nothing to its left
        if not is_trusted(address):
            return str(address)
    return str(remote)
