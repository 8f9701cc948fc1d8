"""create_api_token --org SLUG --role ROLE: prints the new token alone on stdout."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation
from trustconsole.core.services import token_create


class Command(BaseCommand):
    """Create an API token for an organisation (scripts read it from stdout)."""

    help = "Create an API token and print it (only the token) on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, metavar="SLUG")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", default="created by create_api_token")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organisation.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation with slug {options['org']!r}.")
        actor = Actor.system_for(org, "create_api_token")
        try:
            _, raw = token_create(
                actor=actor, name=options["name"], role=options["role"]
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(raw)
