"""What is worth a notification right now, and which of it is new.

Beat runs `check_all()` every NOTIFICATIONS_CHECK_INTERVAL seconds. Each trigger
names the conditions that hold now by a key:

- `queue_size`, `queue_age`: the visitor review queue has at least the threshold's
  items / its oldest open item has waited at least the threshold's hours;
- `account_overdue:<request>`: a pending reassessment request past its due date;
- `fail_mode`: the call gate logged a fail-mode decision in the last 15 minutes;
- `remediation:<request>`: a remediation request completed or failed (an event:
  its marker stays a week, so it is announced once).

A key seen for the first time is stored (`Condition`, unique per organisation and
key, so two overlapping runs cannot both announce it) and announced; a key that
no longer holds is deleted, so the condition is announced again if it comes back.
One notification per trigger and run lists every new key of that trigger.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from notifications.choices import Trigger
from notifications.models import Condition, Notification, NotificationSettings
from trustconsole.core.models import Organisation

logger = logging.getLogger(__name__)

FAIL_MODE_WINDOW = dt.timedelta(minutes=15)
EVENT_MEMORY = dt.timedelta(days=7)
LIST_LIMIT = 20
STATE_TRIGGERS = (
    Trigger.QUEUE_SIZE,
    Trigger.QUEUE_AGE,
    Trigger.ACCOUNT_OVERDUE,
    Trigger.FAIL_MODE,
)
EVENT_TRIGGERS = (Trigger.REMEDIATION_COMPLETED, Trigger.REMEDIATION_FAILED)


@dataclass(frozen=True)
class Found:
    """One condition that holds now."""

    trigger: str
    key: str
    line: str


def _age_words(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} h {int(seconds % 3600 // 60)} min"
    return f"{int(seconds // 60)} min"


def _visitor_queue(
    org: Organisation, row: NotificationSettings, now: dt.datetime
) -> list[Found]:
    from visitors.choices import ReviewStatus
    from visitors.models import ReviewItem

    if not row.queue_size_threshold and not row.queue_age_hours:
        return []
    stats = ReviewItem.objects.filter(
        organisation=org, status=ReviewStatus.OPEN
    ).aggregate(n=Count("id"), first=Min("created_at"))
    found = []
    if row.queue_size_threshold and stats["n"] >= row.queue_size_threshold:
        found.append(
            Found(
                Trigger.QUEUE_SIZE,
                "queue_size",
                f"{stats['n']} visitor reviews are waiting "
                f"(notify at {row.queue_size_threshold}).",
            )
        )
    if row.queue_age_hours and stats["first"] is not None:
        age = (now - stats["first"]).total_seconds()
        if age >= row.queue_age_hours * 3600:
            found.append(
                Found(
                    Trigger.QUEUE_AGE,
                    "queue_age",
                    f"The oldest visitor review has waited {_age_words(age)} "
                    f"(notify at {row.queue_age_hours} h).",
                )
            )
    return found


def _accounts_overdue(org: Organisation, row: NotificationSettings) -> list[Found]:
    from accounts.choices import RequestStatus
    from accounts.models import ReassessmentRequest

    if not row.notify_account_overdue:
        return []
    # The same "overdue" as the Accounts badge: pending and due today or earlier.
    overdue = (
        ReassessmentRequest.objects.filter(
            organisation=org,
            status=RequestStatus.PENDING,
            due_on__lte=timezone.localdate(),
        )
        .select_related("account")
        .order_by("due_on", "id")
    )
    return [
        Found(
            Trigger.ACCOUNT_OVERDUE,
            f"account_overdue:{r.public_id}",
            f"{r.account.company_name}: review of the request submitted "
            f"{r.submitted_at:%Y-%m-%d} was due {r.due_on:%Y-%m-%d}.",
        )
        for r in overdue
    ]


def _fail_mode(
    org: Organisation, row: NotificationSettings, now: dt.datetime
) -> list[Found]:
    from voicegate.choices import Reason
    from voicegate.models import CallDecision

    if not row.notify_fail_mode:
        return []
    counts = dict(
        CallDecision.objects.filter(
            organisation=org,
            created_at__gte=now - FAIL_MODE_WINDOW,
            reason__in=(Reason.FAIL_OPEN, Reason.FAIL_CLOSED),
        )
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    if not counts:
        return []
    parts = ", ".join(
        f"{counts[r]} {Reason(r).label.lower()}"
        for r in (Reason.FAIL_OPEN, Reason.FAIL_CLOSED)
        if counts.get(r)
    )
    return [
        Found(
            Trigger.FAIL_MODE,
            "fail_mode",
            f"In the last {int(FAIL_MODE_WINDOW.total_seconds() // 60)} minutes the "
            f"call gate could not read its state and decided: {parts}.",
        )
    ]


def _remediation(
    org: Organisation, row: NotificationSettings, now: dt.datetime
) -> list[Found]:
    from remediation.choices import RemediationStatus
    from remediation.models import RemediationRequest

    if not row.notify_remediation:
        return []
    since = max(row.created_at, now - EVENT_MEMORY)
    finished = RemediationRequest.objects.filter(
        organisation=org,
        status__in=(RemediationStatus.COMPLETED, RemediationStatus.FAILED),
        finished_at__gte=since,
    ).order_by("finished_at", "id")
    found = []
    for r in finished:
        failed = r.status == RemediationStatus.FAILED
        what = f"Request {r.public_id} ({r.phone_numbers_count} number(s))"
        line = (
            f"{what} failed: {r.failure_reason or 'no reason given'}."
            if failed
            else f"{what} completed."
        )
        found.append(
            Found(
                Trigger.REMEDIATION_FAILED if failed else Trigger.REMEDIATION_COMPLETED,
                f"remediation:{r.public_id}",
                line,
            )
        )
    return found


def _link(trigger: str) -> str:
    names: dict[str, str] = {
        Trigger.QUEUE_SIZE: "visitors:review_queue",
        Trigger.QUEUE_AGE: "visitors:review_queue",
        Trigger.ACCOUNT_OVERDUE: "accounts:review_queue",
        Trigger.FAIL_MODE: "voicegate:calls",
        Trigger.REMEDIATION_COMPLETED: "remediation:request_list",
        Trigger.REMEDIATION_FAILED: "remediation:request_list",
    }
    name = names[trigger]
    base = (settings.VOICEGATE_PUBLIC_BASE_URL or "").rstrip("/")
    return base + reverse(name)


def _subject(org: Organisation, trigger: str, items: list[Found]) -> str:
    n = len(items)
    texts: dict[str, str] = {
        Trigger.QUEUE_SIZE: "visitor review queue is long",
        Trigger.QUEUE_AGE: "a visitor review is waiting too long",
        Trigger.ACCOUNT_OVERDUE: f"{n} account review(s) overdue",
        Trigger.FAIL_MODE: "the call gate is deciding in a fail mode",
        Trigger.REMEDIATION_COMPLETED: f"{n} remediation request(s) completed",
        Trigger.REMEDIATION_FAILED: f"{n} remediation request(s) failed",
    }
    text = texts[trigger]
    return f"[trustconsole] {org.name}: {text}"[:200]


def _body(trigger: str, items: list[Found], link: str) -> str:
    lines = [f.line for f in items[:LIST_LIMIT]]
    if len(items) > LIST_LIMIT:
        lines.append(f"… and {len(items) - LIST_LIMIT} more.")
    lines += ["", f"Open: {link}"]
    if trigger in STATE_TRIGGERS:
        lines.append("You will not be told again until this clears.")
    return "\n".join(lines)


def _raise_new(org: Organisation, found: list[Found]) -> list[Found]:
    """Store the keys not stored yet; the ones this run stored."""
    existing = set(
        Condition.objects.filter(
            organisation=org, key__in=[f.key for f in found]
        ).values_list("key", flat=True)
    )
    new = []
    for item in found:
        if item.key in existing:
            continue
        try:
            with transaction.atomic():
                Condition.objects.create(
                    organisation=org, trigger=item.trigger, key=item.key
                )
        except IntegrityError:  # an overlapping run announced it
            continue
        new.append(item)
    return new


def check_organisation(
    org: Organisation, *, now: dt.datetime | None = None
) -> list[Notification]:
    """Announce what became true since the last run; forget what cleared."""
    now = now or timezone.now()
    row = NotificationSettings.objects.filter(organisation=org).first()
    if row is None:
        return []
    found = [
        *_visitor_queue(org, row, now),
        *_accounts_overdue(org, row),
        *_fail_mode(org, row, now),
        *_remediation(org, row, now),
    ]
    holding = {f.key for f in found if f.trigger in STATE_TRIGGERS}
    Condition.objects.filter(organisation=org, trigger__in=STATE_TRIGGERS).exclude(
        key__in=holding
    ).delete()
    Condition.objects.filter(
        organisation=org, trigger__in=EVENT_TRIGGERS, raised_at__lt=now - EVENT_MEMORY
    ).delete()
    new = _raise_new(org, found)
    if not row.has_channel:
        return []  # remembered, so turning a channel on later does not flood
    sent = []
    for trigger in Trigger.values:
        items = [f for f in new if f.trigger == trigger]
        if not items:
            continue
        link = _link(trigger)
        notification = Notification.objects.create(
            organisation=org,
            trigger=trigger,
            subject=_subject(org, trigger, items),
            body=_body(trigger, items, link),
            link=link,
            email_recipients=list(row.email_recipients),
            next_attempt_at=now,
        )
        sent.append(delivery.deliver(notification))
    return sent


def send_test(org: Organisation, *, requested_by: str) -> Notification | None:
    """A test notification through every configured channel (None: no channel)."""
    row = NotificationSettings.objects.filter(organisation=org).first()
    if row is None or not row.has_channel:
        return None
    link = (settings.VOICEGATE_PUBLIC_BASE_URL or "").rstrip("/") + reverse(
        "notifications:list"
    )
    notification = Notification.objects.create(
        organisation=org,
        trigger=Trigger.TEST,
        subject=f"[trustconsole] {org.name}: test notification",
        body=f"{requested_by} asked for a test notification. If you read this, "
        f"notifications reach you.\n\nSent notifications: {link}",
        link=link,
        email_recipients=list(row.email_recipients),
        next_attempt_at=timezone.now(),
    )
    return delivery.deliver(notification)


def check_all() -> dict[str, int]:
    """Every organisation with notification settings; one failing does not stop
    the others."""
    sent = failed = 0
    for row in NotificationSettings.objects.select_related("organisation"):
        try:
            sent += len(check_organisation(row.organisation))
        except Exception:
            failed += 1
            logger.exception("notifications: check of %s failed", row.organisation)
    return {"sent": sent, "organisations_failed": failed}


def announce(
    org: Organisation,
    *,
    trigger: str,
    subject: str,
    body: str,
    link: str,
    fallback_emails: list[str],
) -> Notification | None:
    """Send one event notification now (another app's event, e.g. a rule turned
    off). Without configured channels it goes to `fallback_emails` (the
    organisation's admins); None when there is nobody to tell."""
    row = NotificationSettings.objects.filter(organisation=org).first()
    if row is not None and row.has_channel:
        recipients = list(row.email_recipients)
    elif fallback_emails:
        recipients = list(fallback_emails)
    else:
        return None
    notification = Notification.objects.create(
        organisation=org,
        trigger=trigger,
        subject=subject[:200],
        body=body,
        link=link,
        email_recipients=recipients,
    )
    return delivery.deliver(notification)
