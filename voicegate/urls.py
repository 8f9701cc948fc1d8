"""Browser URLs of Voice, and the providers' webhook address."""

from __future__ import annotations

from django.urls import include, path

from voicegate import views

app_name = "voicegate"

urlpatterns = [
    path("voice/", views.index, name="index"),
    path("voice/calls/", views.calls, name="calls"),
    path("voice/connections/", views.connections, name="connections"),
    path(
        "voice/connections/<str:public_id>/",
        views.connection_detail,
        name="connection_detail",
    ),
    path(
        "voice/connections/<str:public_id>/delete/",
        views.connection_delete,
        name="connection_delete",
    ),
    path("voice/block-list/", views.block_list, name="block_list"),
    path(
        "voice/block-list/<str:public_id>/remove/",
        views.block_remove,
        name="block_remove",
    ),
    path(
        "voice/block-list/<str:public_id>/mode/",
        views.block_mode,
        name="block_mode",
    ),
    path("voice/settings/", views.voice_settings, name="settings"),
    path("voice/policy/", include("voicegate.policy.urls")),
]
