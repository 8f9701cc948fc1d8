"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class VisitorsConfig(AppConfig):
    """Visitors, trust score, blacklist, review queue, inbox and the chat gate."""

    name = "visitors"
    verbose_name = "Visitors"

    def ready(self) -> None:
        from visitors import receivers, widget_rules  # noqa: F401
