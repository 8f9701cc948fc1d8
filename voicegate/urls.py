"""Browser URLs of the voicegate app."""

from __future__ import annotations

from django.urls import include, path

from voicegate import views

app_name = "voicegate"

urlpatterns = [
    path("voice/", views.index, name="index"),
    path("voice/policy/", include("voicegate.policy.urls")),
]
