"""rotate_encryption_keys [--dry-run] [--batch-size N]: re-encrypt stored credentials.

Rotation: put a new key first in ENCRYPTION_KEYS (keeping the old ones after it),
restart the console, run this command, then drop the old keys and restart again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.credentials import credentials_reencrypt
from trustconsole.lib.crypto import UNREADABLE


class Command(BaseCommand):
    """Re-encrypt every stored credential with the newest key of ENCRYPTION_KEYS."""

    help = (
        "Re-encrypt every stored credential (voice connection tokens and API keys, "
        "provider API keys, webhook signing secrets) with the first key of "
        "ENCRYPTION_KEYS. Safe to run again: values already under it are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted; change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=200,
            help="Rows per transaction (default 200).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        dry_run = options["dry_run"]
        keys = len(settings.ENCRYPTION_KEYS)
        self.stdout.write(
            f"ENCRYPTION_KEYS holds {keys} key(s); "
            + ("dry run: " if dry_run else "")
            + "re-encrypting stored credentials with the first one."
        )
        report = credentials_reencrypt(
            batch_size=options["batch_size"],
            dry_run=dry_run,
            progress=self.stdout.write,
        )
        verb = "would be re-encrypted" if dry_run else "re-encrypted"
        self.stdout.write(
            f"{report.checked} stored value(s) checked: {report.reencrypted} {verb}, "
            f"{report.current} already under the newest key, "
            f"{len(report.unreadable)} unreadable."
        )
        if report.unreadable:
            for where in report.unreadable:
                self.stderr.write(f"  {where}: {UNREADABLE}")
            raise CommandError(
                f"{len(report.unreadable)} value(s) could not be read: {UNREADABLE}. "
                "Add the old key back to ENCRYPTION_KEYS (after the new one) and run "
                "again, or enter those credentials again."
            )
