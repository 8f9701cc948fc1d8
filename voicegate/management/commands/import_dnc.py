"""import_dnc: import a Do-Not-Call CSV from the command line, with a progress line.

    manage.py import_dnc FILE --organisation SLUG --list NAME
        [--create --kind national --country US] [--region US]
        [--mode full|changes|additions|deletions] [--as-of YYYY-MM-DD]

The file is streamed (never loaded whole), exactly as a browser upload is imported:
the registry's full download or its change list, plain, gzip or zip.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trustconsole.core.actor import Actor
from trustconsole.core.models import Organisation
from voicegate.policy import services
from voicegate.policy.choices import DncKind, ImportMode, ImportStatus
from voicegate.policy.importer import ImportProgress
from voicegate.policy.models import DncList


class Command(BaseCommand):
    """Import one CSV into a list of an organisation."""

    help = "Import a Do-Not-Call file (one number per row) into a list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--organisation", required=True, help="Organisation slug")
        parser.add_argument("--list", required=True)
        parser.add_argument("--create", action="store_true", help="Create the list")
        parser.add_argument("--kind", choices=DncKind.values, default=DncKind.NATIONAL)
        parser.add_argument("--country", default="", help="ISO code of the list")
        parser.add_argument(
            "--region", default="", help="ISO code for numbers without +"
        )
        parser.add_argument(
            "--mode",
            choices=ImportMode.values,
            default=ImportMode.FULL,
            help="full list, change list (lines flagged A/D), additions, deletions",
        )
        parser.add_argument(
            "--as-of",
            default="",
            help="date of the registry file (default: a date in the file name, "
            "else today)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        org = Organisation.objects.filter(slug=options["organisation"]).first()
        if org is None:
            raise CommandError(f"No organisation with slug {options['organisation']!r}")
        actor = Actor.system_for(org, "import_dnc")
        dnc_list = DncList.objects.filter(
            organisation=org, name=options["list"]
        ).first()
        try:
            if dnc_list is None:
                if not options["create"]:
                    raise CommandError(
                        f"No list named {options['list']!r}; add --create."
                    )
                dnc_list = services.dnc_list_create(
                    actor=actor,
                    name=options["list"],
                    kind=options["kind"],
                    country=options["country"],
                )
            with path.open("rb") as upload:
                job = services.dnc_import_start(
                    actor=actor,
                    dnc_list=dnc_list,
                    upload=upload,
                    file_name=path.name,
                    region=options["region"],
                    mode=options["mode"],
                    as_of=options["as_of"] or None,
                    enqueue=False,
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        started = time.monotonic()

        def progress(p: ImportProgress) -> None:
            rate = p.rows_read / max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"{p.percent:3d}%  {p.rows_read:,} rows read, {p.valid:,} valid, "
                f"{p.invalid:,} unusable  ({rate:,.0f} rows/s)"
            )
            self.stdout.flush()

        done = services.dnc_import_process(import_id=job.pk, on_progress=progress)
        if done is None or done.status != ImportStatus.DONE:
            raise CommandError(f"Import failed: {done.error if done else 'not run'}")
        job = done
        if job.version is not None:
            seconds = max(time.monotonic() - started, 1e-6)
            self.stdout.write(
                f"Version {job.version.number} ({job.get_mode_display().lower()}, "
                f"as of {job.version.as_of}) is now in use: "
                f"{job.rows_read / seconds:,.0f} rows/s."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {job.rows_read:,} rows into {dnc_list.name}: "
                f"{job.added:,} added, {job.duplicates:,} already there, "
                f"{job.invalid:,} unusable. The list holds "
                f"{job.dnc_list.entry_count:,} numbers."
            )
        )
