"""API URLs of the accounts app under /api/v1/ (paths as the issue names them)."""

from __future__ import annotations

from django.urls import path

from accounts.api import views

app_name = "accounts_api"

urlpatterns = [
    path("accounts", views.AccountListApi.as_view(), name="account_list"),
    path("accounts/reviews", views.ReviewQueueApi.as_view(), name="review_queue"),
    path("accounts/feedback", views.FeedbackApi.as_view(), name="feedback"),
    path("accounts/settings", views.AccountSettingsApi.as_view(), name="settings"),
    path(
        "accounts/requests/<str:public_id>",
        views.RequestDetailApi.as_view(),
        name="request_detail",
    ),
    path(
        "accounts/requests/<str:public_id>/decision",
        views.RequestDecideApi.as_view(),
        name="request_decide",
    ),
    path(
        "accounts/requests/<str:public_id>/resume",
        views.RequestResumeApi.as_view(),
        name="request_resume",
    ),
    path(
        "accounts/requests/<str:public_id>/evidence",
        views.RequestEvidenceApi.as_view(),
        name="request_evidence",
    ),
    path(
        "accounts/evidence/<str:public_id>/file",
        views.EvidenceFileApi.as_view(),
        name="evidence_file",
    ),
    path(
        "accounts/refunds/<str:public_id>/outcome",
        views.RefundOutcomeApi.as_view(),
        name="refund_outcome",
    ),
    path("accounts/<str:public_id>", views.AccountDetailApi.as_view(), name="detail"),
    path(
        "accounts/<str:public_id>/status",
        views.AccountStatusApi.as_view(),
        name="status",
    ),
    path(
        "accounts/<str:public_id>/signals",
        views.AccountSignalsApi.as_view(),
        name="signals",
    ),
    path(
        "accounts/<str:public_id>/usage", views.AccountUsageApi.as_view(), name="usage"
    ),
    path(
        "accounts/<str:public_id>/numbers",
        views.AccountNumbersApi.as_view(),
        name="numbers",
    ),
    path(
        "accounts/<str:public_id>/restrict",
        views.AccountRestrictApi.as_view(),
        name="restrict",
    ),
    path("accounts/<str:public_id>/hold", views.AccountHoldApi.as_view(), name="hold"),
    path(
        "accounts/<str:public_id>/block", views.AccountBlockApi.as_view(), name="block"
    ),
    path(
        "accounts/<str:public_id>/requests",
        views.AccountRequestsApi.as_view(),
        name="requests",
    ),
    path(
        "accounts/<str:public_id>/port-away",
        views.PortAwayApi.as_view(),
        name="port_away",
    ),
    path(
        "accounts/<str:public_id>/refunds",
        views.AccountRefundsApi.as_view(),
        name="refunds",
    ),
]
