"""API URLs of the remediation app under /api/v1/."""

from __future__ import annotations

app_name = "remediation_api"

urlpatterns: list = []
