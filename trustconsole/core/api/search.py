"""GET /api/v1/search/?q=…: the global search as JSON, grouped like the box."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from trustconsole.core.api.views import ActorAPIView
from trustconsole.core.search import MAX_LENGTH, search


class SearchParams(serializers.Serializer[Any]):
    q = serializers.CharField(
        max_length=MAX_LENGTH,
        help_text="A visitor's name, email, phone or IP; an account's name or "
        "email; a request id; a caller's number. At least 2 characters.",
    )


class SearchHitOutput(serializers.Serializer[Any]):
    title = serializers.CharField()
    subtitle = serializers.CharField(allow_blank=True)
    url = serializers.CharField(help_text="The console page that opens the result.")


class SearchGroupOutput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=["visitors", "accounts", "requests", "calls"]
    )
    name = serializers.CharField(source="label", help_text="The group's heading.")
    results = SearchHitOutput(many=True, source="hits")


class SearchOutput(serializers.Serializer[Any]):
    q = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    too_short = serializers.BooleanField()
    groups = SearchGroupOutput(many=True)


class SearchApi(ActorAPIView):
    """Everything in the caller's organisation the text names, grouped by kind
    (nothing from any other organisation)."""

    @extend_schema(parameters=[SearchParams], responses=SearchOutput)
    def get(self, request: Request) -> Response:
        params = self.query(SearchParams)
        results = search(actor=self.actor, q=params["q"])
        return Response(SearchOutput(results).data)
