"""Reading the gate settings never writes; the first change saves the row."""

from __future__ import annotations

from trustconsole.core.models import AuditEntry
from voicegate import selectors, services
from voicegate.models import VoiceSettings


def test_reading_a_fresh_organisations_settings_creates_no_row(
    client, alice, org, api_client_for
) -> None:
    """GIVEN an organisation that never changed its gate settings
    WHEN the settings page, the API and the selector read them
    THEN they show the defaults and no row is written."""
    client.force_login(alice)
    assert client.get("/voice/settings/").status_code == 200
    answer = api_client_for(org, "viewer").get("/api/v1/voice/settings")
    assert answer.status_code == 200
    assert answer.json()["repeated_call_threshold"] == 5
    row = selectors.voice_settings_for(org.pk)
    assert row.pk is None and row.anonymous_policy == "allow"
    assert not VoiceSettings.objects.filter(organisation=org).exists()


def test_the_first_change_saves_the_row_and_audits_it(org, actor_for) -> None:
    services.voice_settings_update(
        actor=actor_for(org, "admin"), repeated_call_threshold=9
    )
    row = VoiceSettings.objects.get(organisation=org)
    assert row.repeated_call_threshold == 9
    entry = AuditEntry.objects.get(action="voice.settings.update")
    assert entry.before["repeated_call_threshold"] == 5
    assert entry.after["repeated_call_threshold"] == 9


def test_saving_the_defaults_unchanged_writes_nothing(org, actor_for) -> None:
    services.voice_settings_update(
        actor=actor_for(org, "admin"), repeated_call_threshold=5
    )
    assert not VoiceSettings.objects.filter(organisation=org).exists()
    assert not AuditEntry.objects.filter(action="voice.settings.update").exists()
