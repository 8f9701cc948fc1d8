"""Browser URLs of the remediation app."""

from __future__ import annotations

from django.urls import path

from remediation import views

app_name = "remediation"

urlpatterns = [
    path("remediation/", views.index, name="index"),
]
