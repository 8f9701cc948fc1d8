"""Voice API URLs under /api/v1/."""

from __future__ import annotations

from django.urls import include, path

from voicegate.api import views

app_name = "voicegate_api"

urlpatterns = [
    path("voice/decide", views.VoiceDecideApi.as_view(), name="decide"),
    path(
        "voice/connections", views.VoiceConnectionListApi.as_view(), name="connections"
    ),
    path(
        "voice/connections/<str:public_id>",
        views.VoiceConnectionDetailApi.as_view(),
        name="connection_detail",
    ),
    path(
        "voice/blocked-numbers",
        views.BlockedNumberListApi.as_view(),
        name="blocked_numbers",
    ),
    path(
        "voice/blocked-numbers/<str:public_id>",
        views.BlockedNumberDetailApi.as_view(),
        name="blocked_number_detail",
    ),
    path("voice/calls", views.CallDecisionListApi.as_view(), name="calls"),
    path(
        "voice/calls/<str:decision_id>",
        views.CallDecisionDetailApi.as_view(),
        name="call_detail",
    ),
    path("voice/settings", views.VoiceSettingsApi.as_view(), name="settings"),
    path("voice/", include("voicegate.policy.api.urls")),
]
