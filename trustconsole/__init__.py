"""trustconsole: self-hosted trust-and-safety console."""

from __future__ import annotations

from trustconsole.celery import app as celery_app

__all__ = ("celery_app",)
