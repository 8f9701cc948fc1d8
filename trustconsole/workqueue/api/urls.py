"""API URLs of the shared queues and internal notes under /api/v1/."""

from __future__ import annotations

from django.urls import path

from trustconsole.workqueue.api import views

app_name = "workqueue_api"

Q = "queues/<str:queue>/items/<str:public_id>"

urlpatterns = [
    path("queues/<str:queue>/next/", views.QueueNextApi.as_view(), name="next"),
    path(f"{Q}/", views.QueueItemApi.as_view(), name="item"),
    path(f"{Q}/claim/", views.QueueItemClaimApi.as_view(), name="item_claim"),
    path(f"{Q}/release/", views.QueueItemReleaseApi.as_view(), name="item_release"),
    path(f"{Q}/assign/", views.QueueItemAssignApi.as_view(), name="item_assign"),
    path(f"{Q}/escalate/", views.QueueItemEscalateApi.as_view(), name="item_escalate"),
    path(
        "notes/<str:kind>/<str:public_id>/", views.NoteListApi.as_view(), name="notes"
    ),
    path("notes/<str:public_id>/", views.NoteDetailApi.as_view(), name="note"),
]
