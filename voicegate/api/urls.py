"""API URLs of the voicegate app under /api/v1/."""

from __future__ import annotations

app_name = "voicegate_api"

urlpatterns: list = []
