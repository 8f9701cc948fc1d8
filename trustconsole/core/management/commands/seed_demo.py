"""seed_demo: a demo organisation with realistic data for every app (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Membership, Organisation
from trustconsole.core.services import (
    audit_record,
    organisation_create,
    user_get_or_create,
)

DEMO_SLUG = "demo"
DEMO_PASSWORD = "trustconsole-demo"
DEMO_USERS = [
    ("admin@demo.test", Role.ADMIN),
    ("operator@demo.test", Role.OPERATOR),
    ("support@demo.test", Role.SUPPORT),
    ("viewer@demo.test", Role.VIEWER),
]


class Command(BaseCommand):
    """Create (or top up) the demo organisation; running it twice changes nothing."""

    help = "Create the demo organisation, its members and demo data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet-login", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        org = Organisation.objects.filter(slug=DEMO_SLUG).first()
        if org is None:
            org, _, _ = organisation_create(
                name="Demo", admin_email=DEMO_USERS[0][0], admin_password=DEMO_PASSWORD
            )
        actor = Actor.system_for(org, "seed_demo")
        for email, role in DEMO_USERS[1:]:
            user, _ = user_get_or_create(email=email, password=DEMO_PASSWORD)
            membership, created = Membership.objects.get_or_create(
                user=user, organisation=org, defaults={"role": role}
            )
            if created:
                audit_record(
                    actor=actor,
                    action="membership.add",
                    target=membership,
                    after={"user": email, "role": role},
                )
        # A second organisation shows the switcher and tenant isolation.
        other = Organisation.objects.filter(slug="northwind-resale").first()
        if other is None:
            other, _, _ = organisation_create(
                name="Northwind Resale", admin_email=DEMO_USERS[0][0]
            )
        for seeder in _app_seeders():
            seeder(actor=actor)
        if not options["quiet_login"]:
            self.stdout.write(
                "Demo organisation ready. "
                f"Log in as {DEMO_USERS[0][0]} / {DEMO_PASSWORD}"
            )


def _app_seeders() -> list[Any]:
    """Each feature app may offer `demo.seed(actor=...)`; collect those that exist."""
    import importlib

    seeders = []
    for app in ("visitors", "voicegate", "accounts", "remediation"):
        try:
            module = importlib.import_module(f"{app}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.demo":
                raise
            continue
        seeders.append(module.seed)
    return seeders
