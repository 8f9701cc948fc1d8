"""API URLs of the visitors app under /api/v1/."""

from __future__ import annotations

app_name = "visitors_api"

urlpatterns: list = []
