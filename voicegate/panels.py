"""The "Calls" panel on a visitor's security profile."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from voicegate.models import CallDecision

PANEL_SIZE = 20


def calls_panel(*, visitor: Any, request: HttpRequest) -> tuple[str, dict[str, Any]]:
    """The visitor's latest calls through the gate, as the call log holds them (a
    read: the beat flusher stores logged decisions every second)."""
    rows = CallDecision.objects.filter(
        organisation_id=visitor.organisation_id, visitor_id=visitor.pk
    ).select_related("connection")
    return "voicegate/partials/_visitor_calls.html", {
        "calls": list(rows[:PANEL_SIZE]),
        "calls_total": rows.count(),
        "calls_rejected": rows.filter(decision="reject").count(),
        "visitor": visitor,
    }


def register() -> None:
    """Add the panel to every visitor profile."""
    from visitors.profile import panel_register

    panel_register(calls_panel)
