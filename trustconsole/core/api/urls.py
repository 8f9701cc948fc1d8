"""URLs of the core API under /api/v1/."""

from __future__ import annotations

from django.urls import path

from trustconsole.core.api import search, views

app_name = "core_api"

urlpatterns = [
    path("me/", views.MeApi.as_view(), name="me"),
    path("members/", views.MembershipListApi.as_view(), name="membership_list"),
    path(
        "members/<str:public_id>/",
        views.MembershipDetailApi.as_view(),
        name="membership_detail",
    ),
    path("tokens/", views.TokenListApi.as_view(), name="token_list"),
    path(
        "tokens/<str:public_id>/", views.TokenDetailApi.as_view(), name="token_detail"
    ),
    path("dashboard/", views.DashboardApi.as_view(), name="dashboard"),
    path("search/", search.SearchApi.as_view(), name="search"),
    path("audit/", views.AuditListApi.as_view(), name="audit_list"),
    path("audit/<str:public_id>/", views.AuditDetailApi.as_view(), name="audit_detail"),
]
