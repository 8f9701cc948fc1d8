"""Management commands: create_organisation, create_api_token, seed_demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from trustconsole.core.models import AuditEntry, Membership, Organisation


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_organisation_makes_the_admin() -> None:
    output = run("create_organisation", "Gamma Telecom", "--admin", "ops@gamma.test")
    org = Organisation.objects.get(slug="gamma-telecom")
    membership = Membership.objects.get(organisation=org)
    assert (membership.user.email, membership.role) == ("ops@gamma.test", "admin")
    assert "Admin login: ops@gamma.test / " in output
    assert AuditEntry.objects.filter(
        organisation=org, action="organisation.create"
    ).exists()


@pytest.mark.django_db
def test_create_api_token_prints_only_a_working_token() -> None:
    run("create_organisation", "Gamma", "--admin", "ops@gamma.test")
    raw = run("create_api_token", "--org", "gamma", "--role", "viewer")
    assert raw.count("\n") == 1 and raw.startswith("tc_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw.strip()}")
    assert client.get("/api/v1/me/").json()["role"] == "viewer"


@pytest.mark.django_db
def test_create_api_token_names_an_unknown_organisation() -> None:
    with pytest.raises(CommandError, match="No organisation with slug 'nope'"):
        run("create_api_token", "--org", "nope", "--role", "viewer")


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    first = run("seed_demo")
    counts = (
        Organisation.objects.count(),
        Membership.objects.count(),
        AuditEntry.objects.count(),
    )
    run("seed_demo")
    assert counts == (
        Organisation.objects.count(),
        Membership.objects.count(),
        AuditEntry.objects.count(),
    )
    assert "admin@demo.test / trustconsole-demo" in first
    assert Membership.objects.filter(organisation__slug="demo").count() == 4


def test_runconsole_backs_off_between_restarts_and_forgives_a_long_run() -> None:
    """GIVEN a child that keeps dying right after it starts THEN the waits before
    each restart double from 1 s up to 30 s; once a child has run 30 s before dying,
    the wait starts at 1 s again and the run of quick failures is forgotten."""
    from trustconsole.core.management.commands.runconsole import (
        STABLE_SECONDS,
        Child,
    )

    child = Child("worker", [], {})
    delays = []
    for now in range(7):
        child.started = float(now)
        delays.append(child.died(now + 0.5))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert child.quick_failures == 7
    child.started = 100.0
    assert child.died(100.0 + STABLE_SECONDS) == 1
    assert child.quick_failures == 1


def test_whereis_names_the_view_and_the_service_behind_a_url() -> None:
    """GIVEN the API URL of an account block WHEN whereis is asked for its POST
    THEN it names the route, the view method and the service, each with file:line."""
    out = run("whereis", "/api/v1/accounts/0f0e/block", "POST")
    lines = out.splitlines()
    assert lines[0].startswith("route  accounts_api:block")
    assert lines[1].startswith("view   accounts.api.views.AccountBlockApi.post  ")
    assert "accounts/api/views.py:" in lines[1]
    assert any(
        line.startswith("calls  accounts.services.status.account_block  ")
        and "accounts/services/status.py:" in line
        for line in lines[2:]
    )


def test_whereis_refuses_an_unknown_url_and_an_unanswered_method() -> None:
    with pytest.raises(CommandError, match="No URL matches /nowhere"):
        run("whereis", "/nowhere")
    with pytest.raises(CommandError, match="does not answer DELETE"):
        run("whereis", "/api/v1/accounts/0f0e/block", "DELETE")
