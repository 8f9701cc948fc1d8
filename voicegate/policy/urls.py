"""Browser URLs of Voice → Policy, included under /voice/policy/ in the voicegate
namespace (no app_name of its own), e.g. `voicegate:policy`."""

from __future__ import annotations

from django.urls import path

from voicegate.policy import views

urlpatterns = [
    path("", views.overview, name="policy"),
    path("lists/new/", views.dnc_list_create, name="policy_dnc_list_create"),
    path("lists/<str:public_id>/", views.dnc_list_detail, name="policy_dnc_list"),
    path(
        "lists/<str:public_id>/add/",
        views.dnc_number_add,
        name="policy_dnc_number_add",
    ),
    path(
        "lists/<str:public_id>/remove/",
        views.dnc_number_remove,
        name="policy_dnc_number_remove",
    ),
    path(
        "lists/<str:public_id>/import/",
        views.dnc_import_start,
        name="policy_dnc_import",
    ),
    path(
        "lists/<str:public_id>/export.csv",
        views.dnc_export,
        name="policy_dnc_export",
    ),
    path(
        "lists/<str:public_id>/empty/",
        views.dnc_list_empty,
        name="policy_dnc_list_empty",
    ),
    path(
        "lists/<str:public_id>/delete/",
        views.dnc_list_delete,
        name="policy_dnc_list_delete",
    ),
    path("imports/<str:public_id>/", views.dnc_import_detail, name="policy_import"),
    path("caller-ids/", views.caller_ids, name="policy_caller_ids"),
    path(
        "caller-ids/<str:public_id>/remove/",
        views.caller_id_remove,
        name="policy_caller_id_remove",
    ),
    path("consent/", views.consents, name="policy_consents"),
    path(
        "consent/<str:public_id>/remove/",
        views.consent_remove,
        name="policy_consent_remove",
    ),
    path("denials/", views.denials, name="policy_denials"),
    path("settings/", views.policy_settings, name="policy_settings"),
]
