"""Browser URLs of the shared queues and internal notes."""

from __future__ import annotations

from django.urls import path

from trustconsole.workqueue import views

app_name = "workqueue"

Q = "queues/<str:queue>/items/<str:public_id>"

urlpatterns = [
    path("queues/<str:queue>/next/", views.item_next, name="item_next"),
    path(f"{Q}/claim/", views.item_claim, name="item_claim"),
    path(f"{Q}/release/", views.item_release, name="item_release"),
    path(f"{Q}/assign/", views.item_assign, name="item_assign"),
    path(f"{Q}/escalate/", views.item_escalate, name="item_escalate"),
    # Before note_add, whose two path segments "<id>/edit" would also match.
    path("notes/<str:public_id>/edit/", views.note_edit, name="note_edit"),
    path("notes/<str:kind>/<str:public_id>/", views.note_add, name="note_add"),
]
