"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class VoicegateConfig(AppConfig):
    """Voice connections, the inbound call gate and the outbound policy check."""

    name = "voicegate"
    verbose_name = "Voice gate"

    def ready(self) -> None:
        from voicegate import panels, rules

        rules.register()
        panels.register()
