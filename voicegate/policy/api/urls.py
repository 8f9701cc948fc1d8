"""API URLs of the outbound policy check, included under /api/v1/voice/."""

from __future__ import annotations

from django.urls import path

from voicegate.policy.api import views

urlpatterns = [
    path("outbound-check", views.outbound_check_view, name="outbound_check"),
    path("dnc-lists", views.DncListsApi.as_view(), name="dnc_lists"),
    path(
        "dnc-lists/<str:public_id>",
        views.DncListDetailApi.as_view(),
        name="dnc_list_detail",
    ),
    path(
        "dnc-lists/<str:public_id>/empty",
        views.DncListEmptyApi.as_view(),
        name="dnc_list_empty",
    ),
    path(
        "dnc-lists/<str:public_id>/entries",
        views.DncEntriesApi.as_view(),
        name="dnc_entries",
    ),
    path(
        "dnc-lists/<str:public_id>/entries/<str:number>",
        views.DncEntryDeleteApi.as_view(),
        name="dnc_entry_delete",
    ),
    path(
        "dnc-lists/<str:public_id>/imports",
        views.DncImportsApi.as_view(),
        name="dnc_imports",
    ),
    path(
        "dnc-lists/<str:public_id>/export",
        views.DncExportApi.as_view(),
        name="dnc_export",
    ),
    path(
        "dnc-imports/<str:public_id>",
        views.DncImportDetailApi.as_view(),
        name="dnc_import_detail",
    ),
    path("caller-ids", views.CallerIdsApi.as_view(), name="caller_ids"),
    path(
        "caller-ids/<str:public_id>",
        views.CallerIdDetailApi.as_view(),
        name="caller_id_detail",
    ),
    path("consents", views.ConsentsApi.as_view(), name="consents"),
    path(
        "consents/<str:public_id>",
        views.ConsentDetailApi.as_view(),
        name="consent_detail",
    ),
    path("denials", views.DenialsApi.as_view(), name="denials"),
    path("denials/by-account", views.DenialCountsApi.as_view(), name="denial_counts"),
    path("denials/<str:public_id>", views.DenialDetailApi.as_view(), name="denial"),
    path("policy-settings", views.PolicySettingsApi.as_view(), name="policy_settings"),
]
