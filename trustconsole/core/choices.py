"""Choices of the core app."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    """What a member or token may do in its organisation."""

    ADMIN = "admin", "Admin"
    OPERATOR = "operator", "Operator"
    SUPPORT = "support", "Support"
    VIEWER = "viewer", "Viewer"
