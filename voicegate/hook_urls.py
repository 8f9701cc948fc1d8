"""The providers' webhook address, resolved before every other URL (hot path)."""

from __future__ import annotations

from django.urls import path

from voicegate import webhooks

app_name = "voicegate_hooks"

urlpatterns = [
    path("<str:token>/", webhooks.voice_hook, name="hook"),
]
