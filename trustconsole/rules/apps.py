"""Rules as data: the app holding rules, their versions and hit counts."""

from __future__ import annotations

from django.apps import AppConfig


class RulesConfig(AppConfig):
    """Configuration of the rules app."""

    name = "trustconsole.rules"
    label = "rules"
    verbose_name = "Rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from trustconsole.rules.effects import RULE_SIGNAL
        from visitors.choices import SIGNAL_TYPE_LABELS

        SIGNAL_TYPE_LABELS.setdefault(RULE_SIGNAL, "Matched an organisation rule")
