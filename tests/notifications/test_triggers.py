"""Each notification trigger fires once per condition, until the condition clears."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from notifications import checks
from notifications.choices import Outcome, Trigger
from notifications.models import Condition, Notification, NotificationSettings
from remediation.choices import RemediationStatus
from remediation.models import RemediationRequest
from tests.accounts.factories import RequestFactory, days_ago
from tests.notifications.factories import NotificationSettingsFactory
from tests.remediation.conftest import make_enterprise
from tests.visitors.factories import VisitorFactory
from visitors.choices import ReviewStatus
from visitors.models import ReviewItem
from voicegate.choices import Decision, Provider, Reason
from voicegate.models import CallDecision


def configure(org, **fields) -> NotificationSettings:
    return NotificationSettingsFactory(
        organisation=org,
        **{"email_recipients": ["ops@alpha.test", "lead@alpha.test"], **fields},
    )


def review_item(org, *, hours_ago: float = 0) -> ReviewItem:
    return ReviewItem.objects.create(
        organisation=org,
        visitor=VisitorFactory(organisation=org),
        reason="Trust score fell to 20",
        score_at_flag=20,
        created_at=timezone.now() - dt.timedelta(hours=hours_ago),
    )


def run(org) -> list[Notification]:
    return checks.check_organisation(org)


def test_queue_size_notifies_once_until_it_clears(org) -> None:
    """GIVEN a threshold of 3 WHEN the queue reaches 3 THEN one email to every
    recipient; more items or runs add nothing; once below and again at 3, a new one."""
    configure(org, queue_size_threshold=3)
    items = [review_item(org) for _ in range(2)]
    assert run(org) == []
    items.append(review_item(org))
    [sent] = run(org)
    assert sent.trigger == Trigger.QUEUE_SIZE and sent.status == Outcome.SENT
    assert sent.email_status == Outcome.SENT and sent.slack_status == Outcome.SKIPPED
    [message] = mail.outbox
    assert message.to == ["ops@alpha.test", "lead@alpha.test"]
    assert message.subject == "[trustconsole] Alpha: visitor review queue is long"
    assert "3 visitor reviews are waiting (notify at 3)." in message.body
    assert "/visitors/reviews/" in message.body or "review" in sent.link

    review_item(org)
    assert run(org) == [] and run(org) == []  # still the same condition
    assert len(mail.outbox) == 1

    ReviewItem.objects.filter(pk__in=[i.pk for i in items[:2]]).update(
        status=ReviewStatus.DISMISSED
    )
    assert run(org) == []  # 2 left: cleared
    assert not Condition.objects.filter(organisation=org).exists()
    review_item(org)
    [again] = run(org)
    assert again.trigger == Trigger.QUEUE_SIZE and len(mail.outbox) == 2


def test_queue_age_notifies_when_the_oldest_item_passes_the_age(org) -> None:
    configure(org, queue_age_hours=4)
    young = review_item(org, hours_ago=1)
    assert run(org) == []
    old = review_item(org, hours_ago=5)
    [sent] = run(org)
    assert sent.trigger == Trigger.QUEUE_AGE
    assert "The oldest visitor review has waited 5 h" in sent.body
    assert run(org) == []
    old.status = ReviewStatus.DISMISSED
    old.save()
    assert run(org) == [] and not Condition.objects.exists()
    young.created_at = timezone.now() - dt.timedelta(hours=6)
    young.save()
    assert [n.trigger for n in run(org)] == [Trigger.QUEUE_AGE]


def test_an_account_review_becoming_overdue_is_announced_once(org) -> None:
    """GIVEN reassessment requests WHEN one passes its due date THEN it is named in
    one notification; a second one becoming overdue gets its own."""
    configure(org, notify_account_overdue=True)
    RequestFactory(account__organisation=org)  # due in 7 business days
    assert run(org) == []
    late = RequestFactory(account__organisation=org, submitted=days_ago(20))
    [sent] = run(org)
    assert sent.trigger == Trigger.ACCOUNT_OVERDUE
    assert sent.subject == "[trustconsole] Alpha: 1 account review(s) overdue"
    assert late.account.company_name in sent.body
    assert run(org) == []

    later = RequestFactory(account__organisation=org, submitted=days_ago(30))
    [second] = run(org)
    assert later.account.company_name in second.body
    assert late.account.company_name not in second.body


def _remediation(org, enterprise, status: str, **fields) -> RemediationRequest:
    return RemediationRequest.objects.create(
        organisation=org,
        enterprise=enterprise,
        status=status,
        call_purpose="Appointment reminders",
        phone_numbers_count=2,
        phone_numbers_submitted=2,
        phone_numbers_ineligible=0,
        created_by="alice@alpha.test",
        provider="sandbox",
        **fields,
    )


def test_remediation_completed_and_failed_are_announced_once(org) -> None:
    configure(org, notify_remediation=True)
    enterprise = make_enterprise(org)
    # Finished before notifications were set up: never announced.
    _remediation(
        org,
        enterprise,
        RemediationStatus.COMPLETED,
        finished_at=timezone.now() - dt.timedelta(hours=1),
    )
    _remediation(org, enterprise, RemediationStatus.IN_PROGRESS)
    assert run(org) == []
    done = _remediation(
        org, enterprise, RemediationStatus.COMPLETED, finished_at=timezone.now()
    )
    failed = _remediation(
        org,
        enterprise,
        RemediationStatus.FAILED,
        finished_at=timezone.now(),
        failure_reason="30 upstream errors in a row",
    )
    sent = {n.trigger: n for n in run(org)}
    assert set(sent) == {Trigger.REMEDIATION_COMPLETED, Trigger.REMEDIATION_FAILED}
    assert str(done.public_id) in sent[Trigger.REMEDIATION_COMPLETED].body
    assert (
        "failed: 30 upstream errors in a row" in sent[Trigger.REMEDIATION_FAILED].body
    )
    assert str(failed.public_id) in sent[Trigger.REMEDIATION_FAILED].body
    assert run(org) == []  # each request announced once


def _decision(org, reason: str, *, minutes_ago: float = 0) -> CallDecision:
    row = CallDecision.objects.create(
        organisation=org,
        provider=Provider.GENERIC,
        decision=Decision.REJECT if reason == Reason.FAIL_CLOSED else Decision.ALLOW,
        reason=reason,
    )
    CallDecision.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )
    return row


def test_fail_mode_decisions_notify_until_a_quiet_window_passes(org) -> None:
    configure(org, notify_fail_mode=True)
    _decision(org, Reason.NOT_LISTED)
    _decision(org, Reason.FAIL_OPEN, minutes_ago=40)  # outside the window
    assert run(org) == []
    _decision(org, Reason.FAIL_OPEN)
    _decision(org, Reason.FAIL_CLOSED)
    _decision(org, Reason.FAIL_CLOSED)
    [sent] = run(org)
    assert sent.trigger == Trigger.FAIL_MODE
    assert "1 gate unavailable, failed open, 2 gate unavailable, failed closed" in (
        sent.body
    )
    _decision(org, Reason.FAIL_OPEN)
    assert run(org) == []  # still the same episode
    CallDecision.objects.update(created_at=timezone.now() - dt.timedelta(minutes=30))
    assert run(org) == []  # quiet: cleared
    _decision(org, Reason.FAIL_CLOSED)
    assert [n.trigger for n in run(org)] == [Trigger.FAIL_MODE]


def test_other_organisations_conditions_are_their_own(org, other_org) -> None:
    configure(org, queue_size_threshold=1)
    review_item(other_org)
    review_item(other_org)
    assert run(org) == []
    assert run(other_org) == []  # no settings: nothing checked


def test_without_a_channel_nothing_is_sent_and_nothing_floods_later(org) -> None:
    row = configure(org, email_recipients=[], queue_size_threshold=1)
    review_item(org)
    assert run(org) == [] and mail.outbox == []
    row.email_recipients = ["ops@alpha.test"]
    row.save()
    assert run(org) == []  # the condition was already known


def _notifications_counted() -> float:
    from prometheus_client.parser import text_string_to_metric_families

    from trustconsole.lib import metrics

    text = metrics.exposition()[0].decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "trustconsole_notifications_total"
        and s.labels == {"trigger": "queue_size", "outcome": "sent"}
    )


def test_the_webhook_gets_the_text_through_the_guard(
    org, hook, loopback_targets
) -> None:
    """GIVEN a Slack-compatible webhook on a local server (private addresses allowed
    for the test) WHEN a trigger fires THEN it gets {"text": subject + body}."""
    configure(
        org, email_recipients=[], slack_webhook_url=hook.url, queue_size_threshold=1
    )
    review_item(org)
    counted = _notifications_counted()
    [sent] = run(org)
    assert sent.slack_status == Outcome.SENT and sent.status == Outcome.SENT
    assert _notifications_counted() == counted + 1
    [text] = hook.texts()
    assert text.startswith("[trustconsole] Alpha: visitor review queue is long\n")
    assert "1 visitor reviews are waiting" in text


def test_a_refused_or_failing_webhook_is_recorded_and_email_still_goes(
    org, hook, settings
) -> None:
    """GIVEN a webhook on a loopback address and the private switch off THEN the
    guard refuses it (no request made), the email is sent: partly sent."""
    settings.OUTBOUND_ALLOW_PRIVATE = False
    configure(org, slack_webhook_url=hook.url, queue_size_threshold=1)
    review_item(org)
    [sent] = run(org)
    assert sent.slack_status == Outcome.FAILED
    assert sent.slack_detail.startswith("refused:") and "loopback" in sent.slack_detail
    assert sent.email_status == Outcome.SENT and sent.status == Outcome.PARTIAL
    assert hook.received == []


def test_a_webhook_answering_an_error_is_a_failure(org, hook, loopback_targets) -> None:
    hook.answers = [404]
    configure(org, email_recipients=[], slack_webhook_url=hook.url, queue_age_hours=1)
    review_item(org, hours_ago=2)
    [sent] = run(org)
    assert sent.status == Outcome.FAILED
    assert sent.slack_detail == "HTTP 404: no such hook"


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_announce_a_condition_once(org) -> None:
    configure(org, queue_size_threshold=1)
    review_item(org)
    first = checks.check_organisation(org)
    second = checks.check_organisation(org)
    assert len(first) == 1 and second == []
    assert Condition.objects.filter(organisation=org).count() == 1
