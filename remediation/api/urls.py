"""API URLs of the remediation app under /api/v1/."""

from __future__ import annotations

from django.urls import path

from remediation.api import views

app_name = "remediation_api"

urlpatterns = [
    path("enterprises/", views.EnterpriseListApi.as_view(), name="enterprise_list"),
    path(
        "enterprises/<str:public_id>/",
        views.EnterpriseDetailApi.as_view(),
        name="enterprise_detail",
    ),
    path(
        "enterprises/<str:public_id>/numbers/",
        views.EnterpriseNumbersApi.as_view(),
        name="enterprise_numbers",
    ),
    path(
        "enterprises/<str:public_id>/numbers/<str:e164>/",
        views.EnterpriseNumberDetailApi.as_view(),
        name="enterprise_number",
    ),
    path(
        "remediation/settings/",
        views.RemediationSettingsApi.as_view(),
        name="settings",
    ),
]
