"""What the outbound policy writes share: who may act, input cleaning, and how an
import records its progress, its failure and its end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from trustconsole.core.choices import Role
from trustconsole.lib.phones import phone_or_field_error
from voicegate.policy import importer
from voicegate.policy.choices import ImportStatus
from voicegate.policy.models import DncImport

ACT = (Role.OPERATOR, Role.SUPPORT)


def clean_e164(raw: str, field: str, *, region: str | None = None) -> str:
    """A phone number as E.164, or ValidationError naming the field."""
    return phone_or_field_error(raw, field=field, region=region)


def clean_text(value: str, field: str, *, required: bool, limit: int) -> str:
    """Stripped text within `limit` characters (and present when `required`)."""
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"Keep it to {limit} characters."})
    return value


def clean_country(value: str, field: str = "country") -> str:
    """An ISO country code upper-cased, or empty."""
    import phonenumbers

    value = (value or "").strip().upper()
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: f"{value!r} is not a known ISO country code."})
    return value


def import_progress_save(
    import_pk: int,
    progress: importer.ImportProgress,
    on_progress: Callable[[importer.ImportProgress], Any] | None,
) -> None:
    """Record how far an import got on its row (and tell the caller)."""
    DncImport.objects.filter(pk=import_pk).update(
        bytes_read=progress.bytes_read,
        rows_read=progress.rows_read,
        valid=progress.valid,
        invalid=progress.invalid,
    )
    if on_progress is not None:
        on_progress(progress)


def import_failed(import_pk: int, exc: Exception, path: Path) -> DncImport:
    """Record that an import failed with `exc` and delete its uploaded file."""
    DncImport.objects.filter(pk=import_pk).update(
        status=ImportStatus.FAILED,
        error=f"{type(exc).__name__}: {exc}"[:2000],
        finished_at=timezone.now(),
        file_path="",
    )
    path.unlink(missing_ok=True)
    return DncImport.objects.get(pk=import_pk)


def import_done(
    import_pk: int,
    progress: importer.ImportProgress,
    *,
    added: int,
    duplicates: int,
    **extra: Any,
) -> None:
    """Record that an import finished, with its counts (and `extra` fields)."""
    DncImport.objects.filter(pk=import_pk).update(
        status=ImportStatus.DONE,
        bytes_read=progress.bytes_read,
        rows_read=progress.rows_read,
        valid=progress.valid,
        invalid=progress.invalid,
        added=added,
        duplicates=duplicates,
        errors=progress.errors,
        finished_at=timezone.now(),
        file_path="",
        **extra,
    )
