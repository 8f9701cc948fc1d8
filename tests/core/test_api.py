"""Core API: tenancy (404 across organisations), roles, tokens, errors, schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from trustconsole.core.models import ApiToken, AuditEntry, Membership
from trustconsole.core.services import audit_record


@pytest.fixture
def beta_objects(charlie, other_org, actor_for):
    """One object of every core kind in Beta, the outsider's organisation."""
    from trustconsole.core.services import token_create

    token, _ = token_create(actor=actor_for(other_org), name="beta", role="viewer")
    entry = audit_record(actor=actor_for(other_org), action="x.y", target=other_org)
    membership = Membership.objects.get(user=charlie)
    return {"members": membership, "tokens": token, "audit": entry}


@pytest.mark.parametrize("kind", ["members", "tokens", "audit"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_it_answers_404_for_another_organisations_objects(
    api_client_for, org, beta_objects, kind, method
) -> None:
    client = api_client_for(org, "admin")
    obj = beta_objects[kind]
    response = getattr(client, method)(
        f"/api/v1/{kind}/{obj.public_id}/", {"role": "viewer"}, format="json"
    )
    expected = (
        405
        if (kind, method)
        in {("audit", "patch"), ("audit", "delete"), ("tokens", "patch")}
        else 404
    )
    assert response.status_code == expected
    assert Membership.objects.get(pk=beta_objects["members"].pk).role == "admin"
    assert ApiToken.objects.get(pk=beta_objects["tokens"].pk).revoked_at is None


def test_it_lists_only_the_tokens_organisation(
    api_client_for, org, alice, charlie
) -> None:
    alpha = api_client_for(org, "viewer").get("/api/v1/members/").json()
    assert [m["email"] for m in alpha["results"]] == ["alice@alpha.test"]
    assert alpha["count"] == 1


def test_it_refuses_a_revoked_or_made_up_token(api_client_for, org, alice) -> None:
    client = api_client_for(org, "admin")
    token = ApiToken.objects.get(organisation=org)
    assert client.get("/api/v1/me/").status_code == 200
    token.revoked_at = token.created_at
    token.save()
    assert client.get("/api/v1/me/").status_code == 401
    fake = APIClient()
    fake.credentials(HTTP_AUTHORIZATION="Bearer tc_deadbeef_nope")
    response = fake.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert APIClient().get("/api/v1/me/").status_code == 401


def test_it_records_when_a_token_was_last_used(api_client_for, org) -> None:
    client = api_client_for(org, "viewer")
    assert ApiToken.objects.get().last_used_at is None
    client.get("/api/v1/me/")
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("operator", False), ("support", False), ("viewer", False)],
)
def test_only_admins_create_tokens_and_members(
    api_client_for, org, alice, role, allowed
) -> None:
    client = api_client_for(org, role)
    token = client.post(
        "/api/v1/tokens/", {"name": "x", "role": "viewer"}, format="json"
    )
    member = client.post(
        "/api/v1/members/", {"email": "new@alpha.test", "role": "viewer"}, format="json"
    )
    assert (token.status_code, member.status_code) == (
        (201, 201) if allowed else (403, 403)
    )
    assert Membership.objects.filter(user__email="new@alpha.test").exists() is allowed
    if not allowed:
        assert (
            "cannot change" in member.json()["detail"]
            or "can read" in member.json()["detail"]
        )


def test_every_role_can_read(
    api_client_for, org, alice, beta_objects, actor_for
) -> None:
    """GIVEN members, tokens and audit entries in Alpha and in Beta WHEN each role
    of Alpha reads the lists THEN it sees Alpha's rows, all of them and only them,
    and `me` names Alpha and that role."""
    audit_record(actor=actor_for(org), action="x.y", target=org)
    beta = {str(obj.public_id) for obj in beta_objects.values()}
    for role in ("admin", "operator", "support", "viewer"):
        client = api_client_for(org, role)
        expected = {
            "/api/v1/members/": Membership.objects.filter(organisation=org),
            "/api/v1/tokens/": ApiToken.objects.filter(organisation=org),
            "/api/v1/audit/": AuditEntry.objects.filter(organisation=org),
        }
        for path, rows in expected.items():
            response = client.get(path)
            assert response.status_code == 200, (role, path)
            seen = {row["id"] for row in response.json()["results"]}
            assert seen, (role, path)
            assert seen == {str(row.public_id) for row in rows}, (role, path)
            assert not seen & beta, (role, path)
        members = client.get("/api/v1/members/").json()["results"]
        assert [m["email"] for m in members] == ["alice@alpha.test"], role
        me = client.get("/api/v1/me/")
        assert me.status_code == 200, role
        assert (me.json()["organisation_slug"], me.json()["role"]) == ("alpha", role)


def test_a_created_token_is_shown_once_and_works(api_client_for, org) -> None:
    admin = api_client_for(org, "admin")
    created = admin.post(
        "/api/v1/tokens/", {"name": "pbx", "role": "operator"}, format="json"
    )
    raw = created.json()["token"]
    listed = admin.get("/api/v1/tokens/").json()["results"]
    assert all("token" not in row for row in listed)
    assert raw not in str(listed)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client.get("/api/v1/me/").json()
    assert (me["organisation_slug"], me["role"]) == ("alpha", "operator")


def test_it_names_the_field_and_reason_of_bad_input(api_client_for, org) -> None:
    response = api_client_for(org, "admin").post(
        "/api/v1/members/", {"email": "not-an-email", "role": "overlord"}, format="json"
    )
    assert response.status_code == 400
    errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert "valid email" in errors["email"]
    assert "overlord" in errors["role"]
    assert not Membership.objects.filter(organisation=org).exists()


def test_it_keeps_the_last_admin(api_client_for, org, alice) -> None:
    membership = Membership.objects.get(user=alice)
    response = api_client_for(org, "admin").patch(
        f"/api/v1/members/{membership.public_id}/", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "role",
        "reason": "An organisation must keep at least one admin.",
    }
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_changing_a_role_is_audited_with_before_and_after(
    api_client_for, org, alice, bob
) -> None:
    membership = Membership.objects.get(user=bob)
    response = api_client_for(org, "admin").patch(
        f"/api/v1/members/{membership.public_id}/",
        {"role": "operator", "reason": "on call"},
        format="json",
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action="membership.change_role")
    assert (entry.before, entry.after, entry.reason) == (
        {"role": "viewer"},
        {"role": "operator"},
        "on call",
    )
    assert entry.actor_label.startswith("API token")


def test_the_audit_trail_cannot_be_changed_through_the_api(
    api_client_for, org, actor_for
) -> None:
    entry = audit_record(actor=actor_for(org), action="x.y", target=org)
    client = api_client_for(org, "admin")
    url = f"/api/v1/audit/{entry.public_id}/"
    assert client.get(url).json()["action"] == "x.y"
    assert client.put(url, {"reason": "z"}, format="json").status_code == 405
    assert client.delete(url).status_code == 405
    assert client.post("/api/v1/audit/", {}, format="json").status_code == 405


def test_it_serves_the_openapi_schema_and_swagger_ui_offline(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/members/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
