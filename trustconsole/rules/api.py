"""Rules API under /api/v1/rules: rules, versions, modes, matches (shadow against
real), tests, backtests, facts.

Admins change rules; operators (and admins) test them against an event and start
backtests; every member reads. A condition that does not check is a 400 naming
`condition` with its line, column and reason.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from trustconsole.core.api.views import ActorAPIView
from trustconsole.core.choices import Role
from trustconsole.policy.api import ExplanationRuleOutput
from trustconsole.rules import backtest as backtests
from trustconsole.rules import facts, selectors, services
from trustconsole.rules.effects import describe
from trustconsole.rules.models import BacktestStatus, Rule, RuleMode
from trustconsole.rules.testing import event_test


class RuleVersionOutput(serializers.Serializer[Any]):
    """One version of a rule."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.IntegerField()
    condition = serializers.CharField()
    effect = serializers.DictField()
    effect_words = serializers.SerializerMethodField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_effect_words(self, version: Any) -> str:
        return describe(version.effect)


class RuleHitsOutput(serializers.Serializer[Any]):
    """Matches counted over the last 24 hours and 7 days."""

    live_24h = serializers.IntegerField()
    shadow_24h = serializers.IntegerField()
    live_7d = serializers.IntegerField()
    shadow_7d = serializers.IntegerField()
    errors_7d = serializers.IntegerField()


class RuleOutput(serializers.Serializer[Any]):
    """A rule with its current version."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    description = serializers.CharField()
    channel = serializers.ChoiceField(choices=facts.RuleChannel.choices)
    mode = serializers.ChoiceField(choices=RuleMode.choices)
    order = serializers.IntegerField()
    disabled_reason = serializers.CharField()
    builtin = serializers.CharField(
        help_text='The default rule set\'s key ("flagged_keywords", …); "" for an '
        "organisation's own rule."
    )
    current_version = RuleVersionOutput(allow_null=True)
    updated_at = serializers.DateTimeField()


class RuleCreateInput(serializers.Serializer[Any]):
    """A new rule (shadow unless `mode` says otherwise)."""

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(choices=facts.RuleChannel.choices)
    condition = serializers.CharField(max_length=4000, trim_whitespace=False)
    effect = serializers.DictField(help_text="See docs/architecture/rules.md, effects.")
    mode = serializers.ChoiceField(choices=RuleMode.choices, default=RuleMode.SHADOW)
    order = serializers.IntegerField(min_value=0, max_value=1_000_000, default=100)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RuleUpdateInput(serializers.Serializer[Any]):
    """Changes; a new condition or effect saves a new version."""

    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    condition = serializers.CharField(
        max_length=4000, required=False, trim_whitespace=False
    )
    effect = serializers.DictField(required=False)
    order = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RuleListParams(serializers.Serializer[Any]):
    """Filters of the list."""

    channel = serializers.ChoiceField(choices=facts.RuleChannel.choices, required=False)


def _rule_data(rule: Rule) -> dict[str, Any]:
    return dict(RuleOutput(rule).data)


class RuleListApi(ActorAPIView):
    """The organisation's rules; admins add one."""

    @extend_schema(parameters=[RuleListParams], responses=RuleOutput(many=True))
    def get(self, request: Request) -> Response:
        params = self.query(RuleListParams)
        return self.paginate(
            selectors.rule_list(actor=self.actor, channel=params.get("channel")),
            RuleOutput,
        )

    @extend_schema(request=RuleCreateInput, responses={201: RuleOutput})
    def post(self, request: Request) -> Response:
        data = RuleCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_create(actor=self.actor, **data.validated_data)
        return Response(_rule_data(rule), status=status.HTTP_201_CREATED)


