"""One confirmation policy: every irreversible or organisation-wide action asks for
a reason with the same words, through the same include, and the server refuses it
without one (the confirmation again, the error beside the field)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD, _member
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import ApiToken, AuditEntry, Membership
from trustconsole.core.services import token_create
from trustconsole.lib.confirm import REASON_LABEL, REASON_MISSING
from voicegate import services as voice_services
from voicegate.models import BlockedNumber, VoiceConnection
from voicegate.policy import services as policy_services
from voicegate.policy.models import DncList


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def things(org, alice):
    actor = Actor.system_for(org, "test")
    victim = _member(org, "vic@alpha.test", Role.VIEWER)
    token, _ = token_create(actor=actor, name="zapier", role=Role.VIEWER)
    connection = voice_services.connection_create(
        actor=actor, name="Main line", provider="twilio", secret="tok-123"
    )
    blocked = voice_services.blocked_number_add(
        actor=actor, number="+14155550123", reason="spam"
    )
    dnc = policy_services.dnc_list_create(actor=actor, name="Internal DNC")
    return {
        "membership": (
            reverse("core:members"),
            reverse(
                "core:member_remove",
                args=[Membership.objects.get(user=victim).public_id],
            ),
            lambda: not Membership.objects.filter(user=victim).exists(),
            "membership.remove",
        ),
        "token": (
            reverse("core:tokens"),
            reverse("core:token_revoke", args=[token.public_id]),
            lambda: ApiToken.objects.get(pk=token.pk).revoked_at is not None,
            "api_token.revoke",
        ),
        "connection": (
            reverse("voicegate:connection_detail", args=[connection.public_id]),
            reverse("voicegate:connection_delete", args=[connection.public_id]),
            lambda: not VoiceConnection.objects.filter(pk=connection.pk).exists(),
            "voice.connection.delete",
        ),
        "blocked": (
            reverse("voicegate:block_list"),
            reverse("voicegate:block_remove", args=[blocked.public_id]),
            lambda: not BlockedNumber.objects.filter(pk=blocked.pk).exists(),
            None,
        ),
        "dnc": (
            reverse("voicegate:policy_dnc_list", args=[dnc.public_id]),
            reverse("voicegate:policy_dnc_list_delete", args=[dnc.public_id]),
            lambda: not DncList.objects.filter(pk=dnc.pk).exists(),
            "policy.dnc_list_delete",
        ),
    }


@pytest.mark.parametrize(
    "kind", ["membership", "token", "connection", "blocked", "dnc"]
)
def test_it_asks_the_same_way_and_refuses_without_a_reason(alice, things, kind) -> None:
    page_url, action_url, done, action = things[kind]
    client = logged_in(alice)
    page = client.get(page_url).content.decode()
    form = re.search(
        rf'<form method="post" action="{re.escape(action_url)}"[^>]*>', page
    )
    assert form, f"{kind}: no confirmation form on {page_url}"
    assert 'data-confirm="' in form.group(0) and "? " in form.group(0)
    assert REASON_LABEL in page
    refused = client.post(action_url, {"reason": "  "})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'data-testid="confirm-page"' in html and REASON_MISSING in html
    assert not done()
    client.post(action_url, {"reason": "cleaning up"})
    assert done()
    if action:
        assert AuditEntry.objects.get(action=action).reason == "cleaning up"


def test_no_template_confirms_any_other_way() -> None:
    """No inline handlers or hx-confirm: one include and console.js's data-confirm."""
    from tests.conftest import ROOT

    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert "onsubmit=" not in text and "hx-confirm" not in text, path
