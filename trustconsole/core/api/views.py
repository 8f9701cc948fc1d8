"""Core API: the current actor, members, API tokens and the audit trail."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from trustconsole.core import selectors, services
from trustconsole.core.actor import Actor
from trustconsole.core.api.pagination import PagePagination
from trustconsole.core.api.permissions import request_actor
from trustconsole.core.choices import Role


class ActorAPIView(APIView):
    """Base for every console API view: `self.actor` is who is acting."""

    write_roles: tuple[str, ...] = ()
    # Lists answered by `paginate` are documented with the paginated envelope.
    pagination_class: type[BasePagination] | None = PagePagination

    @property
    def actor(self) -> Actor:
        actor = request_actor(self.request)
        assert actor is not None  # ActorPermission guarantees it
        return actor

    def query(
        self, serializer_class: type[serializers.Serializer[Any]]
    ) -> dict[str, Any]:
        """The query parameters validated by `serializer_class` (400 naming each)."""
        data = serializer_class(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def paginate(
        self, queryset: Any, serializer_class: type[serializers.Serializer[Any]]
    ) -> Response:
        """One page of `queryset` in the console's paginated list shape."""
        pagination_class: Any = api_settings.DEFAULT_PAGINATION_CLASS
        paginator: BasePagination = pagination_class()
        page: list[Any] | None = paginator.paginate_queryset(
            queryset, self.request, view=self
        )
        data = serializer_class(page, many=True).data
        response: Response = paginator.get_paginated_response(data)
        return response


class ReasonSerializer(serializers.Serializer[Any]):
    """An optional reason, recorded in the audit trail."""

    reason = serializers.CharField(required=False, allow_blank=True, default="")


class MeApi(ActorAPIView):
    """Who is calling: organisation and role."""

    class MeOutput(serializers.Serializer[Any]):
        organisation = serializers.CharField(source="organisation.name")
        organisation_slug = serializers.CharField(source="organisation.slug")
        role = serializers.CharField()
        # A field named like Field.label (the serializer's own attribute).
        label = serializers.CharField()  # type: ignore[assignment]

    @extend_schema(responses=MeOutput)
    def get(self, request: Request) -> Response:
        return Response(self.MeOutput(self.actor).data)


class MembershipOutputSerializer(serializers.Serializer[Any]):
    """A member as the API shows it."""

    id = serializers.UUIDField(source="public_id")
    email = serializers.EmailField(source="user.email")
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()


