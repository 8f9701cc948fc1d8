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

        from django.db.models.signals import post_save

        from trustconsole.core.models import Organisation

        post_save.connect(
            _defaults_for_new, sender=Organisation, dispatch_uid="rules-defaults"
        )


def _defaults_for_new(
    sender: object,
    instance: object,
    created: bool,  # noqa: FBT001 - the signal's own argument
    **_: object,
) -> None:
    """Every new organisation starts with the default rule set."""
    if created and not getattr(instance, "_skip_default_rules", False):
        from trustconsole.rules.defaults import default_rules_ensure

        default_rules_ensure(instance)
