"""API URLs of the visitors app under /api/v1/."""

from __future__ import annotations

from django.urls import path

from visitors.api import views

app_name = "visitors_api"

urlpatterns = [
    path("visitors/", views.VisitorListApi.as_view(), name="visitor_list"),
    path(
        "visitors/<str:public_id>/",
        views.VisitorDetailApi.as_view(),
        name="visitor_detail",
    ),
    path(
        "visitors/<str:public_id>/blacklist/",
        views.VisitorBlacklistApi.as_view(),
        name="visitor_blacklist",
    ),
    path(
        "visitors/<str:public_id>/whitelist/",
        views.VisitorWhitelistApi.as_view(),
        name="visitor_whitelist",
    ),
    path(
        "visitors/<str:public_id>/shadow-blacklist/",
        views.VisitorShadowBlacklistApi.as_view(),
        name="visitor_shadow_blacklist",
    ),
    path(
        "visitors/<str:public_id>/shadow-blacklist/clear/",
        views.VisitorShadowClearApi.as_view(),
        name="visitor_shadow_clear",
    ),
    path(
        "visitors/<str:public_id>/clear-status/",
        views.VisitorClearStatusApi.as_view(),
        name="visitor_clear_status",
    ),
    path(
        "visitors/<str:public_id>/merge/",
        views.VisitorMergeApi.as_view(),
        name="visitor_merge",
    ),
    path(
        "visitors/<str:public_id>/signals/",
        views.VisitorSignalListApi.as_view(),
        name="visitor_signals",
    ),
    path(
        "visitors/<str:public_id>/events/",
        views.VisitorEventApi.as_view(),
        name="visitor_events",
    ),
    path(
        "signals/<str:public_id>/",
        views.RiskSignalDetailApi.as_view(),
        name="signal_detail",
    ),
    path("signal-weights/", views.SignalWeightApi.as_view(), name="signal_weights"),
    path("review-queue/", views.ReviewQueueApi.as_view(), name="review_queue"),
    path("review-queue/bulk/", views.ReviewItemBulkApi.as_view(), name="review_bulk"),
    path(
        "review-queue/<str:public_id>/",
        views.ReviewItemDetailApi.as_view(),
        name="review_item_detail",
    ),
    path(
        "review-queue/<str:public_id>/actions/",
        views.ReviewItemActionApi.as_view(),
        name="review_item_act",
    ),
    path("ip-blocks/", views.IPBlockListApi.as_view(), name="ip_block_list"),
    path(
        "ip-blocks/<str:public_id>/",
        views.IPBlockDetailApi.as_view(),
        name="ip_block_detail",
    ),
]
