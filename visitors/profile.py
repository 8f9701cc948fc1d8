"""Sections other apps add to the visitor security profile.

    from visitors.profile import panel_register

    @panel_register
    def calls_panel(*, visitor, request):
        return "voicegate/partials/_visitor_calls.html", {"calls": ...}

A panel function returns (template name, context) or None to show nothing; the
profile page renders every registered panel in registration order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from visitors.models import Visitor

logger = logging.getLogger(__name__)

Panel = Callable[..., "tuple[str, dict[str, Any]] | None"]
_PANELS: list[Panel] = []


def panel_register(fn: Panel) -> Panel:
    """Add a panel to every visitor profile (registering twice changes nothing)."""
    if fn not in _PANELS:
        _PANELS.append(fn)
    return fn


def panel_unregister(fn: Panel) -> None:
    """Remove a panel (for tests)."""
    if fn in _PANELS:
        _PANELS.remove(fn)


def panels_render(*, visitor: Visitor, request: HttpRequest) -> list[SafeString]:
    """Every registered panel rendered for this visitor."""
    html = []
    for fn in list(_PANELS):
        result = fn(visitor=visitor, request=request)
        if result is None:
            continue
        template_name, context = result
        html.append(
            mark_safe(  # noqa: S308 - rendered by Django's autoescaping templates
                render_to_string(
                    template_name, {"visitor": visitor, **context}, request=request
                )
            )
        )
    return html
