"""Browser URLs of the core app."""

from __future__ import annotations

from django.urls import path

from trustconsole.core import search_views, views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("organisation/switch/", views.organisation_switch, name="organisation_switch"),
    path("settings/members/", views.members, name="members"),
    path(
        "settings/members/<str:public_id>/role/", views.member_role, name="member_role"
    ),
    path(
        "settings/members/<str:public_id>/unlock/",
        views.member_unlock,
        name="member_unlock",
    ),
    path(
        "settings/members/<str:public_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("settings/tokens/", views.tokens, name="tokens"),
    path(
        "settings/tokens/<str:public_id>/revoke/",
        views.token_revoke,
        name="token_revoke",
    ),
    path("settings/audit/", views.audit_log, name="audit_log"),
    path("search/", search_views.search_page, name="search"),
]
