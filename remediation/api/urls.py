"""API URLs of the remediation app under /api/v1/."""

from __future__ import annotations

from django.urls import path

from remediation.api import monitoring, views

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
        "enterprises/<str:public_id>/reputation/",
        monitoring.EnterpriseReputationApi.as_view(),
        name="enterprise_reputation",
    ),
    path(
        "enterprises/<str:public_id>/reputation/frequency/",
        monitoring.EnterpriseReputationFrequencyApi.as_view(),
        name="enterprise_reputation_frequency",
    ),
    path(
        "enterprises/<str:public_id>/reputation/numbers/",
        monitoring.EnterpriseReputationNumbersApi.as_view(),
        name="enterprise_reputation_numbers",
    ),
    path(
        "enterprises/<str:public_id>/reputation/numbers/<str:e164>/",
        monitoring.EnterpriseReputationNumberApi.as_view(),
        name="enterprise_reputation_number",
    ),
    path(
        "enterprises/<str:public_id>/reputation/refresh/",
        monitoring.EnterpriseReputationRefreshApi.as_view(),
        name="enterprise_reputation_refresh",
    ),
    path(
        "remediation/settings/",
        views.RemediationSettingsApi.as_view(),
        name="settings",
    ),
    path(
        "remediation/settings/webhook-secret/rotate/",
        views.WebhookSecretRotateApi.as_view(),
        name="webhook_secret_rotate",
    ),
]
