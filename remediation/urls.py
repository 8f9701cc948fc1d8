"""Browser URLs of the remediation app."""

from __future__ import annotations

from django.urls import path

from remediation import views

app_name = "remediation"

urlpatterns = [
    path("remediation/", views.index, name="index"),
    path("remediation/submit/", views.request_create, name="request_create"),
    path("remediation/requests/", views.request_list, name="request_list"),
    path(
        "remediation/requests/<str:public_id>/",
        views.request_detail,
        name="request_detail",
    ),
    path(
        "remediation/requests/<str:public_id>/cancel/",
        views.request_cancel,
        name="request_cancel",
    ),
    path("remediation/refresh/", views.reputation_refresh, name="reputation_refresh"),
    path(
        "remediation/enterprises/<str:public_id>/numbers/<str:e164>/",
        views.number_detail,
        name="number_detail",
    ),
    path("settings/remediation/", views.settings_index, name="settings"),
    path(
        "settings/remediation/enterprises/<str:public_id>/",
        views.enterprise_detail,
        name="enterprise",
    ),
    path(
        "settings/remediation/enterprises/<str:public_id>/numbers/<str:e164>/",
        views.number_change,
        name="number_change",
    ),
]
