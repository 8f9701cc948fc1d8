"""Browser URLs of the accounts app."""

from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/", views.index, name="index"),
]
