"""Browser URLs of the notifications app."""

from __future__ import annotations

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("settings/notifications/", views.settings_index, name="settings"),
    path("settings/notifications/sent/", views.notification_list, name="list"),
]
