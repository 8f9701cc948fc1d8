"""The IP block form shows every mistake at once, each beside its field."""

from __future__ import annotations

import re
from html import unescape

from django.test import Client

from tests.conftest import PASSWORD
from visitors.models import IPBlock


def _error(html: str, field_id: str) -> str:
    match = re.search(
        rf'id="{field_id}"[^>]*>\s*<span class="error"[^>]*>([^<]*)', html
    )
    return unescape(match.group(1)) if match else ""


def test_all_ip_block_errors_at_once(org, oscar) -> None:
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    response = client.post(
        "/security/ip-blocks/",
        {"network": "nonsense", "reason": "", "expires_at": "2001-01-01T10:00"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "is not an IPv4/IPv6 address or CIDR range" in _error(html, "id_network")
    assert _error(html, "id_reason") == "Say why the address is blocked."
    assert _error(html, "id_expires_at") == "The expiry must be in the future."
    assert not IPBlock.objects.exists()


def test_a_too_wide_range_is_refused_beside_the_network(org, oscar) -> None:
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    response = client.post(
        "/security/ip-blocks/", {"network": "10.0.0.0/4", "reason": "x"}
    )
    assert "is too wide" in _error(response.content.decode(), "id_network")
    assert not IPBlock.objects.exists()
