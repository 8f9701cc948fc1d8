"""Operator notifications app."""

from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Per-organisation notification settings, the checks and the sent list."""

    name = "notifications"
    verbose_name = "Notifications"
