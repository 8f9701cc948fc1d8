"""The console's management API: /api/v1/enterprises/ and its numbers, settings."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from remediation.models import Enterprise, OwnedNumber
from remediation.selectors import settings_for
from tests.remediation.conftest import make_enterprise, numbers, own
from trustconsole.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_admins_register_an_enterprise_and_open_its_gates(org, api_client_for) -> None:
    """GIVEN an admin token WHEN it creates an enterprise, approves both gates and
    accepts the terms THEN the enterprise can remediate, with who and when."""
    client = api_client_for(org, "admin")
    created = client.post(
        "/api/v1/enterprises/", {"name": "Northwind Dental LLC"}, format="json"
    )
    assert created.status_code == 201
    data = created.json()
    assert data["reputation_status"] == data["loa_status"] == "pending"
    assert data["can_remediate"] is False
    assert len(data["missing"]) == 3
    changed = client.patch(
        f"/api/v1/enterprises/{data['id']}/",
        {
            "reputation_status": "approved",
            "loa_status": "approved",
            "terms_accepted": True,
        },
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["can_remediate"] is True
    assert changed.json()["terms_accepted_by"].startswith("API token")
    assert AuditEntry.objects.filter(action="enterprise.update").count() == 1


def test_enterprise_input_is_validated(org, api_client_for) -> None:
    client = api_client_for(org, "admin")
    response = client.post(
        "/api/v1/enterprises/", {"name": "", "loa_status": "maybe"}, format="json"
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "loa_status"}
    make_enterprise(org, "Taken")
    clash = client.post("/api/v1/enterprises/", {"name": "Taken"}, format="json")
    assert clash.status_code == 400
    assert clash.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("role", ["operator", "support", "viewer"])
def test_only_admins_change_enterprises(org, api_client_for, role) -> None:
    enterprise = make_enterprise(org)
    client = api_client_for(org, role)
    assert client.get("/api/v1/enterprises/").status_code == 200
    assert client.get(f"/api/v1/enterprises/{enterprise.public_id}/").status_code == 200
    assert (
        client.post("/api/v1/enterprises/", {"name": "X"}, format="json").status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/v1/enterprises/{enterprise.public_id}/",
            {"loa_status": "rejected"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/enterprises/{enterprise.public_id}/numbers/",
            {"phone_numbers": numbers(1)},
            format="json",
        ).status_code
        == 403
    )


def test_other_organisations_get_404(org, other_org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, numbers(1))
    beta = api_client_for(other_org, "admin")
    base = f"/api/v1/enterprises/{enterprise.public_id}/"
    assert beta.get(base).status_code == 404
    assert beta.patch(base, {"name": "Mine"}, format="json").status_code == 404
    assert beta.get(f"{base}numbers/").status_code == 404
    assert beta.delete(f"{base}numbers/{quote(numbers(1)[0])}/").status_code == 404
    assert beta.get("/api/v1/enterprises/").json()["count"] == 0


def test_numbers_are_added_normalised_up_to_2000(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    client = api_client_for(org, "admin")
    url = f"/api/v1/enterprises/{enterprise.public_id}/numbers/"
    added = client.post(
        url,
        {"phone_numbers": ["+1 (202) 555-0142", "2025550143"], "spam_risk": "high"},
        format="json",
    )
    assert added.status_code == 201
    assert [n["phone_number"] for n in added.json()] == ["+12025550142", "+12025550143"]
    assert all(n["flagged"] for n in added.json())
    again = client.post(url, {"phone_numbers": ["+12025550142"]}, format="json")
    assert again.status_code == 400
    assert "Already owned" in again.json()["errors"][0]["reason"]
    bulk = client.post(url, {"phone_numbers": numbers(2000, start=1000)}, format="json")
    assert bulk.status_code == 201
    too_many = client.post(
        url, {"phone_numbers": numbers(2001, start=5000)}, format="json"
    )
    assert too_many.status_code == 400
    bad = client.post(
        url, {"phone_numbers": ["+1 555 123 4567", "call me"]}, format="json"
    )
    assert bad.status_code == 400
    reasons = [e["reason"] for e in bad.json()["errors"]]
    assert any("not a valid phone number" in r for r in reasons)
    assert OwnedNumber.objects.count() == 2002


def test_numbers_are_listed_and_filtered(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, numbers(3), spam_risk="high")
    own(enterprise, numbers(2, start=50), spam_risk="low")
    own(enterprise, numbers(1, start=90), spam_risk=None)
    client = api_client_for(org, "viewer")
    url = f"/api/v1/enterprises/{enterprise.public_id}/numbers/"
    assert client.get(url).json()["count"] == 6
    assert client.get(url, {"flagged": "true"}).json()["count"] == 3
    assert client.get(url, {"spam_risk": "low"}).json()["count"] == 2
    assert client.get(url, {"spam_risk": "none"}).json()["count"] == 1
    assert client.get(url, {"q": "555 0050"}).json()["count"] == 1


def test_a_numbers_risk_is_set_and_it_can_be_removed(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    (number,) = own(enterprise, numbers(1), spam_risk=None)
    client = api_client_for(org, "admin")
    url = f"/api/v1/enterprises/{enterprise.public_id}/numbers/{quote(number.e164)}/"
    changed = client.patch(url, {"spam_risk": "medium"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["spam_risk"] == "medium"
    assert changed.json()["spam_risk_checked_at"] is not None
    cleared = client.patch(url, {"spam_risk": None}, format="json")
    assert cleared.json()["spam_risk"] is None
    assert client.patch(url, {"spam_risk": "huge"}, format="json").status_code == 400
    assert client.delete(url, {"reason": "Ported"}, format="json").status_code == 204
    assert client.get(url).status_code == 404


def test_a_number_in_flight_cannot_be_removed(org, api_client_for, actor_for) -> None:
    from remediation import services

    enterprise = make_enterprise(org)
    own(enterprise, numbers(1))
    services.remediation_submit(
        actor=actor_for(org, "operator"),
        enterprise=enterprise,
        phone_numbers=numbers(1),
        call_purpose="x",
    )
    client = api_client_for(org, "admin")
    url = f"/api/v1/enterprises/{enterprise.public_id}/numbers/{quote(numbers(1)[0])}/"
    response = client.delete(url, {"reason": "Ported"}, format="json")
    assert response.status_code == 400
    assert "in-flight" in response.json()["errors"][0]["reason"]
    assert (
        client.delete(f"/api/v1/enterprises/{enterprise.public_id}/").status_code == 400
    )


def test_an_enterprise_without_requests_can_be_removed(org, api_client_for) -> None:
    enterprise = make_enterprise(org)
    own(enterprise, numbers(2))
    client = api_client_for(org, "admin")
    path = f"/api/v1/enterprises/{enterprise.public_id}/"
    refused = client.delete(path, {}, format="json")
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["reason"]
    assert Enterprise.objects.exists()
    done = client.delete(path, {"reason": "duplicate entry"}, format="json")
    assert done.status_code == 204
    assert not Enterprise.objects.exists() and not OwnedNumber.objects.exists()
    entry = AuditEntry.objects.get(action="enterprise.delete")
    assert entry.reason == "duplicate entry"


def test_settings_are_for_admins(org, api_client_for) -> None:
    admin = api_client_for(org, "admin")
    data = admin.get("/api/v1/remediation/settings/").json()
    assert data["provider"] == "sandbox" and data["cooldown_days"] == 30
    # Reading the defaults makes no signing secret; the first change saves one.
    assert data["webhook_secret_hint"] == ""
    changed = admin.patch(
        "/api/v1/remediation/settings/",
        {"provider": "telnyx", "api_key": "KEY_abcd1234", "cooldown_days": 14},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["api_key_hint"] == "••••1234"
    assert "KEY_abcd1234" not in changed.content.decode()
    assert settings_for(organisation=org).api_key == "KEY_abcd1234"
    # Credentials show only their last four characters, never the value.
    secret = settings_for(organisation=org).webhook_secret
    data = admin.get("/api/v1/remediation/settings/").json()
    assert secret.startswith("whsec_")
    assert data["webhook_secret_hint"] == "••••" + secret[-4:]
    assert "webhook_secret" not in data and secret not in str(data)
    assert (
        admin.patch(
            "/api/v1/remediation/settings/", {"cooldown_days": 400}, format="json"
        ).status_code
        == 400
    )
    viewer = api_client_for(org, "viewer")
    assert viewer.get("/api/v1/remediation/settings/").status_code == 403


def test_list_query_count_is_flat(
    org, api_client_for, django_assert_max_num_queries
) -> None:
    for i in range(15):
        make_enterprise(org, f"Enterprise {i}")
    client = api_client_for(org, "viewer")
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/enterprises/").json()["count"] == 15


@pytest.mark.parametrize(
    "api_base",
    [
        "https://127.0.0.1:9443/v2",
        "https://[::127.0.0.1]/v2",
        "https://169.254.169.254/v2",
        "http://api.telnyx.com/v2",
    ],
)
def test_an_api_base_on_an_internal_address_is_a_field_error(
    org, api_client_for, settings, api_base
) -> None:
    """GIVEN an admin setting the provider API base (with an API key) WHEN it names
    an internal address or plain http THEN 400 names api_base and nothing changes."""
    settings.OUTBOUND_ALLOW_PRIVATE = False
    admin = api_client_for(org, "admin")
    response = admin.patch(
        "/api/v1/remediation/settings/",
        {"provider": "telnyx", "api_key": "KEY_abcd1234", "api_base": api_base},
        format="json",
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["api_base"]
    assert admin.get("/api/v1/remediation/settings/").json()["api_base"] == ""
    assert not AuditEntry.objects.filter(action="remediation.settings_update").exists()


def test_a_stored_internal_api_base_is_refused_at_call_time(org, settings) -> None:
    """GIVEN an API base saved before the guard existed WHEN the worker calls it
    THEN the provider client refuses (a permanent error), nothing is sent."""
    from remediation.providers import ProviderError, client_for
    from remediation.selectors import settings_for

    settings.OUTBOUND_ALLOW_PRIVATE = False
    row = settings_for(organisation=org)
    row.provider, row.api_base = "telnyx", "https://169.254.169.254/v2"
    row.api_key = "KEY_abcd1234"
    row.save()
    with client_for(row) as client, pytest.raises(ProviderError, match="non-public"):
        client.retrieve(enterprise_id="e-1", remediation_id="r-1")
