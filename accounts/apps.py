"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Customer accounts: holds, restrictions, reassessment reviews, blocks."""

    name = "accounts"
    verbose_name = "Customer accounts"
