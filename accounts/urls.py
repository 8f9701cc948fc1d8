"""Browser URLs of the accounts app."""

from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/", views.index, name="index"),
    path("accounts/reviews/", views.review_queue, name="review_queue"),
    path("accounts/settings/", views.account_settings, name="settings"),
    path(
        "accounts/requests/<str:public_id>/",
        views.request_detail,
        name="request_detail",
    ),
    path(
        "accounts/evidence/<str:public_id>/",
        views.evidence_file,
        name="evidence_file",
    ),
    path(
        "accounts/refunds/<str:public_id>/outcome/",
        views.refund_outcome,
        name="refund_outcome",
    ),
    path("accounts/<str:public_id>/", views.account_detail, name="account_detail"),
    path(
        "accounts/<str:public_id>/restrict/",
        views.account_restrict,
        name="account_restrict",
    ),
    path("accounts/<str:public_id>/block/", views.account_block, name="account_block"),
    path(
        "accounts/<str:public_id>/restore/",
        views.account_restore,
        name="account_restore",
    ),
    path(
        "accounts/<str:public_id>/numbers/",
        views.account_numbers_add,
        name="account_numbers_add",
    ),
    path(
        "accounts/<str:public_id>/numbers/remove/",
        views.account_number_remove,
        name="account_number_remove",
    ),
    path(
        "accounts/<str:public_id>/feedback/",
        views.feedback_record,
        name="feedback_record",
    ),
    path(
        "accounts/<str:public_id>/port-away/",
        views.port_away_grant,
        name="port_away_grant",
    ),
    path(
        "accounts/<str:public_id>/refunds/", views.refund_create, name="refund_create"
    ),
    path(
        "accounts/<str:public_id>/requests/new/",
        views.request_create,
        name="request_create",
    ),
]
