"""Voice pages: Calls, Connections, Block list, Settings."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from trustconsole.core.actor import Actor
from voicegate import selectors, services
from voicegate.models import BlockedNumber, VoiceConnection

pytestmark = pytest.mark.django_db

KEY = "eu2zvPjhY6odxV34Z/EsRiERvTodkev4Fq0SlK90Izg="


def _login(client, user) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def test_admin_adds_a_connection_and_sees_its_setup(client, alice) -> None:
    _login(client, alice)
    page = client.get("/voice/connections/")
    assert b"Add a connection" in page.content
    bad = client.post(
        "/voice/connections/",
        {"name": "Main", "provider": "telnyx_call_control", "secret": "nope",
         "fail_mode": "open"},
    )  # fmt: skip
    assert bad.status_code == 200
    assert b"Paste the Telnyx public key" in bad.content
    assert not VoiceConnection.objects.exists()
    ok = client.post(
        "/voice/connections/",
        {"name": "Main", "provider": "telnyx_call_control", "secret": KEY,
         "api_key": "KEY1", "fail_mode": "closed"},
        follow=True,
    )  # fmt: skip
    connection = VoiceConnection.objects.get()
    assert connection.fail_mode == "closed"
    text = ok.content.decode()
    assert f"/voice/hooks/{connection.webhook_token}/" in text
    assert "webhook API version to 2" in text
    assert f"Remove {connection.name}" in text  # the one confirmation include


def test_viewer_reads_but_gets_no_forms(client, bob, org) -> None:
    services.connection_create(
        actor=Actor.system_for(org, "t"), name="Line", provider="twilio", secret="tok"
    )
    _login(client, bob)
    connections = client.get("/voice/connections/")
    assert b"Line" in connections.content
    assert b"Add a connection" not in connections.content
    assert b"Block number" not in client.get("/voice/block-list/").content
    denied = client.post("/voice/block-list/", {"number": "+14155550123"})
    assert denied.status_code == 403
    assert not BlockedNumber.objects.exists()
    settings_page = client.get("/voice/settings/")
    assert b"Only admins change these settings" in settings_page.content


def test_operator_blocks_and_unblocks_a_number(client, oscar) -> None:
    _login(client, oscar)
    bad = client.post("/voice/block-list/", {"number": "12", "reason": ""})
    assert b"is not a valid phone number" in bad.content or b"too short" in bad.content
    client.post("/voice/block-list/", {"number": "+1 415 555 0123", "reason": "spam"})
    blocked = BlockedNumber.objects.get()
    assert blocked.number == "+14155550123"
    listing = client.get("/voice/block-list/")
    assert b"+14155550123" in listing.content
    url = f"/voice/block-list/{blocked.public_id}/remove/"
    refused = client.post(url)  # the one confirmation policy: a reason is required
    assert refused.status_code == 400 and BlockedNumber.objects.exists()
    removed = client.post(url, {"reason": "number reassigned"}, HTTP_HX_REQUEST="true")
    assert removed.status_code == 200 and removed.content == b""
    assert not BlockedNumber.objects.exists()


def test_calls_page_filters_and_links_the_visitor(client, oscar, org) -> None:
    from visitors.services import visitor_blacklist, visitor_upsert
    from voicegate import gate
    from voicegate.gate import CallFacts

    actor = Actor.system_for(org, "t")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=["+14155550123"])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    for caller in ("+14155550123", "+14155550188"):
        facts = CallFacts(org.pk, None, "generic", "", "", caller, "+14155550100")
        gate.decide_and_claim(
            gate.context_for_org(org.pk),
            facts,
            started_us=gate.now_us(),
            refresh=lambda: gate.context_for_org(org.pk, fresh=True),
        )
    _login(client, oscar)
    page = client.get("/voice/calls/").content.decode()
    assert "Rejected" in page and "Allowed" in page and "Mallory" in page
    only = client.get("/voice/calls/", {"decision": "reject"}).content.decode()
    assert "+14155550188" not in only and "+14155550123" in only
    partial = client.get(
        "/voice/calls/", {"number": "+14155550188"}, HTTP_HX_REQUEST="true"
    )
    assert b"<html" not in partial.content and b"+14155550188" in partial.content


def test_admin_changes_settings_with_form_errors(client, alice) -> None:
    _login(client, alice)
    bad = client.post(
        "/voice/settings/",
        {"anonymous_policy": "reject", "unparseable_policy": "allow",
         "repeated_call_threshold": "0", "repeated_call_window_seconds": "600"},
    )  # fmt: skip
    assert b"greater than or equal to 1" in bad.content
    client.post(
        "/voice/settings/",
        {"anonymous_policy": "reject", "unparseable_policy": "allow",
         "repeated_call_threshold": "9", "repeated_call_window_seconds": "600"},
    )  # fmt: skip
    row = selectors.voice_settings_for(alice.memberships.first().organisation_id)
    assert (row.anonymous_policy, row.repeated_call_threshold) == ("reject", 9)


def test_other_organisations_connection_is_404(client, charlie, org) -> None:
    connection = services.connection_create(
        actor=Actor.system_for(org, "t"), name="Line", provider="twilio", secret="tok"
    )
    _login(client, charlie)
    assert client.get(f"/voice/connections/{connection.public_id}/").status_code == 404


def test_visitor_profile_shows_their_calls(client, oscar, org) -> None:
    from visitors.services import visitor_blacklist, visitor_upsert
    from voicegate import gate
    from voicegate.gate import CallFacts

    actor = Actor.system_for(org, "t")
    visitor = visitor_upsert(actor=actor, name="Mallory", phones=["+14155550123"])
    visitor_blacklist(actor=actor, visitor=visitor, reason="fraud")
    other = visitor_upsert(actor=actor, name="Quiet", phones=["+14155550188"])
    for _ in range(2):
        facts = CallFacts(org.pk, None, "generic", "", "", "+14155550123", "+1415555")
        gate.decide_and_claim(
            gate.context_for_org(org.pk),
            facts,
            started_us=gate.now_us(),
            refresh=lambda: gate.context_for_org(org.pk, fresh=True),
        )
    # The profile reads the call log; with Redis, beat moves decisions into it.
    gate.decisions_flush()
    _login(client, oscar)
    page = client.get(f"/security/visitors/{visitor.public_id}/").content.decode()
    assert "2 calls through the voice gate in the last 400 days, 2 rejected" in page
    assert "Blacklisted visitor" in page
    quiet = client.get(f"/security/visitors/{other.public_id}/").content.decode()
    assert "No calls from this visitor" in quiet
