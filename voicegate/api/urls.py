"""API URLs of the voicegate app under /api/v1/."""

from __future__ import annotations

from django.urls import include, path

app_name = "voicegate_api"

urlpatterns: list = [
    path("voice/", include("voicegate.policy.api_urls")),
]
