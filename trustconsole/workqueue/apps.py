"""Work queues: who holds a queue item, escalations, internal notes."""

from __future__ import annotations

from django.apps import AppConfig


class WorkqueueConfig(AppConfig):
    """Configuration of the work-queue app (claims, escalations, notes)."""

    name = "trustconsole.workqueue"
    label = "workqueue"
    verbose_name = "Work queues"
