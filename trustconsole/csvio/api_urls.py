"""API URLs of CSV import and export under /api/v1/."""

from __future__ import annotations

from django.urls import path

from trustconsole.csvio import api

app_name = "csvio_api"

urlpatterns = [
    path("imports/", api.CsvImportListApi.as_view(), name="import_list"),
    path(
        "imports/<str:public_id>/",
        api.CsvImportDetailApi.as_view(),
        name="import_detail",
    ),
    path(
        "imports/<str:public_id>/apply/",
        api.CsvImportApplyApi.as_view(),
        name="import_apply",
    ),
    path("exports/visitors/", api.VisitorExportApi.as_view(), name="export_visitors"),
    path(
        "exports/block-list/",
        api.BlockListExportApi.as_view(),
        name="export_block_list",
    ),
    path("exports/ip-blocks/", api.IPBlockExportApi.as_view(), name="export_ip_blocks"),
]
