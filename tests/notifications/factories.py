"""Factories for notifications: settings and sent notifications."""

from __future__ import annotations

import factory

from notifications.choices import Outcome, Trigger
from notifications.models import Notification, NotificationSettings


class NotificationSettingsFactory(factory.django.DjangoModelFactory):
    """Settings with every trigger off; pass `organisation` and what a test turns on."""

    class Meta:
        model = NotificationSettings

    queue_size_threshold = 0
    queue_age_hours = 0
    notify_account_overdue = False
    notify_remediation = False
    notify_fail_mode = False


class NotificationFactory(factory.django.DjangoModelFactory):
    """A sent "review queue is long" notification; pass `organisation`."""

    class Meta:
        model = Notification

    trigger = Trigger.QUEUE_SIZE
    subject = factory.LazyAttribute(
        lambda n: f"[trustconsole] {n.organisation.name}: visitor review queue is long"
    )
    body = "25 visitor reviews are waiting (notify at 20)."
    status = Outcome.SENT
    email_status = Outcome.SENT
