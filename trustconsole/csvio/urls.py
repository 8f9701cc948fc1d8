"""Browser URLs of CSV import and export."""

from __future__ import annotations

from django.urls import path

from trustconsole.csvio import views

app_name = "csvio"

urlpatterns = [
    path("csv/<str:kind>/import/", views.import_form, name="import_form"),
    path("csv/<str:kind>/export/", views.export, name="export"),
    path("csv/imports/<str:public_id>/", views.import_detail, name="import_detail"),
    path("csv/imports/<str:public_id>/apply/", views.import_apply, name="import_apply"),
    path(
        "csv/imports/<str:public_id>/errors/", views.import_errors, name="import_errors"
    ),
]