class RuleDetailApi(ActorAPIView):
    """One rule: read, change (admins), delete (admins)."""

    @extend_schema(responses=RuleOutput)
    def get(self, request: Request, public_id: str) -> Response:
        return Response(
            _rule_data(selectors.rule_get(actor=self.actor, public_id=public_id))
        )

    @extend_schema(request=RuleUpdateInput, responses=RuleOutput)
    def patch(self, request: Request, public_id: str) -> Response:
        rule = selectors.rule_get(actor=self.actor, public_id=public_id)
        data = RuleUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_update(actor=self.actor, rule=rule, **data.validated_data)
        rule = selectors.rule_get(actor=self.actor, public_id=rule.public_id)
        return Response(_rule_data(rule))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, public_id: str) -> Response:
        rule = selectors.rule_get(actor=self.actor, public_id=public_id)
        services.rule_delete(actor=self.actor, rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleVersionListApi(ActorAPIView):
    """Every version of a rule, newest first."""

    @extend_schema(responses=RuleVersionOutput(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        rule = selectors.rule_get(actor=self.actor, public_id=public_id)
        return self.paginate(selectors.rule_versions(rule=rule), RuleVersionOutput)


class RuleModeApi(ActorAPIView):
    """Set a rule live, to shadow or off (admins)."""

    class ModeInput(serializers.Serializer[Any]):
        mode = serializers.ChoiceField(choices=RuleMode.choices)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=ModeInput, responses=RuleOutput)
    def post(self, request: Request, public_id: str) -> Response:
        rule = selectors.rule_get(actor=self.actor, public_id=public_id)
        data = self.ModeInput(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.rule_set_mode(
            actor=self.actor, rule=rule, **data.validated_data
        )
        return Response(
            _rule_data(selectors.rule_get(actor=self.actor, public_id=rule.public_id))
        )


class RuleMatchEventOutput(serializers.Serializer[Any]):
    """One event the rule matched, with what really happened."""

    at = serializers.DateTimeField()
    who = serializers.CharField(help_text="The number, visitor or account.")
    who_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="The visitor's or account's id."
    )
    kind = serializers.CharField(
        required=False,
        help_text="visitor, account or number (a caller or an outbound destination).",
    )
    account = serializers.CharField(
        required=False, help_text="The account that asked (outbound checks)."
    )
    account_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="That account's id."
    )
    excerpt = serializers.CharField(
        required=False, help_text="The message, event or account email, cut short."
    )
    mode = serializers.ChoiceField(choices=RuleMode.choices, required=False)
    version = serializers.IntegerField(required=False)
    real = serializers.CharField(help_text="What was really decided.")
    reason = serializers.CharField(help_text="By what (a rule, a step, a person).")


class RuleMatchesOutput(serializers.Serializer[Any]):
    """What a rule matched in the last 7 days next to what was really decided."""

    days = serializers.IntegerField()
    summary = serializers.CharField(
        help_text='In words: "Would have blocked 12 messages; …".'
    )
    total = serializers.IntegerField(help_text="Events listed in the log.")
    allowed = serializers.IntegerField(help_text="Really allowed or left untouched.")
    acted = serializers.IntegerField(help_text="Really blocked, flagged or held.")
    subjects = serializers.IntegerField(help_text="Numbers, visitors or accounts.")
    fine = serializers.IntegerField(
        help_text="Of those: whitelisted now (numbers, visitors) or active now "
        "(accounts)."
    )
    counted = serializers.IntegerField(
        help_text="Matches counted (more than `total` when the log was capped)."
    )
    events = RuleMatchEventOutput(many=True, help_text="The newest 50.")


class RuleMatchesApi(ActorAPIView):
    """Shadow against real: the events a rule matched, next to the real decisions."""

    @extend_schema(responses=RuleMatchesOutput)
    def get(self, request: Request, public_id: str) -> Response:
        rule = selectors.rule_get(actor=self.actor, public_id=public_id)
        found = selectors.rule_matches(rule=rule)
        if found is None:
            raise Http404("This channel keeps no decisions per event.")
        summary = f"{found['lead']} {found['total']} {found['noun']}{found['tail']}"
        return Response(RuleMatchesOutput({**found, "summary": summary}).data)


class TraceStepOutput(ExplanationRuleOutput):
    """One rule's run on the event."""

    matched = serializers.BooleanField(allow_null=True, help_text="null: it raised.")
    error = serializers.CharField(allow_blank=True)
    microseconds = serializers.FloatField()


class RuleTestApi(ActorAPIView):
    """Run a draft condition, or the channel's rules, on one event; changes nothing."""

    write_roles = (Role.OPERATOR,)

    class TestInput(serializers.Serializer[Any]):
        channel = serializers.ChoiceField(choices=facts.RuleChannel.choices)
        event = serializers.DictField(
            help_text="The event's facts by group, as on the facts reference; "
            "missing fields take their defaults."
        )
        condition = serializers.CharField(
            required=False, max_length=4000, trim_whitespace=False,
            help_text="A draft; without it the organisation's live and shadow rules.",
        )  # fmt: skip
        effect = serializers.DictField(required=False)

    class TestOutput(serializers.Serializer[Any]):
        decided_by = ExplanationRuleOutput(allow_null=True)
        live_matches = ExplanationRuleOutput(many=True)
        shadow_matches = ExplanationRuleOutput(many=True)
        trace = TraceStepOutput(many=True)
        facts = serializers.DictField(help_text="The facts the rules saw.")

    @extend_schema(request=TestInput, responses=TestOutput)
    def post(self, request: Request) -> Response:
        data = self.TestInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(event_test(actor=self.actor, **data.validated_data))


class BacktestOutput(serializers.Serializer[Any]):
    """A backtest and, once done, its result."""

    id = serializers.UUIDField(source="public_id")
    rule = serializers.UUIDField(source="rule.public_id", allow_null=True)
    channel = serializers.ChoiceField(choices=facts.RuleChannel.choices)
    condition = serializers.CharField()
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=BacktestStatus.choices)
    progress = serializers.IntegerField(help_text="Per cent done.")
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    result = serializers.DictField(
        help_text="events, hits, identities, errors, sample, live (the current "
        "version on the same events, or null); outbound checks also real (the "
        "draft's hits really allowed / refused), skipped (checks to whitelisted "
        "destinations, never judged by rules) and capped_hours (hours in which "
        "the check log kept only the first allowed checks)."
    )
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class BacktestListApi(ActorAPIView):
    """Start a backtest of a draft over a window of history (a Celery task)."""

    write_roles = (Role.OPERATOR,)

    class BacktestInput(serializers.Serializer[Any]):
        channel = serializers.ChoiceField(choices=facts.RuleChannel.choices)
        condition = serializers.CharField(max_length=4000, trim_whitespace=False)
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()
        rule = serializers.UUIDField(
            required=False, help_text="Compare with this rule's current version."
        )

    @extend_schema(request=BacktestInput, responses={202: BacktestOutput})
    def post(self, request: Request) -> Response:
        data = self.BacktestInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        rule_id = values.pop("rule", None)
        rule = None
        if rule_id:
            try:
                rule = selectors.rule_get(actor=self.actor, public_id=rule_id)
            except Http404:
                raise serializers.ValidationError(
                    {"rule": "No rule with this id in your organisation."}
                ) from None
        found = backtests.backtest_start(actor=self.actor, rule=rule, **values)
        return Response(BacktestOutput(found).data, status=status.HTTP_202_ACCEPTED)


