"""One CSV import: the uploaded text, its progress, its per-row errors and counts."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from trustconsole.core.models import ApiToken, Organisation


class ImportKind(models.TextChoices):
    """What a file imports into."""

    VISITORS = "visitors", "Visitors"
    BLOCK_LIST = "block_list", "Voice block list"
    IP_BLOCKS = "ip_blocks", "IP blocks"


class ImportStatus(models.TextChoices):
    """Where an import stands."""

    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class CsvImport(models.Model):
    """An uploaded CSV, checked as a dry run or imported by a worker."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="csv_imports"
    )
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    dry_run = models.BooleanField(default=False)
    # The real import started from this dry run (the same file).
    dry_run_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=8, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    file_name = models.CharField(max_length=255)
    file_size = models.PositiveIntegerField(default=0)
    # The checked, decoded file (bounded by CSV_IMPORT_MAX_BYTES); web and worker
    # share the database, not a disk.
    content = models.TextField()
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    # Every problem: {"line", "field", "reason"};
    # the plan (or what was done): {"line", "action", "summary"}.
    errors = models.JSONField(default=list, blank=True)
    changes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=200)
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Started by automatic work (a command, a test) rather than a member or token.
    created_by_system = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("organisation", "kind", "-created_at"), name="csv_import_list"
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_kind_display()})"

    @property
    def percent(self) -> int:
        """How far through the rows the import is (0–100)."""
        if self.status == ImportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def is_active(self) -> bool:
        """Still waiting or running."""
        return self.status in (ImportStatus.PENDING, ImportStatus.RUNNING)
