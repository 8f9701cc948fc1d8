"""Browser URLs of the voicegate app."""

from __future__ import annotations

from django.urls import path

from voicegate import views

app_name = "voicegate"

urlpatterns = [
    path("voice/", views.index, name="index"),
]
