"""Voice API: decisions for PBXs, connections, block list, call log, settings."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from trustconsole.core.api.views import ActorAPIView, ReasonSerializer
from trustconsole.core.choices import Role
from voicegate import decide_api, gate, selectors, services
from voicegate.api import serializers as s
from voicegate.views import webhook_url


class VoiceDecideApi(ActorAPIView):
    """Decide on one inbound call: `{action: reject|allow, reason, visitor}`.

    A decision is a write: it logs the call and counts the caller (repeated calls
    become a risk signal), so it needs an operator or admin token (PBXs use a
    generic connection's shared token); viewers get 403.
    """

    write_roles = (Role.OPERATOR,)

    @extend_schema(request=s.VoiceDecideInput, responses=s.VoiceDecideOutput)
    def post(self, request: Request) -> JsonResponse:
        started_us = gate.now_us()
        organisation_id = self.actor.organisation.pk
        return decide_api.respond(
            raw=request.data,
            ctx=gate.context_for_org(organisation_id),
            connection_id=None,
            started_us=started_us,
            refresh=lambda: gate.context_for_org(organisation_id, fresh=True),
        )


def _connection_context(request: Request) -> dict[str, Any]:
    return {"webhook_url": lambda c: webhook_url(request._request, c)}


class VoiceConnectionListApi(ActorAPIView):
    """Connections of the organisation; admins add them."""

    @extend_schema(responses=s.VoiceConnectionOutput(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.connection_list(actor=self.actor)
        data = s.VoiceConnectionOutput(
            rows, many=True, context=_connection_context(request)
        ).data
        return Response({"count": len(data), "results": data})

    @extend_schema(
        request=s.VoiceConnectionCreateInput, responses={201: s.VoiceConnectionOutput}
    )
    def post(self, request: Request) -> Response:
        data = s.VoiceConnectionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.connection_create(actor=self.actor, **data.validated_data)
        return Response(
            s.VoiceConnectionOutput(
                connection, context=_connection_context(request)
            ).data,
            status=status.HTTP_201_CREATED,
        )


class VoiceConnectionDetailApi(ActorAPIView):
    """One connection: read, change or remove (admins)."""

    @extend_schema(responses=s.VoiceConnectionOutput)
    def get(self, request: Request, public_id: str) -> Response:
        connection = selectors.connection_get(actor=self.actor, public_id=public_id)
        return Response(
            s.VoiceConnectionOutput(
                connection, context=_connection_context(request)
            ).data
        )

    @extend_schema(
        request=s.VoiceConnectionUpdateInput, responses=s.VoiceConnectionOutput
    )
    def patch(self, request: Request, public_id: str) -> Response:
        connection = selectors.connection_get(actor=self.actor, public_id=public_id)
        data = s.VoiceConnectionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        connection = services.connection_update(
            actor=self.actor, connection=connection, **data.validated_data
        )
        return Response(
            s.VoiceConnectionOutput(
                connection, context=_connection_context(request)
            ).data
        )

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        connection = selectors.connection_get(actor=self.actor, public_id=public_id)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.connection_delete(
            actor=self.actor, connection=connection, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockedNumberListApi(ActorAPIView):
    """The block list; operators add numbers."""

    write_roles = (Role.OPERATOR,)

    class ListParams(serializers.Serializer):
        class Meta:
            ref_name = "VoiceBlockedNumberListParams"

        search = serializers.CharField(
            required=False, allow_blank=True, max_length=64, default=""
        )

    @extend_schema(parameters=[ListParams], responses=s.BlockedNumberOutput(many=True))
    def get(self, request: Request) -> Response:
        rows = selectors.blocked_number_list(
            actor=self.actor, search=self.query(self.ListParams)["search"]
        )
        return self.paginate(rows, s.BlockedNumberOutput)

    @extend_schema(request=s.BlockedNumberInput, responses={201: s.BlockedNumberOutput})
    def post(self, request: Request) -> Response:
        data = s.BlockedNumberInput(data=request.data)
        data.is_valid(raise_exception=True)
        blocked = services.blocked_number_add(actor=self.actor, **data.validated_data)
        return Response(
            s.BlockedNumberOutput(blocked).data, status=status.HTTP_201_CREATED
        )


class BlockedNumberDetailApi(ActorAPIView):
    """One block-list entry: read, put live or into shadow, remove (operators)."""

    write_roles = (Role.OPERATOR,)

    @extend_schema(responses=s.BlockedNumberOutput)
    def get(self, request: Request, public_id: str) -> Response:
        blocked = selectors.blocked_number_get(actor=self.actor, public_id=public_id)
        return Response(s.BlockedNumberOutput(blocked).data)

    @extend_schema(request=s.BlockedNumberChange, responses=s.BlockedNumberOutput)
    def patch(self, request: Request, public_id: str) -> Response:
        blocked = selectors.blocked_number_get(actor=self.actor, public_id=public_id)
        data = s.BlockedNumberChange(data=request.data)
        data.is_valid(raise_exception=True)
        blocked = services.blocked_number_set_shadow(
            actor=self.actor, blocked=blocked, **data.validated_data
        )
        return Response(s.BlockedNumberOutput(blocked).data)

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        blocked = selectors.blocked_number_get(actor=self.actor, public_id=public_id)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.blocked_number_remove(
            actor=self.actor, blocked=blocked, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CallDecisionDetailApi(ActorAPIView):
    """One decision of the call log, with its explanation (what decided it)."""

    @extend_schema(responses=s.CallDecisionOutput)
    def get(self, request: Request, decision_id: str) -> Response:
        gate.decisions_flush_quietly()
        row = selectors.call_get(actor=self.actor, decision_id=decision_id)
        visitors = selectors.visitors_by_id(
            {row.visitor_id} if row.visitor_id else set()
        )
        return Response(s.CallDecisionOutput(row, context={"visitors": visitors}).data)


class CallDecisionListApi(ActorAPIView):
    """The call log, newest first, with filters."""

    @extend_schema(
        parameters=[s.CallFilterInput], responses=s.CallDecisionOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = s.CallFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        gate.decisions_flush_quietly()
        rows = selectors.call_list(actor=self.actor, **filters.validated_data)
        paginator = self.paginator_for()
        page = paginator.paginate_queryset(rows, request, view=self)
        visitors = selectors.visitors_by_id(
            {r.visitor_id for r in page if r.visitor_id}
        )
        data = s.CallDecisionOutput(
            page, many=True, context={"visitors": visitors}
        ).data
        return paginator.get_paginated_response(data)

    def paginator_for(self) -> Any:
        from rest_framework.settings import api_settings

        pagination_class: Any = api_settings.DEFAULT_PAGINATION_CLASS
        return pagination_class()


class VoiceSettingsApi(ActorAPIView):
    """The gate settings: members read, admins change."""

    @extend_schema(responses=s.VoiceSettingsBody)
    def get(self, request: Request) -> Response:
        row = selectors.voice_settings_for(self.actor.organisation.pk)
        return Response(s.VoiceSettingsBody(row).data)

    @extend_schema(request=s.VoiceSettingsBody, responses=s.VoiceSettingsBody)
    def patch(self, request: Request) -> Response:
        data = s.VoiceSettingsBody(data=request.data)
        data.is_valid(raise_exception=True)
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        row = services.voice_settings_update(
            actor=self.actor, **reason.validated_data, **data.validated_data
        )
        return Response(s.VoiceSettingsBody(row).data)
