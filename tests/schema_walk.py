"""Walking the OpenAPI schema with real objects: ids for path templates, and a
fingerprint of every table to prove a request changed nothing."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.apps import apps
from rest_framework.test import APIClient

PARAM = re.compile(r"\{(\w+)\}")

# Objects no list endpoint of their own path hands out: found in their table.
MODEL_FALLBACK = {
    "/api/v1/accounts/evidence/": "accounts.Evidence",
    "/api/v1/accounts/refunds/": "accounts.RefundRequest",
    "/api/v1/accounts/requests/": "accounts.ReassessmentRequest",
    "/api/v1/voice/dnc-imports/": "voicegate.DncImport",
    "/v2/enterprises/": "remediation.Enterprise",
}


def _first_item(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        for key in ("results", "data"):
            if isinstance(body.get(key), list):
                body = body[key]
                break
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return None


def _from_list(client: APIClient, prefix: str, param: str) -> str | None:
    for url in dict.fromkeys((prefix, prefix.rstrip("/"))):
        response = client.get(url)
        if response.status_code != 200:
            continue
        item = _first_item(response.json())
        if item is None:
            continue
        for key in (param, "id", "public_id"):
            if item.get(key) is not None:
                return str(item[key])
    return None


def _from_table(prefix: str, organisation_id: int) -> str | None:
    label = MODEL_FALLBACK.get(prefix)
    if label is None:
        return None
    model = apps.get_model(label)
    field = "organisation_id" if hasattr(model, "organisation_id") else None
    rows = model._base_manager.all()
    if field:
        rows = rows.filter(organisation_id=organisation_id)
    row = rows.order_by("pk").first()
    return str(row.public_id) if row is not None else None


def real_path_ids(
    client: APIClient, paths: list[str], organisation_id: int
) -> dict[str, dict[str, str]]:
    """Path template → {parameter: id of a real object of the organisation}.

    Each parameter is looked up in the list answered at the path before it (with
    the earlier parameters filled in), else in the table that path is about.
    Parameters nothing resolves are left to the generator.
    """
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        values: dict[str, str] = {}
        for match in PARAM.finditer(path):
            prefix = path[: match.start()]
            for name, value in values.items():
                prefix = prefix.replace(f"{{{name}}}", value)
            if PARAM.search(prefix):
                break  # an earlier parameter did not resolve
            param = match.group(1)
            value = _from_list(client, prefix, param) or _from_table(
                prefix, organisation_id
            )
            if value is None:
                break
            values[param] = value
        if values:
            found[path] = values
    return found


def fingerprint(*, ignore: dict[str, set[str]] | None = None) -> dict[str, str]:
    """Model label → hash of all its rows (every concrete column, by primary key)."""
    ignore = ignore or {}
    prints: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        label = model._meta.label
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if f.attname not in ignore.get(label, set())
        ]
        digest = hashlib.sha256()
        rows = model._base_manager.order_by("pk").values_list(*columns)
        count = 0
        for row in rows.iterator(chunk_size=2000):
            digest.update(repr(row).encode())
            count += 1
        prints[label] = f"{count}:{digest.hexdigest()[:16]}"
    return prints


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The labels of tables whose rows differ."""
    return sorted(label for label in before if before[label] != after.get(label))
