"""URLs of the notifications API under /api/v1/."""

from __future__ import annotations

from django.urls import path

from notifications.api import views

app_name = "notifications_api"

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="list"),
    path(
        "notifications/settings/",
        views.NotificationSettingsApi.as_view(),
        name="settings",
    ),
]
