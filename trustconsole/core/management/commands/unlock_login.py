"""unlock_login --email EMAIL | --ip ADDRESS: lift a log-in lockout."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.services import login_unlock


class Command(BaseCommand):
    """Clear a failed-log-in lockout of an account or a client IP (audited)."""

    help = "Clear the log-in lockout of an account (--email) or a client IP (--ip)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="")
        parser.add_argument("--ip", default="", metavar="ADDRESS")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["email"] and not options["ip"]:
            raise CommandError("Give --email, --ip or both.")
        cleared = login_unlock(
            email=options["email"], ip=options["ip"], by="unlock_login command"
        )
        if not cleared:
            self.stdout.write("No lockout was in force.")
        for what in cleared:
            self.stdout.write(f"Cleared the log-in lockout of {what}.")
