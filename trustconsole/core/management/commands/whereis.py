"""whereis PATH [METHOD]: the view and the services behind a URL, as file:line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.lib.whereis import where


class Command(BaseCommand):
    """Print where the code of a URL lives: its route, view and service calls."""

    help = (
        "Print the route, the view (file:line) and the service functions it calls "
        "for a URL path, e.g. whereis /api/v1/accounts/ID/block POST."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("method", nargs="?", default="GET")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            found = where(options["path"], options["method"].upper())
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"route  {found.route}")
        self.stdout.write(f"view   {found.view}  {found.view_at}")
        for name, at in found.calls:
            self.stdout.write(f"calls  {name}  {at}")
