"""Browser URLs of the visitors app."""

from __future__ import annotations

from django.urls import path

from visitors import views

app_name = "visitors"

urlpatterns = [
    path("security/visitors/", views.visitor_list, name="visitor_list"),
    path("review/", views.review_queue, name="review_queue"),
    path("inbox/", views.inbox, name="inbox"),
]
