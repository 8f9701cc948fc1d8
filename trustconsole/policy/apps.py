"""The decision core: one verdict for chat, inbound and outbound calls, accounts."""

from __future__ import annotations

from django.apps import AppConfig


class PolicyConfig(AppConfig):
    """Configuration of the decision core (its change log table)."""

    name = "trustconsole.policy"
    label = "policy"
    verbose_name = "Decision core"
    default_auto_field = "django.db.models.BigAutoField"
