"""Core app: organisations, memberships, API tokens and the audit trail."""

from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Configuration of the core app."""

    name = "trustconsole.core"
    label = "core"
    verbose_name = "Core"
