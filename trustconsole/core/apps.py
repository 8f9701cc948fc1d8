"""Core app: organisations, memberships, API tokens and the audit trail."""

from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Configuration of the core app."""

    name = "trustconsole.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Each app's audit sentences and field labels (its `audit_text` module).
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("audit_text")
