"""Private storage for evidence uploads: outside the web root, never given a URL."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateEvidenceStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT; served only by a view that checks the actor."""

    # Read the setting on every use so that tests (and settings overrides) apply.
    @property
    def base_location(self) -> str:  # type: ignore[override]
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:  # type: ignore[override]
        return str(Path(self.base_location).resolve())

    @property
    def base_url(self) -> None:  # type: ignore[override]
        return None

    def url(self, name: str | None) -> str:
        raise ValueError("Evidence files have no public URL.")


private_storage = PrivateEvidenceStorage()


def evidence_storage() -> PrivateEvidenceStorage:
    """The storage of evidence files (a callable keeps it out of migrations)."""
    return private_storage
