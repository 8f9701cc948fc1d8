"""Settings → Notifications: admins edit (every error at once), audited; the list
of sent notifications on a page and in the API."""

from __future__ import annotations

from django.test import Client

from notifications.choices import Outcome, Trigger
from notifications.models import Notification, NotificationSettings
from tests.conftest import PASSWORD
from tests.notifications.factories import NotificationFactory
from trustconsole.core.audit_text import describe
from trustconsole.core.choices import Role
from trustconsole.core.models import AuditEntry

URL = "/settings/notifications/"


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def form(**overrides: str) -> dict[str, str]:
    data = {
        "email_recipients": "ops@alpha.test\nlead@alpha.test",
        "slack_webhook_url": "",
        "queue_size_threshold": "10",
        "queue_age_hours": "4",
        "notify_account_overdue": "on",
        "notify_remediation": "on",
        "notify_fail_mode": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_saves_the_settings_and_the_change_is_audited(
    org, alice, hook, loopback_targets
) -> None:
    client = logged_in(alice)
    assert client.get(URL).status_code == 200
    response = client.post(URL, form(slack_webhook_url=hook.url))
    assert response.status_code == 302
    row = NotificationSettings.objects.get(organisation=org)
    assert row.email_recipients == ["ops@alpha.test", "lead@alpha.test"]
    assert row.slack_webhook_url == hook.url
    assert (row.queue_size_threshold, row.queue_age_hours) == (10, 4)
    entry = AuditEntry.objects.get(action="notification.settings_update")
    assert hook.url not in str(entry.after)  # only its hint is recorded
    assert entry.after["slack_webhook"] == "••••xyz1"
    text = describe(entry)
    assert text.sentence == "alice@alpha.test changed the notification settings"
    labels = {c.label: c.after for c in text.changes}
    assert labels["Email recipients"] == "ops@alpha.test, lead@alpha.test"
    assert labels["Visitor review queue size that notifies"] == "10"

    page = client.get(URL).content.decode()
    assert "••••xyz1" in page and hook.url not in page

    # Blank keeps the saved webhook; a later change records only what changed.
    assert client.post(URL, form(queue_age_hours="0")).status_code == 302
    row.refresh_from_db()
    assert row.slack_webhook_url == hook.url and row.queue_age_hours == 0
    latest = AuditEntry.objects.filter(action="notification.settings_update").first()
    assert latest.before == {"queue_age_hours": 4}
    assert latest.after == {"queue_age_hours": 0}
    assert [c.after for c in describe(latest).changes] == ["off"]

    assert client.post(URL, form(slack_webhook_remove="on")).status_code == 302
    row.refresh_from_db()
    assert row.slack_webhook_url == ""


def test_every_form_error_shows_at_once_next_to_its_field(org, alice, settings) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    response = logged_in(alice).post(
        URL,
        form(
            email_recipients="ops@alpha.test, not-an-address, also bad@",
            slack_webhook_url="http://127.0.0.1:9/hook",
            queue_size_threshold="-1",
            queue_age_hours="many",
        ),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {
        "email_recipients",
        "slack_webhook_url",
        "queue_size_threshold",
        "queue_age_hours",
    }
    assert errors["email_recipients"] == [
        "Not an email address: not-an-address, also, bad@."
    ]
    assert "https://" in errors["slack_webhook_url"][0]
    html = response.content.decode()
    for field in errors:
        assert f'id="id_{field}_error"' in html
    assert not NotificationSettings.objects.exists()


def test_the_webhook_must_pass_the_ssrf_guard(org, alice, settings) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = False
    response = logged_in(alice).post(
        URL, form(slack_webhook_url="https://127.0.0.1/services/x")
    )
    assert response.status_code == 400
    [error] = response.context["form"].errors["slack_webhook_url"]
    assert "loopback" in error


def test_triggers_without_anywhere_to_send_are_an_error(org, alice) -> None:
    response = logged_in(alice).post(URL, form(email_recipients=""))
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Add an email recipient or a webhook, or turn every trigger off."
    ]
    off = form(
        email_recipients="",
        queue_size_threshold="0",
        queue_age_hours="0",
        notify_account_overdue=None,
        notify_remediation=None,
        notify_fail_mode=None,
    )
    assert logged_in(alice).post(URL, off).status_code == 302


def test_other_roles_read_but_cannot_change(org, oscar) -> None:
    client = logged_in(oscar)
    page = client.get(URL)
    assert page.status_code == 200
    assert "Only admins change these settings." in page.content.decode()
    assert client.post(URL, form()).status_code == 403
    assert not NotificationSettings.objects.exists()


def _notification(org, trigger: str = Trigger.QUEUE_SIZE, **fields) -> Notification:
    return NotificationFactory(organisation=org, trigger=trigger, **fields)


def test_sent_notifications_are_listed_with_their_outcome(org, other_org, bob) -> None:
    _notification(org)
    _notification(
        org,
        Trigger.FAIL_MODE,
        status=Outcome.FAILED,
        slack_status=Outcome.FAILED,
        slack_detail="HTTP 404: no such hook",
        email_status=Outcome.SKIPPED,
    )
    _notification(other_org, subject="Beta's own")
    html = logged_in(bob).get("/settings/notifications/sent/").content.decode()
    assert "Visitor review queue too long" in html
    assert "Call gate decided in a fail mode" in html
    assert "HTTP 404: no such hook" in html and "Failed" in html
    assert "Beta&#x27;s own" not in html and "Beta's own" not in html


def test_the_api_lists_notifications_paginated_and_filtered(
    org, other_org, api_client_for
) -> None:
    for _ in range(3):
        _notification(org)
    _notification(org, Trigger.ACCOUNT_OVERDUE, status=Outcome.FAILED)
    _notification(other_org)
    client = api_client_for(org, Role.VIEWER)
    body = client.get("/api/v1/notifications/?page_size=2").json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert first["trigger"] == "account_overdue"
    assert first["trigger_label"] == "Account review overdue"
    assert {"email_status", "webhook_status", "status", "subject", "body"} <= set(first)
    failed = client.get("/api/v1/notifications/?status=failed").json()
    assert failed["count"] == 1
    bad = client.get("/api/v1/notifications/?trigger=nope")
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["trigger"]


def test_the_settings_api_is_for_admins_and_hides_the_webhook(
    org, api_client_for, hook, loopback_targets
) -> None:
    admin = api_client_for(org, Role.ADMIN)
    response = admin.patch(
        "/api/v1/notifications/settings/",
        {"email_recipients": ["Ops@Alpha.test"], "slack_webhook_url": hook.url},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["email_recipients"] == ["ops@alpha.test"]
    assert response.json()["slack_webhook"] == "••••xyz1"
    assert hook.url not in str(response.json())
    bad = admin.patch(
        "/api/v1/notifications/settings/",
        {"email_recipients": ["nope"], "queue_age_hours": -2},
        format="json",
    )
    assert bad.status_code == 400
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"queue_age_hours"} <= fields and any(
        f.startswith("email_recipients") for f in fields
    )
    viewer = api_client_for(org, Role.VIEWER)
    assert viewer.get("/api/v1/notifications/settings/").status_code == 403
    assert (
        viewer.patch(
            "/api/v1/notifications/settings/", {"queue_age_hours": 1}, format="json"
        ).status_code
        == 403
    )


def test_an_admin_sends_a_test_notification_through_every_channel(
    org, alice, oscar, hook, loopback_targets, django_capture_on_commit_callbacks
) -> None:
    from django.core import mail

    from notifications import checks

    client = logged_in(alice)
    none_yet = client.post(URL, {"action": "test"}, follow=True)
    assert "Save an email recipient or a webhook first." in none_yet.content.decode()
    assert client.post(URL, form(slack_webhook_url=hook.url)).status_code == 302
    assert "send-test" in client.get(URL).content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(URL, {"action": "test"}, follow=True)
    assert "A test notification is on its way" in response.content.decode()
    assert len(callbacks) == 1  # the Celery task, sent once the request commits
    with django_capture_on_commit_callbacks() as callbacks:
        logged_in(oscar).post(URL, {"action": "test"})
    assert callbacks == []

    sent = checks.send_test(org, requested_by="alice@alpha.test")
    assert sent is not None and sent.trigger == Trigger.TEST
    assert sent.status == Outcome.SENT
    [message] = mail.outbox
    assert message.subject == "[trustconsole] Alpha: test notification"
    assert "alice@alpha.test asked for a test notification." in message.body
    [text] = hook.texts()
    assert text.startswith("[trustconsole] Alpha: test notification\n")