class BacktestDetailApi(ActorAPIView):
    """A backtest's progress and result."""

    @extend_schema(responses=BacktestOutput)
    def get(self, request: Request, public_id: str) -> Response:
        found = selectors.backtest_get(actor=self.actor, public_id=public_id)
        return Response(BacktestOutput(found).data)


class FactsApi(ActorAPIView):
    """The facts each channel's conditions can read (from the registry in code)."""

    class FactsOutput(serializers.Serializer[Any]):
        channels = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=FactsOutput)
    def get(self, request: Request) -> Response:
        return Response({"channels": facts.reference()})


app_name = "rules_api"

urlpatterns = [
    path("rules/", RuleListApi.as_view(), name="list"),
    path("rules/facts/", FactsApi.as_view(), name="facts"),
    path("rules/test/", RuleTestApi.as_view(), name="test"),
    path("rules/backtests/", BacktestListApi.as_view(), name="backtest_list"),
    path(
        "rules/backtests/<str:public_id>/",
        BacktestDetailApi.as_view(),
        name="backtest_detail",
    ),
    path("rules/<str:public_id>/", RuleDetailApi.as_view(), name="detail"),
    path(
        "rules/<str:public_id>/versions/",
        RuleVersionListApi.as_view(),
        name="versions",
    ),
    path("rules/<str:public_id>/mode/", RuleModeApi.as_view(), name="mode"),
    path("rules/<str:public_id>/matches/", RuleMatchesApi.as_view(), name="matches"),
]
