"""The visitors API: members read; operators (and admins) act; admins set weights.

The chat widget gate (`POST /widget/v1/messages`) is here too: it authenticates
with the widget key header instead of an API token.
"""

from __future__ import annotations

import functools
import time
import uuid
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trustconsole.core.api import short
from trustconsole.core.api.schema import ErrorOutput
from trustconsole.core.api.views import ActorAPIView
from trustconsole.lib import metrics, ratelimit
from trustconsole.lib.confirm import ConfirmReasonInput
from visitors import gate, selectors, services
from visitors.api import serializers as s
from visitors.choices import Band, VisitorStatus
from visitors.rules import event_record

OPERATOR = ("operator",)
AnyResponse = TypeVar("AnyResponse", bound=HttpResponse)


class OperatorAPIView(ActorAPIView):
    """Members read; operators and admins act."""

    write_roles = OPERATOR


class VisitorListParams(serializers.Serializer):
    """Search and filters of the visitors list."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Name, email, phone or IP",
    )
    status = serializers.ChoiceField(
        choices=VisitorStatus.choices, required=False, allow_blank=True
    )
    band = serializers.ChoiceField(
        choices=Band.choices, required=False, allow_blank=True
    )
    score_min = serializers.IntegerField(required=False, min_value=0, max_value=100)
    score_max = serializers.IntegerField(required=False, min_value=0, max_value=100)
    sort = serializers.ChoiceField(
        choices=list(selectors.SORTS),
        required=False,
        allow_blank=True,
        help_text="default -last_seen",
    )


def _detail(visitor: object) -> dict:
    return s.VisitorDetailOutput(visitor).data


class VisitorListApi(OperatorAPIView):
    """Visitors with the Visitors page's search and filters; POST upserts one."""

    @extend_schema(
        operation_id="visitors_list",
        parameters=[VisitorListParams],
        responses=s.VisitorOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = self.query(VisitorListParams)
        queryset = selectors.visitor_list(
            actor=self.actor,
            q=params.get("q", ""),
            status=params.get("status", ""),
            band=params.get("band", ""),
            score_min=params.get("score_min"),
            score_max=params.get("score_max"),
            sort=params.get("sort", ""),
        )
        return self.paginate(queryset, s.VisitorOutput)

    @extend_schema(
        operation_id="visitors_upsert",
        request=s.VisitorUpsertInput,
        responses={200: s.VisitorDetailOutput, 201: s.VisitorDetailOutput},
    )
    def post(self, request: Request) -> Response:
        data = s.VisitorUpsertInput(data=request.data)
        data.is_valid(raise_exception=True)
        visitor = services.visitor_upsert(actor=self.actor, **data.validated_data)
        code = status.HTTP_201_CREATED if visitor.upsert_created else status.HTTP_200_OK
        return Response(_detail(visitor), status=code)


class VisitorDetailApi(OperatorAPIView):
    """One visitor with identifiers, signals and the explanation of the score."""

    @extend_schema(operation_id="visitors_retrieve", responses=s.VisitorDetailOutput)
    def get(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        return Response(_detail(visitor))


class _VisitorStatusApi(OperatorAPIView):
    action_fn = staticmethod(services.visitor_blacklist)

    def post(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        data = s.VisitorReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        visitor = self.action_fn(
            actor=self.actor, visitor=visitor, reason=data.validated_data["reason"]
        )
        return Response(_detail(visitor))


@extend_schema(request=s.VisitorReasonInput, responses=s.VisitorDetailOutput)
class VisitorBlacklistApi(_VisitorStatusApi):
    """Blacklist: status Blacklisted at once and an Extreme (+70) signal."""

    action_fn = staticmethod(services.visitor_blacklist)


@extend_schema(request=s.VisitorReasonInput, responses=s.VisitorDetailOutput)
class VisitorWhitelistApi(_VisitorStatusApi):
    """Whitelist: trusted, never auto-flagged again."""

    action_fn = staticmethod(services.visitor_whitelist)


@extend_schema(request=s.VisitorReasonInput, responses=s.VisitorDetailOutput)
class VisitorShadowBlacklistApi(_VisitorStatusApi):
    """Shadow blacklist (voice gate): calls are logged as would-be rejections and
    let through; nothing else changes."""

    action_fn = staticmethod(services.visitor_shadow_blacklist)


@extend_schema(request=s.VisitorReasonInput, responses=s.VisitorDetailOutput)
class VisitorShadowClearApi(_VisitorStatusApi):
    """End the visitor's shadow blacklist."""

    action_fn = staticmethod(services.visitor_shadow_clear)


@extend_schema(request=s.VisitorReasonInput, responses=s.VisitorDetailOutput)
class VisitorClearStatusApi(_VisitorStatusApi):
    """Clear status: back to no status; the blacklist signal is removed."""

    action_fn = staticmethod(services.visitor_clear_status)


class VisitorMergeApi(OperatorAPIView):
    """Merge another visitor (`source`) into this one."""

    @extend_schema(
        operation_id="visitors_merge",
        request=s.VisitorMergeInput,
        responses=s.VisitorDetailOutput,
    )
    def post(self, request: Request, public_id: str) -> Response:
        target = selectors.visitor_get(actor=self.actor, public_id=public_id)
        data = s.VisitorMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        source = selectors.visitor_get(
            actor=self.actor, public_id=data.validated_data["source"]
        )
        visitor = services.visitor_merge(
            actor=self.actor,
            target=target,
            source=source,
            reason=data.validated_data["reason"],
        )
        return Response(_detail(visitor))


class VisitorSignalListApi(OperatorAPIView):
    """A visitor's risk signals; POST adds one by hand."""

    @extend_schema(
        operation_id="visitors_signals_list", responses=s.RiskSignalOutput(many=True)
    )
    def get(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.visitor_signals(visitor=visitor), s.RiskSignalOutput
        )

    @extend_schema(
        operation_id="visitors_signals_create",
        request=s.RiskSignalAddInput,
        responses={201: s.RiskSignalOutput},
    )
    def post(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        data = s.RiskSignalAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        signal = services.risk_signal_add(
            actor=self.actor, visitor=visitor, source="api", **data.validated_data
        )
        return Response(s.RiskSignalOutput(signal).data, status=status.HTTP_201_CREATED)


class RiskSignalDetailApi(OperatorAPIView):
    """One risk signal; DELETE stops it counting (the score is recomputed). The
    body's `reason` is required and kept in the audit trail."""

    @extend_schema(operation_id="signals_retrieve", responses=s.RiskSignalOutput)
    def get(self, request: Request, public_id: str) -> Response:
        signal = selectors.signal_get(actor=self.actor, public_id=public_id)
        return Response(s.RiskSignalOutput(signal).data)

    @extend_schema(
        operation_id="signals_remove",
        request=ConfirmReasonInput,
        responses=s.RiskSignalOutput,
    )
    def delete(self, request: Request, public_id: str) -> Response:
        signal = selectors.signal_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        signal = services.risk_signal_remove(
            actor=self.actor, signal=signal, reason=data.validated_data["reason"]
        )
        return Response(s.RiskSignalOutput(signal).data)


class VisitorEventApi(OperatorAPIView):
    """A visitor's events; POST records one (registered kinds add signals)."""

    @extend_schema(
        operation_id="visitors_events_list", responses=s.VisitorEventOutput(many=True)
    )
    def get(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.visitor_events(visitor=visitor).prefetch_related("signals"),
            s.VisitorEventOutput,
        )

    @extend_schema(
        operation_id="visitors_events_create",
        request=s.VisitorEventInput,
        responses={201: s.VisitorEventOutput},
    )
    def post(self, request: Request, public_id: str) -> Response:
        visitor = selectors.visitor_get(actor=self.actor, public_id=public_id)
        data = s.VisitorEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = event_record(actor=self.actor, visitor=visitor, **data.validated_data)
        return Response(
            s.VisitorEventOutput(event).data, status=status.HTTP_201_CREATED
        )


class ReviewQueueApi(OperatorAPIView):
    """Open review-queue items, oldest first."""

    @extend_schema(
        operation_id="review_queue_list", responses=s.ReviewItemOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.review_queue(actor=self.actor), s.ReviewItemOutput
        )


class ReviewItemDetailApi(OperatorAPIView):
    """One review item (open or resolved)."""

    @extend_schema(operation_id="review_queue_retrieve", responses=s.ReviewItemOutput)
    def get(self, request: Request, public_id: str) -> Response:
        item = selectors.review_item_get(actor=self.actor, public_id=public_id)
        return Response(s.ReviewItemOutput(item).data)


class ReviewItemActionApi(OperatorAPIView):
    """The Actions column: Blacklist, Whitelist or Dismiss one item."""

    @extend_schema(
        operation_id="review_queue_act",
        request=s.ReviewItemActionInput,
        responses=s.ReviewItemOutput,
    )
    def post(self, request: Request, public_id: str) -> Response:
        item = selectors.review_item_get(actor=self.actor, public_id=public_id)
        data = s.ReviewItemActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.review_item_act(
            actor=self.actor, item=item, **data.validated_data
        )
        return Response(s.ReviewItemOutput(item).data)


class ReviewItemBulkApi(OperatorAPIView):
    """Bulk selection: one action on several items of the organisation."""

    error_codes = (404,)  # an item that is not the organisation's

    @extend_schema(
        operation_id="review_queue_bulk",
        request=s.ReviewItemBulkInput,
        responses=s.ReviewItemBulkOutput,
    )
    def post(self, request: Request) -> Response:
        data = s.ReviewItemBulkInput(data=request.data)
        data.is_valid(raise_exception=True)
        wanted = [str(v) for v in data.validated_data["items"]]
        items = selectors.review_items_get(actor=self.actor, public_ids=wanted)
        if len(items) != len(set(wanted)):
            raise exceptions.NotFound("Some review items were not found.")
        done = services.review_items_act_bulk(
            actor=self.actor,
            items=items,
            action=data.validated_data["action"],
            reason=data.validated_data["reason"],
        )
        return Response({"done": done})


class IPBlockListParams(serializers.Serializer):
    """Expired blocks are left out unless asked for."""

    include_expired = serializers.BooleanField(required=False, default=False)


class IPBlockListApi(OperatorAPIView):
    """Active IP blocks; POST blocks an address or CIDR range."""

    @extend_schema(
        operation_id="ip_blocks_list",
        parameters=[IPBlockListParams],
        responses=s.IPBlockOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        include = self.query(IPBlockListParams)["include_expired"]
        return self.paginate(
            selectors.ip_block_list(actor=self.actor, include_expired=include),
            s.IPBlockOutput,
        )

    @extend_schema(
        operation_id="ip_blocks_create",
        request=s.IPBlockInput,
        responses={201: s.IPBlockOutput},
    )
    def post(self, request: Request) -> Response:
        data = s.IPBlockInput(data=request.data)
        data.is_valid(raise_exception=True)
        block = services.ip_block_create(actor=self.actor, **data.validated_data)
        return Response(s.IPBlockOutput(block).data, status=status.HTTP_201_CREATED)


class IPBlockDetailApi(OperatorAPIView):
    """One IP block; DELETE lifts it (the body's `reason` is required and kept
    in the audit trail)."""

    @extend_schema(operation_id="ip_blocks_retrieve", responses=s.IPBlockOutput)
    def get(self, request: Request, public_id: str) -> Response:
        block = selectors.ip_block_get(actor=self.actor, public_id=public_id)
        return Response(s.IPBlockOutput(block).data)

    @extend_schema(
        operation_id="ip_blocks_remove",
        request=ConfirmReasonInput,
        responses={204: None},
    )
    def delete(self, request: Request, public_id: str) -> Response:
        block = selectors.ip_block_get(actor=self.actor, public_id=public_id)
        data = ConfirmReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.ip_block_remove(
            actor=self.actor, block=block, reason=data.validated_data["reason"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SignalWeightApi(ActorAPIView):
    """Weight levels of the organisation; admins override them (POST)."""

    pagination_class = None  # the four levels, always all of them

    write_roles = ()

    @extend_schema(
        operation_id="signal_weights_list", responses=s.SignalWeightOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.signal_weight_rows(actor=self.actor))

    @extend_schema(
        operation_id="signal_weights_set",
        request=s.SignalWeightInput,
        responses=s.SignalWeightOutput(many=True),
    )
    def post(self, request: Request) -> Response:
        data = s.SignalWeightInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.signal_weight_set(actor=self.actor, **data.validated_data)
        return Response(selectors.signal_weight_rows(actor=self.actor))


# --- The chat widget gate ----------------------------------------------------------

WIDGET_KEY_HEADER = "X-Widget-Key"


class WidgetMessageApi(APIView):
    """The chat widget posts each message here (header `X-Widget-Key`).

    Every accepted message gets 202 with ids, including one that was silently
    blocked (blacklisted visitor, blocked IP): the widget cannot tell.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="widget_messages_create",
        auth=[],
        parameters=[
            OpenApiParameter(
                WIDGET_KEY_HEADER, str, location=OpenApiParameter.HEADER, required=True
            )
        ],
        request=s.WidgetMessageInput,
        responses={202: s.WidgetMessageOutput, 401: ErrorOutput},
    )
    def post(self, request: Request) -> Response:
        _rate_limit(request)
        widget = selectors.widget_by_key(request.headers.get(WIDGET_KEY_HEADER, ""))
        if widget is None:
            raise exceptions.AuthenticationFailed("Unknown or inactive widget key.")
        data = s.WidgetMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = widget_message_answer(request.META, widget, data.validated_data)
        response = Response(answer, status=status.HTTP_202_ACCEPTED)
        return _cors(response)

    # Django's View and DRF's stubs disagree on the request type of options().
    def options(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return _cors(Response(status=status.HTTP_204_NO_CONTENT))

    def get_authenticate_header(self, request: Request) -> str:
        return WIDGET_KEY_HEADER

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        return _cors(super().finalize_response(request, response, *args, **kwargs))


def widget_message_answer(
    meta: dict[str, Any], widget: Any, fields: dict[str, Any]
) -> dict[str, str]:
    """Gate one validated widget message; the 202 answer's body (the same for a
    message that was silently blocked). A bad email or phone is a 400 naming its
    field (`exceptions.ValidationError`)."""
    # Normalise first so a bad email or phone is a 400 naming its field.
    email = fields.get("email", "").strip()
    phone = fields.get("phone", "").strip()
    if email:
        _field_error(services.normalise_email, email, "email")
    if phone:
        _field_error(services.normalise_phone, phone, "phone")
    started = time.perf_counter()
    answer = gate.widget_message_receive(
        widget=widget,
        widget_visitor_id=fields["visitor_id"],
        name=fields.get("name", ""),
        email=email,
        phone=phone,
        conversation_id=fields.get("conversation_id"),
        body=fields["body"],
        ip=gate.client_ip(meta),
    )
    metrics.chat_gated(blocked=answer.blocked, seconds=time.perf_counter() - started)
    return {
        "status": "accepted",
        "conversation_id": str(answer.conversation_id),
        "message_id": str(answer.message_id),
    }


def _rate_limit(request: Request | HttpRequest) -> None:
    """429 with Retry-After once a widget key or a client IP sends too much."""
    verdict = ratelimit.check(
        [
            (
                "widget-key",
                request.headers.get(WIDGET_KEY_HEADER, ""),
                ratelimit.Rate.of(settings.VISITORS_WIDGET_RATE_PER_KEY),
            ),
            (
                "widget-ip",
                gate.client_ip(request.META) or "",
                ratelimit.Rate.of(settings.VISITORS_WIDGET_RATE_PER_IP),
            ),
        ]
    )
    if not verdict.allowed:
        raise exceptions.Throttled(wait=verdict.retry_after)


def _field_error(normalise: object, value: str, field: str) -> None:
    from django.core.exceptions import ValidationError

    try:
        normalise(value)  # type: ignore[operator]
    except ValidationError as exc:
        raise exceptions.ValidationError(
            {field: [m for ms in exc.message_dict.values() for m in ms]}
        ) from None


def _cors(response: AnyResponse) -> AnyResponse:
    # The widget runs on the organisation's own sites; no cookies are involved.
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = f"Content-Type, {WIDGET_KEY_HEADER}"
    response["Access-Control-Max-Age"] = "600"
    return response


# --- The widget's short path (`trustconsole.core.api.short`) -----------------------

# WidgetMessageInput's text fields: (max_length, required). The short path takes a
# value only as StrictCharField passes it (a string, trimmed, no NUL or lone
# surrogate, not blank where required, within its length); anything else is left
# to the serializer, which answers with its documented 400.
WIDGET_TEXT = {
    "visitor_id": (128, True),
    "body": (5000, True),
    "name": (200, False),
    "email": (254, False),
    "phone": (64, False),
}


def _widget_text(value: Any, limit: int, *, required: bool) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        return None
    try:
        value.encode("utf-8")  # a lone surrogate cannot be: DRF refuses it
    except UnicodeEncodeError:
        return None
    value = value.strip()
    if (required and not value) or len(value) > limit:
        return None
    return value


def widget_message_input(data: Any) -> dict[str, Any] | None:
    """The message's fields from a parsed body, or None when WidgetMessageInput
    must judge it (it would refuse it, or convert a value)."""
    if not isinstance(data, dict) or not set(data) <= {*WIDGET_TEXT, "conversation_id"}:
        return None
    fields: dict[str, Any] = {}
    for name, (limit, required) in WIDGET_TEXT.items():
        if name not in data:
            if required:
                return None
            continue
        text = _widget_text(data[name], limit, required=required)
        if text is None:
            return None
        fields[name] = text
    conversation = data.get("conversation_id")
    if conversation is not None:
        if not isinstance(conversation, str):
            return None
        try:
            fields["conversation_id"] = uuid.UUID(hex=conversation)
        except ValueError:
            return None
    elif "conversation_id" in data:
        fields["conversation_id"] = None
    return fields


def widget_message_short(request: HttpRequest, allow: str) -> HttpResponse | None:
    """The answer to an ordinary message from a known widget, or None: then
    WidgetMessageApi answers (and refuses what is wrong with its documented 4xx).
    The rate limits are counted once either way (the short path counts them only
    for a request it answers)."""
    if request.method != "POST":
        return None
    widget = selectors.widget_by_key(request.headers.get(WIDGET_KEY_HEADER, ""))
    if widget is None:
        return None  # 401, after the rate limits, from the DRF view
    fields = widget_message_input(short.json_body(request))
    if fields is None:
        return None
    try:
        _rate_limit(request)
        answer = widget_message_answer(request.META, widget, fields)
    except Exception as exc:  # a 429, or a bad email or phone (400)
        response = short.refusal(exc, request, allow)
        if response is None:
            raise
        return _cors(response)
    return _cors(short.json_response(answer, status.HTTP_202_ACCEPTED, allow))


def _widget_messages_view() -> Any:
    """WidgetMessageApi's view, answering ordinary messages by the short path;
    it carries the DRF view's attributes (its class for the OpenAPI schema,
    `csrf_exempt`), so the URL pattern and the thin WSGI router name the same."""
    drf_view = WidgetMessageApi.as_view()
    allow = ", ".join(WidgetMessageApi().allowed_methods)

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = widget_message_short(request, allow)
        return response if response is not None else drf_view(request, *args, **kwargs)

    functools.update_wrapper(view, drf_view)
    return view


widget_messages_view = _widget_messages_view()
