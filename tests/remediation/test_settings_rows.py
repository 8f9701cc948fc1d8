"""Reading the remediation settings never writes; the first change saves the row
with a signing secret, audited."""

from __future__ import annotations

from remediation import selectors, services
from remediation.models import RemediationSettings
from remediation.monitoring import monitoring_settings_update
from trustconsole.core.models import AuditEntry


def test_reading_a_fresh_organisations_settings_creates_no_row(
    client, alice, org, api_client_for
) -> None:
    """GIVEN an organisation that never changed its remediation settings
    WHEN the settings page, the API and the selector read them
    THEN they show the defaults (no signing secret yet) and no row is written."""
    client.force_login(alice)
    page = client.get("/settings/remediation/")
    assert page.status_code == 200
    assert "None yet: Rotate makes one and shows it." in page.content.decode()
    data = api_client_for(org, "admin").get("/api/v1/remediation/settings/").json()
    assert data["cooldown_days"] == 30 and data["webhook_secret_hint"] == ""
    row = selectors.settings_for(organisation=org)
    assert row.pk is None and row.provider == "sandbox"
    assert not RemediationSettings.objects.filter(organisation=org).exists()


def test_the_first_change_saves_the_row_with_a_secret_audited(org, actor_for) -> None:
    services.settings_update(actor=actor_for(org, "admin"), cooldown_days=14)
    row = RemediationSettings.objects.get(organisation=org)
    assert row.cooldown_days == 14 and row.webhook_secret.startswith("whsec_")
    entry = AuditEntry.objects.get(action="remediation.settings_update")
    assert entry.before["cooldown_days"] == 30 and entry.after["cooldown_days"] == 14


def test_rotating_the_secret_of_a_fresh_organisation_saves_the_row(
    org, actor_for
) -> None:
    row = services.webhook_secret_rotate(
        actor=actor_for(org, "admin"), reason="First receiver"
    )
    saved = RemediationSettings.objects.get(organisation=org)
    assert saved.webhook_secret == row.webhook_secret
    assert AuditEntry.objects.filter(
        action="remediation.webhook_secret_rotate"
    ).exists()


def test_a_monitoring_change_saves_the_row_with_a_secret(org, actor_for) -> None:
    monitoring_settings_update(actor=actor_for(org, "admin"), review_flagged=False)
    row = RemediationSettings.objects.get(organisation=org)
    assert row.review_flagged is False and row.webhook_secret.startswith("whsec_")


def test_an_unchanged_monitoring_save_writes_nothing(org, actor_for) -> None:
    monitoring_settings_update(actor=actor_for(org, "admin"), review_flagged=True)
    assert not RemediationSettings.objects.filter(organisation=org).exists()
