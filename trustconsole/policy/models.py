"""The change log every process reads to keep its in-memory state current."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class PolicyChange(models.Model):
    """One thing that may change decisions: reload `kind` `ref` of an organisation.

    Appended by the service that made the change, in its transaction. A delta names
    what to read again, not its new value, so applying one twice or out of order
    gives the same state. The organisation is a plain id (no foreign key): rows
    must outlive an organisation's cascade without taking part in it.
    """

    id = models.BigAutoField(primary_key=True)
    organisation_id = models.BigIntegerField()
    kind = models.CharField(max_length=24)
    ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=("organisation_id", "id"), name="policy_change_org_id"),
            models.Index(fields=("created_at",), name="policy_change_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.ref} (organisation {self.organisation_id})"
