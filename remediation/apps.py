"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class RemediationConfig(AppConfig):
    """Enterprises, monitored numbers and remediation requests."""

    name = "remediation"
    verbose_name = "Number reputation remediation"
