"""Browser URLs of the notifications app."""

from __future__ import annotations

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("settings/notifications/", views.settings_index, name="settings"),
    path("settings/notifications/sent/", views.notification_list, name="list"),
    path("notifications/", views.mine, name="mine"),
    path("notifications/read/", views.mark_all_read, name="mark_all_read"),
    path(
        "notifications/<str:public_id>/open/",
        views.notification_open,
        name="open",
    ),
]
