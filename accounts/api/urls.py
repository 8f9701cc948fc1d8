"""API URLs of the accounts app under /api/v1/."""

from __future__ import annotations

app_name = "accounts_api"

urlpatterns: list = []