class MembershipListApi(ActorAPIView):
    """List members; admins add them (a new email creates a login user)."""

    class MembershipCreateInput(serializers.Serializer[Any]):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Role.choices)
        password = serializers.CharField(required=False, write_only=True, min_length=8)

    @extend_schema(responses=MembershipOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.membership_list(actor=self.actor), MembershipOutputSerializer
        )

    @extend_schema(
        request=MembershipCreateInput, responses={201: MembershipOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.MembershipCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_add(actor=self.actor, **data.validated_data)
        return Response(
            MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED
        )


class MembershipDetailApi(ActorAPIView):
    """One member: read, change role (admin), remove (admin)."""

    class MembershipRoleInput(ReasonSerializer):
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=MembershipOutputSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        membership = selectors.membership_get(actor=self.actor, public_id=public_id)
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(request=MembershipRoleInput, responses=MembershipOutputSerializer)
    def patch(self, request: Request, public_id: str) -> Response:
        membership = selectors.membership_get(actor=self.actor, public_id=public_id)
        data = self.MembershipRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            actor=self.actor, membership=membership, **data.validated_data
        )
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(request=ReasonSerializer, responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        membership = selectors.membership_get(actor=self.actor, public_id=public_id)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.membership_remove(
            actor=self.actor, membership=membership, **data.validated_data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenOutputSerializer(serializers.Serializer[Any]):
    """A token as listed: never its value."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class TokenListApi(ActorAPIView):
    """List tokens; admins create them (the value is shown in this answer only)."""

    class TokenCreateInput(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100)
        role = serializers.ChoiceField(choices=Role.choices)

    @extend_schema(responses=TokenOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.token_list(actor=self.actor), TokenOutputSerializer
        )

    @extend_schema(
        request=TokenCreateInput,
        responses={
            201: inline_serializer(
                "TokenCreated",
                {
                    "token": serializers.CharField(),
                    "api_token": TokenOutputSerializer(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = services.token_create(actor=self.actor, **data.validated_data)
        return Response(
            {"token": raw, "api_token": TokenOutputSerializer(token).data},
            status=status.HTTP_201_CREATED,
        )


class TokenDetailApi(ActorAPIView):
    """One token: read; DELETE revokes it (admin)."""

    @extend_schema(responses=TokenOutputSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        token = selectors.token_get(actor=self.actor, public_id=public_id)
        return Response(TokenOutputSerializer(token).data)

    @extend_schema(request=ReasonSerializer, responses={200: TokenOutputSerializer})
    def delete(self, request: Request, public_id: str) -> Response:
        token = selectors.token_get(actor=self.actor, public_id=public_id)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.token_revoke(
            actor=self.actor, token=token, **data.validated_data
        )
        return Response(TokenOutputSerializer(token).data)


class AuditOutputSerializer(serializers.Serializer[Any]):
    """An audit entry: read-only by construction."""

    id = serializers.UUIDField(source="public_id")
    actor = serializers.CharField(source="actor_label")
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target_label = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class AuditListParams(serializers.Serializer[Any]):
    """Filters of the audit trail (exact matches)."""

    action = serializers.CharField(required=False, allow_blank=True, max_length=100)
    target_type = serializers.CharField(
        required=False, allow_blank=True, max_length=100
    )
    target_id = serializers.CharField(required=False, allow_blank=True, max_length=100)


class AuditListApi(ActorAPIView):
    """The organisation's audit trail, newest first. It cannot be changed."""

    @extend_schema(
        parameters=[AuditListParams], responses=AuditOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        params = self.query(AuditListParams)
        queryset = selectors.audit_list(
            actor=self.actor,
            action=params.get("action", ""),
            target_type=params.get("target_type", ""),
            target_id=params.get("target_id", ""),
        )
        return self.paginate(queryset, AuditOutputSerializer)


class AuditDetailApi(ActorAPIView):
    """One audit entry."""

    @extend_schema(responses=AuditOutputSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        entry = selectors.audit_get(actor=self.actor, public_id=public_id)
        return Response(AuditOutputSerializer(entry).data)


class DashboardApi(ActorAPIView):
    """The numbers behind the dashboard's charts (last 30 days where per day)."""

    class Output(serializers.Serializer[Any]):
        organisation = serializers.CharField()
        generated_at = serializers.DateTimeField()
        first_day = serializers.DateField()
        last_day = serializers.DateField()
        calls = inline_serializer(
            "DashboardCalls",
            {
                "link": serializers.CharField(),
                "days": inline_serializer(
                    "DashboardCallDay",
                    {
                        "date": serializers.DateField(),
                        "allowed": serializers.IntegerField(),
                        "rejected": serializers.IntegerField(),
                    },
                    many=True,
                ),
            },
        )
        chat_blocked = inline_serializer(
            "DashboardChatBlocked",
            {
                "link": serializers.CharField(),
                "days": inline_serializer(
                    "DashboardChatDay",
                    {
                        "date": serializers.DateField(),
                        "blocked": serializers.IntegerField(),
                    },
                    many=True,
                ),
            },
        )
        review_queue = inline_serializer(
            "DashboardReviewQueue",
            {
                "link": serializers.CharField(),
                "open": serializers.IntegerField(),
                "oldest_at": serializers.DateTimeField(allow_null=True),
                "oldest_age_seconds": serializers.IntegerField(allow_null=True),
            },
        )
        trust_bands = inline_serializer(
            "DashboardTrustBands",
            {
                "link": serializers.CharField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
            },
        )
        accounts = inline_serializer(
            "DashboardAccounts",
            {
                "link": serializers.CharField(),
                "by_status": serializers.DictField(child=serializers.IntegerField()),
                "overdue_reviews": serializers.IntegerField(),
                "overdue_link": serializers.CharField(),
            },
        )
        remediation_outcomes = inline_serializer(
            "DashboardRemediationOutcomes",
            {
                "link": serializers.CharField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
            },
        )
        outbound_refused = inline_serializer(
            "DashboardOutboundRefused",
            {
                "link": serializers.CharField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
            },
        )
        gate_fail_mode = inline_serializer(
            "DashboardGateFailMode",
            {
                "link": serializers.CharField(),
                "counts": serializers.DictField(child=serializers.IntegerField()),
            },
        )

    @extend_schema(responses=Output)
    def get(self, request: Request) -> Response:
        from trustconsole.core.dashboard import dashboard_data

        return Response(dashboard_data(actor=self.actor))
