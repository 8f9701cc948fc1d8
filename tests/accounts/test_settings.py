"""Per-organisation thresholds: read by members, changed by admins, audited."""

from __future__ import annotations

import pytest

from accounts.selectors import account_settings_for
from tests.conftest import PASSWORD
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_api_reads_for_viewers_and_changes_for_admins(org, api_client_for) -> None:
    viewer = api_client_for(org, "viewer")
    assert viewer.get("/api/v1/accounts/settings").json()["hold_threshold"] == 50
    refused = viewer.patch(
        "/api/v1/accounts/settings", {"hold_threshold": 70}, format="json"
    )
    assert refused.status_code == 403
    admin = api_client_for(org, "admin")
    bad = admin.patch(
        "/api/v1/accounts/settings", {"high_risk_countries": ["ZZ"]}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "high_risk_countries"
    ok = admin.patch(
        "/api/v1/accounts/settings",
        {"hold_threshold": 70, "high_risk_countries": ["ng", "PK"], "reason": "Q4"},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()["high_risk_countries"] == ["NG", "PK"]
    row = account_settings_for(organisation=org)
    assert row.hold_threshold == 70
    entry = AuditEntry.objects.get(action="account_settings.update")
    assert entry.before["hold_threshold"] == 50 and entry.after["hold_threshold"] == 70
    assert entry.reason == "Q4"


def test_page_saves_for_admins_and_is_read_only_for_support(
    client, alice, sue, org
) -> None:
    assert client.login(username=sue.username, password=PASSWORD)
    page = client.get("/accounts/settings/").content.decode()
    assert "Only admins change these settings" in page
    fields = {
        "hold_threshold": "65",
        "high_risk_countries": "NG, PK",
        "review_window_days": "7",
        "numbers_min_for_usage_check": "10",
        "min_outbound_per_number": "1",
        "complaints_threshold": "1",
        "spike_factor": "5",
        "spike_min_volume": "200",
        "spike_history_days": "14",
    }
    assert client.post("/accounts/settings/", fields).status_code == 403
    assert account_settings_for(organisation=org).hold_threshold == 50
    client.logout()
    assert client.login(username=alice.username, password=PASSWORD)
    bad = client.post("/accounts/settings/", {**fields, "high_risk_countries": "XX"})
    assert bad.status_code == 200 and "XX" in bad.content.decode()
    client.post("/accounts/settings/", fields)
    row = account_settings_for(organisation=org)
    assert (row.hold_threshold, row.high_risk_countries) == (65, ["NG", "PK"])
