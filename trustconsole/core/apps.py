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

        # Any change to an API token makes every process drop its cached tokens.
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from trustconsole.core.api.auth import token_cache
        from trustconsole.core.models import ApiToken

        def changed(sender: object, **kwargs: object) -> None:
            token_cache.clear()  # this process at once, the others within 1 s
            transaction.on_commit(token_cache.bump)

        post_save.connect(changed, sender=ApiToken, weak=False)
        post_delete.connect(changed, sender=ApiToken, weak=False)
