"""Failed log-ins lock the account (and the client IP) out with a clear message;
the lockout is audited and an admin clears it from Settings → Members or with
`unlock_login`."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.conftest import PASSWORD
from trustconsole.core.models import AuditEntry, Membership


def _login(client: Client, email: str, password: str, ip: str = "192.0.2.10"):
    return client.post(
        "/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = (3, 900)
    settings.LOGIN_FAILURES_PER_IP = (10, 900)
    settings.LOGIN_LOCKOUT_SECONDS = 600


def test_wrong_passwords_lock_the_account_even_against_the_right_one(
    alice, other_org, limits
) -> None:
    """GIVEN 3 failures allowed WHEN a third wrong password is tried THEN the form
    says the account is locked and until when, and the right password is refused
    too; the lockout is audited in words in the account's organisation."""
    client = Client()
    for _ in range(2):
        page = _login(client, alice.email, "wrong").content.decode()
        assert "Please enter a correct" in page
    third = _login(client, alice.email, "wrong").content.decode()
    assert "Too many failed log-ins for this account" in third
    assert "UTC" in third and "ask an admin of your organisation" in third
    right = _login(client, alice.email, PASSWORD)
    assert right.status_code == 200  # the form again, not a redirect
    assert "Too many failed log-ins" in right.content.decode()
    assert "_auth_user_id" not in client.session
    (entry,) = AuditEntry.objects.filter(action="login.lockout")
    assert entry.organisation.name == "Alpha"
    assert entry.actor_label == "system: log-in guard"
    assert entry.target_label.startswith("alice@alpha.test in Alpha")
    assert entry.reason == "3 failed log-ins for this account within 15 min"
    assert entry.after["client_ip"] == "192.0.2.10"
    # Case and spaces do not make a new account.
    shouted = _login(client, " ALICE@alpha.test ", PASSWORD).content.decode()
    assert "Too many failed log-ins" in shouted


def test_the_lockout_ends_by_itself(alice, limits) -> None:
    client = Client()
    for _ in range(3):
        _login(client, alice.email, "wrong")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601)):
        assert _login(client, alice.email, PASSWORD).status_code == 302


def test_a_success_starts_the_count_again(alice, limits) -> None:
    client = Client()
    _login(client, alice.email, "wrong")
    _login(client, alice.email, "wrong")
    assert _login(client, alice.email, PASSWORD).status_code == 302
    other = Client()
    _login(other, alice.email, "wrong")
    _login(other, alice.email, "wrong")
    assert _login(other, alice.email, PASSWORD).status_code == 302


def test_one_client_ip_trying_many_accounts_is_locked_out(
    alice, oscar, bob, settings, limits
) -> None:
    """GIVEN 10 failures per IP WHEN one address tries wrong passwords over several
    accounts THEN that address is locked (with its own message); others are not."""
    client = Client()
    for i in range(10):
        _login(client, f"nobody{i}@alpha.test", "guess")
    page = _login(client, oscar.email, PASSWORD).content.decode()
    assert "Too many failed log-ins for your network address" in page
    assert _login(Client(), oscar.email, PASSWORD, ip="192.0.2.11").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    alice, settings, limits
) -> None:
    settings.VISITORS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.LOGIN_FAILURES_PER_IP = (2, 900)
    client = Client()
    for who in ("198.51.100.1", "198.51.100.1"):
        client.post(
            "/login/",
            {"username": "x@alpha.test", "password": "guess"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=who,
        )
    other = client.post(
        "/login/",
        {"username": alice.email, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )
    assert other.status_code == 302


def test_the_admin_login_is_throttled_too(admin_user, limits) -> None:
    client = Client()
    for _ in range(3):
        client.post(
            "/admin/login/",
            {"username": admin_user.username, "password": "wrong"},
            REMOTE_ADDR="192.0.2.10",
        )
    page = client.post(
        "/admin/login/",
        {"username": admin_user.username, "password": "password"},
        REMOTE_ADDR="192.0.2.10",
    ).content.decode()
    assert "Too many failed log-ins" in page


def test_an_admin_sees_and_clears_a_lockout_in_settings_members(
    alice, oscar, bob, limits
) -> None:
    """GIVEN oscar locked out WHEN alice (admin) opens Settings → Members THEN his
    row says so; Clear lockout lets him in again and is audited. bob (viewer)
    cannot clear; charlie's organisation's members are 404."""
    for _ in range(3):
        _login(Client(), oscar.email, "wrong")
    admin = Client()
    admin.force_login(alice)
    page = admin.get("/settings/members/").content.decode()
    assert "Locked out until" in page and "Clear lockout" in page
    membership = Membership.objects.get(user=oscar)
    viewer = Client()
    viewer.force_login(bob)
    assert (
        viewer.post(f"/settings/members/{membership.public_id}/unlock/").status_code
        == 403
    )
    assert "Too many" in _login(Client(), oscar.email, PASSWORD).content.decode()
    done = admin.post(
        f"/settings/members/{membership.public_id}/unlock/",
        {"reason": "called the help desk"},
        follow=True,
    )
    assert "can log in again" in done.content.decode()
    assert "Locked out until" not in done.content.decode()
    entry = AuditEntry.objects.get(action="login.lockout_clear")
    assert entry.actor_label == "alice@alpha.test"
    assert entry.reason == "called the help desk"
    assert entry.after == {"locked_until": None}
    assert _login(Client(), oscar.email, PASSWORD).status_code == 302


def test_members_of_another_organisation_cannot_be_unlocked(
    alice, charlie, limits
) -> None:
    outsider = Client()
    outsider.force_login(charlie)
    membership = Membership.objects.get(user=alice)
    response = outsider.post(f"/settings/members/{membership.public_id}/unlock/")
    assert response.status_code == 404


def test_the_unlock_login_command_clears_accounts_and_addresses(
    alice, limits, settings
) -> None:
    settings.LOGIN_FAILURES_PER_IP = (3, 900)
    for _ in range(3):
        _login(Client(), alice.email, "wrong", ip="203.0.113.9")
    out = StringIO()
    call_command("unlock_login", email="Alice@Alpha.test", ip="203.0.113.9", stdout=out)
    assert out.getvalue().splitlines() == [
        "Cleared the log-in lockout of account alice@alpha.test.",
        "Cleared the log-in lockout of client IP 203.0.113.9.",
    ]
    entry = AuditEntry.objects.get(action="login.lockout_clear")
    assert entry.actor_label == "system: unlock_login command"
    assert _login(Client(), alice.email, PASSWORD, ip="203.0.113.9").status_code == 302
    again = StringIO()
    call_command("unlock_login", email=alice.email, stdout=again)
    assert again.getvalue() == "No lockout was in force.\n"
