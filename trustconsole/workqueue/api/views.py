"""Work-queue API: claim, release, assign, escalate, Next item; internal notes."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from trustconsole.core.api.views import ActorAPIView
from trustconsole.core.choices import Role
from trustconsole.workqueue import selectors, services
from trustconsole.workqueue.api import serializers as s
from trustconsole.workqueue.models import Note
from trustconsole.workqueue.queues import (
    NOTE_TARGETS,
    QUEUES,
    note_target_get,
    queue_get,
)

QUEUE_PARAM = OpenApiParameter(
    "queue", str, location=OpenApiParameter.PATH, enum=sorted(QUEUES)
)
KIND_PARAM = OpenApiParameter(
    "kind", str, location=OpenApiParameter.PATH, enum=sorted(NOTE_TARGETS)
)


class _QueueApi(ActorAPIView):
    """Members read; operators (visitor queue) and support (account queue) act."""

    write_roles: tuple[str, ...] = (Role.OPERATOR, Role.SUPPORT)

    def item(self, queue: str, public_id: str) -> tuple[Any, Any]:
        q = queue_get(queue)
        return q, q.get_item(self.actor, public_id)

    def answer(self, queue: str, item: Any) -> Response:
        data = s.assignment_data(
            queue=queue, item=item, assignment=selectors.assignment_of(item)
        )
        return Response(s.AssignmentOutput(data).data)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueItemApi(_QueueApi):
    """Who holds a queue item and where it was escalated."""

    @extend_schema(operation_id="queues_item_read", responses=s.AssignmentOutput)
    def get(self, request: Request, queue: str, public_id: str) -> Response:
        _, item = self.item(queue, public_id)
        return self.answer(queue, item)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueItemClaimApi(_QueueApi):
    """Claim the item for the calling member (a token names no person: 400)."""

    @extend_schema(
        operation_id="queues_item_claim", request=None, responses=s.AssignmentOutput
    )
    def post(self, request: Request, queue: str, public_id: str) -> Response:
        _, item = self.item(queue, public_id)
        services.item_claim(actor=self.actor, item=item)
        return self.answer(queue, item)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueItemReleaseApi(_QueueApi):
    """Give the item back to the queue (its holder, or an admin)."""

    @extend_schema(
        operation_id="queues_item_release",
        request=s.ReleaseInput,
        responses=s.AssignmentOutput,
    )
    def post(self, request: Request, queue: str, public_id: str) -> Response:
        _, item = self.item(queue, public_id)
        data = s.ReleaseInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.item_release(actor=self.actor, item=item, **data.validated_data)
        return self.answer(queue, item)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueItemAssignApi(_QueueApi):
    """Hand the item to a member who works the queue (admins)."""

    write_roles: tuple[str, ...] = ()

    @extend_schema(
        operation_id="queues_item_assign",
        request=s.AssignInput,
        responses=s.AssignmentOutput,
    )
    def post(self, request: Request, queue: str, public_id: str) -> Response:
        _, item = self.item(queue, public_id)
        data = s.AssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.member_by_email(
            actor=self.actor, email=data.validated_data["assignee"]
        )
        services.item_assign(
            actor=self.actor,
            item=item,
            assignee=user,
            reason=data.validated_data["reason"],
        )
        return self.answer(queue, item)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueItemEscalateApi(_QueueApi):
    """Escalate to a named colleague (who then holds it) or to a role."""

    @extend_schema(
        operation_id="queues_item_escalate",
        request=s.EscalateInput,
        responses=s.AssignmentOutput,
    )
    def post(self, request: Request, queue: str, public_id: str) -> Response:
        _, item = self.item(queue, public_id)
        data = s.EscalateInput(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["to_user"]
        user = (
            services.member_by_email(actor=self.actor, email=email) if email else None
        )
        services.item_escalate(
            actor=self.actor,
            item=item,
            to_user=user,
            to_role=data.validated_data["to_role"],
            reason=data.validated_data["reason"],
        )
        return self.answer(queue, item)


@extend_schema(parameters=[QUEUE_PARAM])
class QueueNextApi(_QueueApi):
    """Next item: claim the oldest unclaimed item (404 when none waits)."""

    @extend_schema(operation_id="queues_next", request=None, responses=s.NextOutput)
    def post(self, request: Request, queue: str) -> Response:
        q = queue_get(queue)
        item = services.item_next(actor=self.actor, queue=q)
        if item is None:
            raise Http404("Nothing is waiting unclaimed.")
        return self.answer(queue, item)


@extend_schema(parameters=[KIND_PARAM])
class NoteListApi(_QueueApi):
    """Internal notes of a queue item, a visitor or an account: list and add."""

    @extend_schema(operation_id="notes_list", responses=s.NoteOutput(many=True))
    def get(self, request: Request, kind: str, public_id: str) -> Response:
        target = note_target_get(kind).get(self.actor, public_id)
        notes = Note.objects.filter(
            content_type=ContentType.objects.get_for_model(target),
            object_id=target.pk,
        ).order_by("-created_at", "-id")
        return self.paginate(notes, s.NoteOutput)

    @extend_schema(
        operation_id="notes_add", request=s.NoteInput, responses={201: s.NoteOutput}
    )
    def post(self, request: Request, kind: str, public_id: str) -> Response:
        target = note_target_get(kind).get(self.actor, public_id)
        data = s.NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_add(actor=self.actor, target=target, **data.validated_data)
        return Response(s.NoteOutput(note).data, status=status.HTTP_201_CREATED)


class NoteDetailApi(_QueueApi):
    """One internal note: read it; its author edits it (PATCH; others 403)."""

    @extend_schema(operation_id="notes_read", responses=s.NoteOutput)
    def get(self, request: Request, public_id: str) -> Response:
        note = selectors.note_get(actor=self.actor, public_id=public_id)
        return Response(s.NoteOutput(note).data)

    @extend_schema(
        operation_id="notes_edit", request=s.NoteInput, responses=s.NoteOutput
    )
    def patch(self, request: Request, public_id: str) -> Response:
        note = selectors.note_get(actor=self.actor, public_id=public_id)
        data = s.NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = services.note_edit(actor=self.actor, note=note, **data.validated_data)
        return Response(s.NoteOutput(note).data)
