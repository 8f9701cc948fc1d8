"""Evidence of a reassessment request: what is accepted (checked against the
content, not the name) and how it is stored."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from accounts.choices import EvidenceKind
from accounts.models import Evidence, ReassessmentRequest
from accounts.services.common import clean_url

EVIDENCE_TYPES: dict[str, tuple[bytes, tuple[str, ...], bytes | None]] = {
    # content type: (magic bytes, allowed extensions) — checked against the content.
    "application/pdf": (b"%PDF-", (".pdf",), None),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",), None),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg"), None),
    "image/gif": (b"GIF8", (".gif",), None),
    "image/webp": (b"RIFF", (".webp",), b"WEBP"),
}


@dataclass
class EvidenceInput:
    """One evidence item as submitted: an uploaded file or a link, with its kind."""

    kind: str
    file: UploadedFile | None = None
    url: str = ""


def _sniff(upload: UploadedFile) -> str | None:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    ext = PurePath(upload.name or "").suffix.lower()
    for content_type, (magic, extensions, extra) in EVIDENCE_TYPES.items():
        if head.startswith(magic) and (extra is None or head[8:12] == extra):
            return content_type if ext in extensions else None
    return None


def evidence_validate(items: Sequence[EvidenceInput]) -> dict[str, str]:
    errors: dict[str, str] = {}
    limit = settings.ACCOUNTS_EVIDENCE_MAX_BYTES
    for index, item in enumerate(items):
        key = f"evidence.{index}"
        if item.kind not in EvidenceKind.values:
            errors[f"{key}.kind"] = (
                f"Unknown evidence kind {item.kind!r}; choose from "
                f"{', '.join(EvidenceKind.values)}."
            )
        if bool(item.file) == bool(item.url):
            errors[key] = "Give either a file or a link."
            continue
        if item.file:
            size = item.file.size or 0
            if size > limit:
                errors[f"{key}.file"] = (
                    f"{item.file.name} is {item.file.size} bytes; the limit is "
                    f"{limit} bytes."
                )
            elif size == 0:
                errors[f"{key}.file"] = f"{item.file.name} is empty."
            elif _sniff(item.file) is None:
                errors[f"{key}.file"] = (
                    f"{item.file.name} is not an accepted file: upload a PDF or an "
                    "image (PNG, JPEG, GIF, WebP) whose name ends in its type."
                )
        else:
            try:
                clean_url(item.url, "url", required=True)
            except ValidationError as exc:
                errors[f"{key}.url"] = exc.message_dict["url"][0]
    return errors


def evidence_save(*, request: ReassessmentRequest, item: EvidenceInput) -> Evidence:
    evidence = Evidence(
        organisation=request.organisation, request=request, kind=item.kind
    )
    if item.file:
        content_type = _sniff(item.file) or "application/octet-stream"
        ext = EVIDENCE_TYPES[content_type][1][0]
        evidence.original_name = PurePath(item.file.name or "upload").name[:255]
        evidence.content_type = content_type
        evidence.size = item.file.size or 0
        # A random name: nothing the customer sent ends up in a path.
        name = f"evidence/{request.organisation.public_id}/{uuid.uuid4().hex}{ext}"
        evidence.file.save(name, item.file, save=False)
    else:
        evidence.url = item.url.strip()
    evidence.full_clean()
    evidence.save()
    return evidence
