"""prune_audit [--days N]: delete audit entries older than N days (audited)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.services import audit_prune


class Command(BaseCommand):
    """The audit trail's retention path; every organisation pruned is told so."""

    help = (
        "Delete audit entries older than --days (default AUDIT_RETENTION_DAYS); "
        "each organisation's trail records how many were deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] or settings.AUDIT_RETENTION_DAYS
        if not days:
            raise CommandError("Give --days N (AUDIT_RETENTION_DAYS is not set).")
        try:
            pruned = audit_prune(days=days, by="prune_audit command")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if not pruned:
            self.stdout.write(f"No audit entries older than {days} days.")
        for slug, n in sorted(pruned.items()):
            self.stdout.write(
                f"{slug}: {n} audit entries older than {days} days deleted."
            )
