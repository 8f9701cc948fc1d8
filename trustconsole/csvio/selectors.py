"""Reads of CSV imports, scoped to the actor's organisation."""

from __future__ import annotations

from django.db.models import QuerySet

from trustconsole.core.actor import Actor
from trustconsole.core.selectors import scoped_get
from trustconsole.csvio.models import CsvImport


def import_list(*, actor: Actor, kind: str = "") -> QuerySet[CsvImport]:
    """The organisation's imports, newest first (without their files)."""
    qs = CsvImport.objects.filter(organisation=actor.organisation).defer("content")
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def import_get(*, actor: Actor, public_id: object) -> CsvImport:
    """One import of the actor's organisation (404 otherwise)."""
    return scoped_get(CsvImport.objects.all(), actor=actor, public_id=public_id)
