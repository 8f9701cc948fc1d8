"""Rules, their versions (every change is a new one) and their hit counts."""

from __future__ import annotations

import math
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from trustconsole.core.models import Organisation
from trustconsole.rules.facts import RuleChannel


class RuleMode(models.TextChoices):
    """What a rule does with live traffic."""

    LIVE = "live", "Live (acts)"
    SHADOW = "shadow", "Shadow (logged, never acts)"
    OFF = "off", "Off"


class Rule(models.Model):
    """An organisation's rule: a condition over one channel's facts and an effect.

    The condition and effect live on its versions; `current_version` is the one
    that runs. `disabled_reason` is set when the engine turned the rule off (over
    its time budget).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="rules"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    channel = models.CharField(max_length=24, choices=RuleChannel.choices)
    mode = models.CharField(
        max_length=8, choices=RuleMode.choices, default=RuleMode.SHADOW
    )
    order = models.PositiveIntegerField(default=100)
    current_version = models.ForeignKey(
        "RuleVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    disabled_reason = models.TextField(blank=True)
    # The key of a rule of the default rule set ("flagged_keywords", …): the
    # organisation owns and may edit it; the key only says where it came from.
    builtin = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("channel", "order", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("organisation", "name"), name="rule_name_once"
            ),
            models.UniqueConstraint(
                fields=("organisation", "builtin"),
                condition=~models.Q(builtin=""),
                name="rule_builtin_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=("organisation", "channel", "mode"), name="rule_org_channel"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RuleVersion(models.Model):
    """One version of a rule's condition and effect (never changed once saved)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    condition = models.TextField()
    effect = models.JSONField(default=dict)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("rule", "-number")
        constraints = [
            models.UniqueConstraint(
                fields=("rule", "number"), name="rule_version_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} v{self.number}"


class RuleHitCount(models.Model):
    """How often a rule matched (and failed) in one hour, per mode."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="hits")
    hour = models.DateTimeField()
    mode = models.CharField(max_length=8, choices=RuleMode.choices)
    hits = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("rule", "hour", "mode"), name="rule_hits_hour_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.hour:%Y-%m-%d %H}:00 {self.mode}: {self.hits}"


class BacktestStatus(models.TextChoices):
    """Where a backtest is."""

    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


DAY = 86_400
# The channels whose history is pruned: the log's name and its setting.
HISTORY_SETTINGS = {
    RuleChannel.INBOUND_CALL: ("call log", "VOICEGATE_CALL_LOG_DAYS"),
    RuleChannel.OUTBOUND_CHECK: ("outbound check log", "POLICY_CHECK_LOG_DAYS"),
    RuleChannel.OUTBOUND_DENIAL: ("denial log", "POLICY_DENIAL_LOG_DAYS"),
}


def pluralize(n: int) -> str:
    """The plural ending of a count's noun."""
    return "" if n == 1 else "s"


def history_kept(channel: str) -> tuple[str, int, str] | None:
    """(the log's name, days it keeps, the setting) of a channel whose backtest
    history is pruned; None when it is kept forever (or never pruned)."""
    found = HISTORY_SETTINGS.get(channel)  # type: ignore[call-overload]
    if found is None:
        return None
    days = int(getattr(settings, found[1]))
    return (found[0], days, found[1]) if days else None


class Backtest(models.Model):
    """A draft condition run over the logged history of its channel."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="rule_backtests"
    )
    rule = models.ForeignKey(
        Rule, on_delete=models.CASCADE, null=True, blank=True, related_name="backtests"
    )
    channel = models.CharField(max_length=24, choices=RuleChannel.choices)
    condition = models.TextField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(
        max_length=8, choices=BacktestStatus.choices, default=BacktestStatus.PENDING
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"backtest {self.public_id} ({self.status})"

    @property
    def history_short_days(self) -> int:
        """Days at the window's start older than the channel's log keeps (0: the
        whole window is kept): the backtest found nothing there, and says so."""
        kept = history_kept(self.channel)
        if kept is None:
            return 0
        window = math.ceil((self.window_end - self.window_start).total_seconds() / DAY)
        return max(window - kept[1], 0)

    @property
    def history_note(self) -> str:
        """The hint shown with the backtest when its window outreaches the log."""
        short = self.history_short_days
        if not short:
            return ""
        name, days, setting = history_kept(self.channel) or ("", 0, "")
        return (
            f"The {name} keeps {days:,} days ({setting}): the first {short:,} "
            f"day{pluralize(short)} of this window hold nothing to replay."
        )

    @property
    def progress(self) -> int:
        """Per cent done."""
        if self.status == BacktestStatus.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0


class RuleMatch(models.Model):
    """One event a rule matched, next to what really happened, on the channels
    that keep no decision per event (chat messages and events, signups, usage
    reviews).

    Written in bulk with the hit counts (`matchlog`), at most
    `RULES_MATCH_LOG_PER_HOUR` per rule and hour, kept `RULES_MATCH_LOG_DAYS`.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="+"
    )
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="matches")
    version = models.PositiveIntegerField()
    mode = models.CharField(max_length=8, choices=RuleMode.choices)
    channel = models.CharField(max_length=24, choices=RuleChannel.choices)
    occurred_at = models.DateTimeField()
    # The subject: a visitor (chat) or a customer account. Deleting it deletes
    # what was logged about it, message excerpts included.
    visitor = models.ForeignKey(
        "visitors.Visitor",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    account = models.ForeignKey(
        "accounts.Account",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    subject_label = models.CharField(max_length=200, blank=True)
    excerpt = models.CharField(max_length=240, blank=True)
    # What really happened: "stored" / "blocked" (a chat message), "untouched" /
    # "flagged" / "signal added" (a chat event), "untouched" or the account's
    # status after the event ("on hold", …); `real_by` says by what.
    real = models.CharField(max_length=40)
    real_by = models.CharField(max_length=200, blank=True)
    acted = models.BooleanField(default=False)

    class Meta:
        ordering = ("-occurred_at", "-id")
        indexes = [
            models.Index(fields=("rule", "occurred_at"), name="rule_match_rule_at"),
            models.Index(fields=("occurred_at",), name="rule_match_at"),
        ]

    def __str__(self) -> str:
        at = f"{self.occurred_at:%Y-%m-%d %H:%M}"
        return f"{self.rule_id} {at} {self.mode}: {self.real}"
