"""The seed's paths under /v2/ (no trailing slashes, as the provider has them)."""

from __future__ import annotations

from django.urls import path, re_path

from remediation.api import v2
from remediation.middleware import v2_not_found

app_name = "remediation_v2"

BASE = "enterprises/<str:enterprise_id>/reputation/remediation"

urlpatterns = [
    path(BASE, v2.RemediationCollectionV2Api.as_view(), name="collection"),
    path(
        f"{BASE}/<str:remediation_id>",
        v2.RemediationDetailV2Api.as_view(),
        name="detail",
    ),
    path(
        f"{BASE}/<str:remediation_id>/actions/cancel",
        v2.RemediationCancelV2Api.as_view(),
        name="cancel",
    ),
    re_path(r"^.*$", v2_not_found, name="not_found"),
]
