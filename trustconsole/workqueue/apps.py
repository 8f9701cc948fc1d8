"""Work queues: who holds a queue item, escalations, internal notes."""

from __future__ import annotations

from django.apps import AppConfig


class WorkqueueConfig(AppConfig):
    """Configuration of the work-queue app (claims, escalations, notes)."""

    name = "trustconsole.workqueue"
    label = "workqueue"
    verbose_name = "Work queues"

    def ready(self) -> None:
        # Notes on every visitor profile (the profile's panel registry).
        from trustconsole.workqueue.panels import visitor_notes_panel
        from visitors.profile import panel_register

        panel_register(visitor_notes_panel)
