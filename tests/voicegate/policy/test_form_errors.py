"""A bad Do-Not-Call number is refused beside the field, and nothing is added."""

from __future__ import annotations

import re
from html import unescape

from django.test import Client

from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from voicegate.policy import services
from voicegate.policy.models import DncEntry


def test_a_letters_number_is_refused_next_to_the_number_field(org, oscar) -> None:
    dnc_list = services.dnc_list_create(
        actor=Actor.system_for(org, "test"), name="Own", kind="internal", country="US"
    )
    client = Client()
    assert client.login(username=oscar.username, password=PASSWORD)
    response = client.post(
        f"/voice/policy/lists/{dnc_list.public_id}/add/", {"number": "555-CALL-NOW"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    match = re.search(
        r'id="add-number"[^>]*value="([^"]*)"[^>]*>\s*<span class="error"[^>]*>([^<]*)',
        html,
    )
    assert match, "the error is not beside the number field"
    assert match.group(1) == "555-CALL-NOW"  # what was typed stays in the field
    assert "555-CALL-NOW" in unescape(match.group(2))
    assert not DncEntry.objects.exists()
