"""Browser URLs of the visitors app, and the chat widget gate."""

from __future__ import annotations

from django.urls import path

from visitors import shadow_views, views
from visitors.api.views import widget_messages_view

app_name = "visitors"

V = "security/visitors/<str:public_id>"

urlpatterns = [
    path("widget/v1/messages", widget_messages_view, name="widget_messages"),
    path("security/visitors/", views.visitor_list, name="visitor_list"),
    path(f"{V}/", views.visitor_detail, name="visitor_detail"),
    path(f"{V}/blacklist/", views.visitor_blacklist, name="visitor_blacklist"),
    path(f"{V}/whitelist/", views.visitor_whitelist, name="visitor_whitelist"),
    path(f"{V}/clear-status/", views.visitor_clear_status, name="visitor_clear_status"),
    path(
        f"{V}/shadow-blacklist/",
        shadow_views.visitor_shadow_blacklist,
        name="visitor_shadow_blacklist",
    ),
    path(f"{V}/merge/", views.visitor_merge, name="visitor_merge"),
    path(f"{V}/signals/", views.visitor_signal_add, name="visitor_signal_add"),
    path(
        f"{V}/identifiers/", views.visitor_identifier_add, name="visitor_identifier_add"
    ),
    path(
        f"{V}/identifiers/remove/",
        views.visitor_identifier_remove,
        name="visitor_identifier_remove",
    ),
    path(
        "security/signals/<str:public_id>/remove/",
        views.signal_remove,
        name="signal_remove",
    ),
    path("security/ip-blocks/", views.ip_block_list, name="ip_block_list"),
    path(
        "security/ip-blocks/<str:public_id>/remove/",
        views.ip_block_remove,
        name="ip_block_remove",
    ),
    path("security/weights/", views.signal_weights, name="signal_weights"),
    path("security/widgets/", views.widget_list, name="widget_list"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/bulk/", views.review_bulk, name="review_bulk"),
    path("review/<str:public_id>/act/", views.review_item_act, name="review_item_act"),
    path(
        "review/<str:public_id>/blacklist/",
        views.review_item_blacklist,
        name="review_item_blacklist",
    ),
    path("inbox/", views.inbox, name="inbox"),
    path(
        "inbox/<str:public_id>/", views.conversation_detail, name="conversation_detail"
    ),
    path(
        "inbox/<str:public_id>/blacklist/",
        views.conversation_blacklist,
        name="conversation_blacklist",
    ),
    path(
        "inbox/<str:public_id>/status/",
        views.conversation_status,
        name="conversation_status",
    ),
    path(
        "inbox/<str:public_id>/report/",
        views.conversation_report,
        name="conversation_report",
    ),
]
