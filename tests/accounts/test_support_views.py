"""Support's flows on the account page: restore, feedback, numbers, port-away,
refunds; every form error next to its field, all of them at once."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape as html_unescape

from django.test import Client

from accounts.choices import AccountStatus, EmailKind
from accounts.models import CustomerEmail, Feedback, ReassessmentRequest
from tests.accounts.factories import AccountFactory, AccountNumberFactory
from tests.conftest import PASSWORD
from trustconsole.core.models import AuditEntry


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def field_error(html: str, field_id: str) -> str:
    """The error shown right after the field with this id ("" if none)."""
    match = re.search(
        rf'id="{field_id}"[^>]*>(?:[^<]*</[a-z]+>)?\s*<span class="error"[^>]*>([^<]*)',
        html,
    )
    return html_unescape(match.group(1)) if match else ""


def test_support_restores_a_blocked_account_after_case_review(org, sue) -> None:
    account = AccountFactory(
        organisation=org,
        status=AccountStatus.BLOCKED,
        restricted_services=["numbers", "sip_trunking", "sms", "voice"],
    )
    client = logged_in(sue)
    url = f"/accounts/{account.public_id}/restore/"
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "Restore after case review" in page

    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert field_error(refused.content.decode(), "restore_reason")
    account.refresh_from_db()
    assert account.status == AccountStatus.BLOCKED

    done = client.post(url, {"reason": "Robocall campaign stopped; KYC redone"})
    assert done.status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.restricted_services == []
    entry = AuditEntry.objects.get(action="account.restore")
    assert entry.reason == "Robocall campaign stopped; KYC redone"
    assert entry.actor_label == sue.email
    email = CustomerEmail.objects.get(account=account, kind=EmailKind.RESTORED)
    assert "restored" in email.subject and account.email == email.to
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "restored" in page and "after case review" in page  # the timeline


def test_a_closed_account_is_not_restored(org, sue) -> None:
    account = AccountFactory(organisation=org, status=AccountStatus.CLOSED)
    client = logged_in(sue)
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "Restore after case review" not in page
    response = client.post(f"/accounts/{account.public_id}/restore/", {"reason": "x"})
    assert response.status_code == 400
    assert "Only an account blocked for case review" in response.content.decode()
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED


def test_feedback_is_recorded_with_the_subject_format_and_is_no_appeal(
    org, sue
) -> None:
    """GIVEN a permanently blocked account WHEN support records the customer's
    feedback THEN it is stored under 'Feedback: <email> <ticket> Blocked Account',
    and nothing else moves: status, requests and emails stay as they were."""
    account = AccountFactory(
        organisation=org, status=AccountStatus.CLOSED, email="win@prize.example"
    )
    client = logged_in(sue)
    url = f"/accounts/{account.public_id}/feedback/"
    both = client.post(url, {"ticket_id": "T 1042", "body": ""})
    assert both.status_code == 400
    html = both.content.decode()
    assert field_error(html, "feedback_ticket_id") == (
        "A ticket id has no spaces, e.g. T-1042."
    )
    assert field_error(html, "feedback_body") == "This field is required."
    assert not Feedback.objects.exists()

    emails_before = CustomerEmail.objects.count()
    done = client.post(url, {"ticket_id": "T-1042", "body": "Tell us which rule."})
    assert done.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.subject == "Feedback: win@prize.example T-1042 Blocked Account"
    assert feedback.ticket_id == "T-1042" and feedback.account == account
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED
    assert not ReassessmentRequest.objects.exists()
    assert CustomerEmail.objects.count() == emails_before
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "Tell us which rule." in page


def test_feedback_is_only_offered_on_blocked_accounts(org, sue) -> None:
    account = AccountFactory(organisation=org)
    client = logged_in(sue)
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert 'data-testid="feedback-form"' not in page
    response = client.post(
        f"/accounts/{account.public_id}/feedback/", {"ticket_id": "T-1", "body": "x"}
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "feedback_ticket_id").startswith(
        "No blocked account with the email"
    )


def test_support_adds_and_removes_numbers(org, sue) -> None:
    account = AccountFactory(organisation=org)
    client = logged_in(sue)
    url = f"/accounts/{account.public_id}/numbers/"
    bad = client.post(url, {"numbers": "+14155550100\n555-CALL-NOW"})
    assert bad.status_code == 400
    assert "'555-CALL-NOW' is not a valid phone number" in field_error(
        bad.content.decode(), "numbers_numbers"
    )
    assert not account.numbers.exists()  # nothing half-done

    assert (
        client.post(url, {"numbers": "+14155550100, +14155550101"}).status_code == 302
    )
    assert set(account.numbers.values_list("e164", flat=True)) == {
        "+14155550100",
        "+14155550101",
    }
    remove = f"/accounts/{account.public_id}/numbers/remove/"
    removed = client.post(remove, {"number": "+14155550100", "reason": "Ported"})
    assert removed.status_code == 302
    assert list(account.numbers.values_list("e164", flat=True)) == ["+14155550101"]
    entry = AuditEntry.objects.get(action="account.numbers_remove")
    assert entry.after["removed"] == ["+14155550100"]
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert "removed numbers from" in page


def test_port_away_is_offered_only_when_the_account_owns_numbers(org, sue) -> None:
    account = AccountFactory(organisation=org, status=AccountStatus.CLOSED)
    client = logged_in(sue)
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert 'data-testid="port-away-form"' not in page
    assert "The account owns no numbers, so there is nothing to port away." in page
    AccountNumberFactory(account=account, e164="+14155550100")
    page = client.get(f"/accounts/{account.public_id}/").content.decode()
    assert 'data-testid="port-away-form"' in page and "For 1 number" in page


def test_a_refund_over_the_balance_is_refused_beside_the_amount(org, sue) -> None:
    account = AccountFactory(
        organisation=org, status=AccountStatus.CLOSED, balance=Decimal("84.50")
    )
    client = logged_in(sue)
    response = client.post(
        f"/accounts/{account.public_id}/refunds/", {"amount": "100.00", "reason": ""}
    )
    assert response.status_code == 400
    assert field_error(response.content.decode(), "refund_amount") == (
        "The unused balance is 84.50; ask for no more."
    )
    assert not account.refunds.exists()


def test_a_permanent_block_needs_its_confirmation(org, sue) -> None:
    account = AccountFactory(organisation=org)
    client = logged_in(sue)
    url = f"/accounts/{account.public_id}/block/"
    response = client.post(url, {"reason": "", "permanent": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    # Both mistakes at once, each beside its field.
    assert field_error(html, "block_reason") == "This field is required."
    assert field_error(html, "block_confirm_permanent") == (
        "Tick to confirm: a permanent block cannot be undone."
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    response = client.post(
        url, {"reason": "Phishing", "permanent": "on", "confirm_permanent": "on"}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.status == AccountStatus.CLOSED


def test_charlie_cannot_touch_alphas_account(org, charlie) -> None:
    account = AccountFactory(organisation=org, status=AccountStatus.BLOCKED)
    client = logged_in(charlie)
    for path in ("restore/", "feedback/", "numbers/", "numbers/remove/"):
        response = client.post(f"/accounts/{account.public_id}/{path}", {"reason": "x"})
        assert response.status_code == 404
    account.refresh_from_db()
    assert account.status == AccountStatus.BLOCKED


def test_a_viewer_cannot_restore(org, bob) -> None:
    account = AccountFactory(organisation=org, status=AccountStatus.BLOCKED)
    response = logged_in(bob).post(
        f"/accounts/{account.public_id}/restore/", {"reason": "x"}
    )
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == AccountStatus.BLOCKED
