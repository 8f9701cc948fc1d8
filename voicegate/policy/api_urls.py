"""API URLs of the outbound policy check, included under /api/v1/voice/."""

from __future__ import annotations

from django.urls import path

from voicegate.policy import api

urlpatterns = [
    path("outbound-check", api.OutboundCheckApi.as_view(), name="outbound_check"),
    path("dnc-lists", api.DncListsApi.as_view(), name="dnc_lists"),
    path(
        "dnc-lists/<str:public_id>",
        api.DncListDetailApi.as_view(),
        name="dnc_list_detail",
    ),
    path(
        "dnc-lists/<str:public_id>/empty",
        api.DncListEmptyApi.as_view(),
        name="dnc_list_empty",
    ),
    path(
        "dnc-lists/<str:public_id>/entries",
        api.DncEntriesApi.as_view(),
        name="dnc_entries",
    ),
    path(
        "dnc-lists/<str:public_id>/entries/<str:number>",
        api.DncEntryDeleteApi.as_view(),
        name="dnc_entry_delete",
    ),
    path(
        "dnc-lists/<str:public_id>/imports",
        api.DncImportsApi.as_view(),
        name="dnc_imports",
    ),
    path(
        "dnc-lists/<str:public_id>/export",
        api.DncExportApi.as_view(),
        name="dnc_export",
    ),
    path(
        "dnc-imports/<str:public_id>",
        api.DncImportDetailApi.as_view(),
        name="dnc_import_detail",
    ),
    path("caller-ids", api.CallerIdsApi.as_view(), name="caller_ids"),
    path(
        "caller-ids/<str:public_id>",
        api.CallerIdDetailApi.as_view(),
        name="caller_id_detail",
    ),
    path("consents", api.ConsentsApi.as_view(), name="consents"),
    path(
        "consents/<str:public_id>",
        api.ConsentDetailApi.as_view(),
        name="consent_detail",
    ),
    path("denials", api.DenialsApi.as_view(), name="denials"),
    path("denials/by-account", api.DenialCountsApi.as_view(), name="denial_counts"),
    path("denials/<str:public_id>", api.DenialDetailApi.as_view(), name="denial"),
    path("policy-settings", api.PolicySettingsApi.as_view(), name="policy_settings"),
]
