"""create_organisation NAME --admin EMAIL: a new tenant with its first admin."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.services import organisation_create


class Command(BaseCommand):
    """Create an organisation and make EMAIL its admin (creating the login if new)."""

    help = "Create an organisation with its first admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin", required=True, metavar="EMAIL")
        parser.add_argument(
            "--password", help="Password for a new admin login (default: generated)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"] or secrets.token_urlsafe(12)
        try:
            org, user, created = organisation_create(
                name=options["name"],
                admin_email=options["admin"],
                admin_password=password,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Created organisation {org.name} (slug {org.slug}).")
        if created:
            self.stdout.write(f"Admin login: {user.email} / {password}")
        else:
            self.stdout.write(f"{user.email} (existing login) is its admin.")
