"""The accounts API: one view per action, support (or admin) to act, members read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.serializers import (
    AccountDetailOutputSerializer,
    AccountOutputSerializer,
    EvidenceOutputSerializer,
    FeedbackOutputSerializer,
    PortAwayOutputSerializer,
    RefundOutputSerializer,
    RequestOutputSerializer,
    SignalOutputSerializer,
)
from accounts.choices import (
    AccountStatus,
    Decision,
    EvidenceKind,
    RefundStatus,
    Service,
    SignalSource,
    SignalType,
)
from accounts.models import Evidence
from accounts.services import EvidenceInput
from trustconsole.core.api.views import ActorAPIView
from trustconsole.lib.jsonbody import JSONBodyParser

# Counts and thresholds fit a database integer column.
MAX_INT = 2_147_483_647

SUPPORT = ("support",)


class SupportAPIView(ActorAPIView):
    """Members read; support (and admin) act."""

    write_roles = SUPPORT


def _detail(account: object) -> dict:
    return AccountDetailOutputSerializer(account).data


class AccountListApi(SupportAPIView):
    """List customer accounts; POST signs one up and runs the risk assessment."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountListInput"

        company_name = serializers.CharField(allow_blank=True)
        email = serializers.CharField(allow_blank=True)
        website = serializers.CharField(required=False, allow_blank=True, default="")
        country = serializers.CharField(allow_blank=True, help_text="ISO code")
        balance = serializers.DecimalField(
            max_digits=12,
            decimal_places=2,
            min_value=0,
            required=False,
            default=Decimal(0),
        )
        payment_flagged = serializers.BooleanField(required=False, default=False)

    class ListParams(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountListParams"

        status = serializers.ChoiceField(
            choices=AccountStatus.choices, required=False, allow_blank=True
        )
        service = serializers.ChoiceField(
            choices=Service.choices, required=False, allow_blank=True
        )
        overdue = serializers.BooleanField(required=False, default=False)
        q = serializers.CharField(required=False, allow_blank=True, max_length=200)

    @extend_schema(
        parameters=[ListParams], responses=AccountOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        params = self.query(self.ListParams)
        queryset = selectors.account_list(
            actor=self.actor,
            status=params.get("status", ""),
            service=params.get("service", ""),
            overdue=params["overdue"],
            search=params.get("q", ""),
        )
        return self.paginate(queryset, AccountOutputSerializer)

    @extend_schema(
        request=InputSerializer, responses={201: AccountDetailOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.account_create(actor=self.actor, **data.validated_data)
        return Response(_detail(account), status=status.HTTP_201_CREATED)


class AccountDetailApi(SupportAPIView):
    """One account with the explanation of its risk score."""

    @extend_schema(responses=AccountDetailOutputSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        return Response(_detail(account))


class AccountStatusApi(SupportAPIView):
    """The alert the customer portal shows at login: no reasons, no signals."""

    @extend_schema(
        responses=inline_serializer(
            "AccountCustomerStatus",
            {
                "account_id": serializers.UUIDField(),
                "status": serializers.ChoiceField(choices=AccountStatus.choices),
                "restricted_services": serializers.ListField(
                    child=serializers.CharField()
                ),
                "alert": inline_serializer(
                    "AccountAlert",
                    {
                        "level": serializers.CharField(),
                        "title": serializers.CharField(),
                        "message": serializers.CharField(),
                    },
                    allow_null=True,
                ),
                "can_request_reassessment": serializers.BooleanField(),
                "how_to_request_reassessment": serializers.CharField(),
                "decision_final": serializers.BooleanField(),
                "open_request": inline_serializer(
                    "AccountOpenRequest",
                    {
                        "id": serializers.UUIDField(),
                        "status": serializers.CharField(),
                        "submitted_at": serializers.DateTimeField(),
                    },
                    allow_null=True,
                ),
            },
        )
    )
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        return Response(selectors.account_customer_status(account=account))


class AccountSignalsApi(SupportAPIView):
    """An account's risk signals; POST adds one (its restriction rule applies)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountSignalsInput"

        signal_type = serializers.ChoiceField(choices=SignalType.choices)
        weight = serializers.IntegerField(min_value=1, max_value=100)
        note = serializers.CharField(required=False, allow_blank=True, default="")
        expires_at = serializers.DateTimeField(
            required=False,
            allow_null=True,
            default=None,
            help_text="When the signal stops counting (in the future; null: never).",
        )

        def validate_expires_at(self, value: dt.datetime | None) -> dt.datetime | None:
            if value is not None and value <= timezone.now():
                raise serializers.ValidationError("An expiry must be in the future.")
            return value

    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountSignalsFilter"

        include_expired = serializers.BooleanField(
            required=False,
            default=False,
            help_text="Also list the signals whose expiry has passed.",
        )

    @extend_schema(
        parameters=[FilterSerializer], responses=SignalOutputSerializer(many=True)
    )
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        query = self.query(self.FilterSerializer)
        rows = selectors.account_signals(
            account=account, include_expired=query["include_expired"]
        )
        return self.paginate(rows, SignalOutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: SignalOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        signal = services.account_signal_add(
            actor=self.actor,
            account=account,
            source=SignalSource.SUPPORT,
            **data.validated_data,
        )
        return Response(
            SignalOutputSerializer(signal).data, status=status.HTTP_201_CREATED
        )


class AccountUsageApi(SupportAPIView):
    """The usage feed: one day's totals for an account (a repeat replaces them)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountUsageInput"

        day = serializers.DateField()
        numbers_bought = serializers.IntegerField(
            max_value=MAX_INT, min_value=0, default=0
        )
        outbound_calls = serializers.IntegerField(
            max_value=MAX_INT, min_value=0, default=0
        )
        outbound_sms = serializers.IntegerField(
            max_value=MAX_INT, min_value=0, default=0
        )
        carrier_complaints = serializers.IntegerField(
            max_value=MAX_INT, min_value=0, default=0
        )
        payment_flagged = serializers.BooleanField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses=AccountDetailOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_usage_record(
            actor=self.actor, account=account, **data.validated_data
        )
        return Response(_detail(account))


class AccountNumbersApi(SupportAPIView):
    """The account's owned numbers (E.164); POST adds some."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountNumbersInput"

        numbers = serializers.ListField(
            child=serializers.CharField(max_length=40), min_length=1, max_length=1000
        )

    @extend_schema(
        responses=inline_serializer(
            "AccountNumbers", {"numbers": serializers.ListField()}
        )
    )
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        numbers = sorted(selectors.account_owned_numbers(account=account))
        return Response({"numbers": numbers})

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "AccountNumbersAdded", {"added": serializers.ListField()}
        ),
    )
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        added = services.account_numbers_add(
            actor=self.actor, account=account, numbers=data.validated_data["numbers"]
        )
        return Response({"added": added})


class AccountRestrictApi(SupportAPIView):
    """Restrict named services (the customer is emailed)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountRestrictInput"

        services = serializers.ListField(
            child=serializers.ChoiceField(choices=Service.choices), min_length=1
        )
        reason = serializers.CharField()
        notify_customer = serializers.BooleanField(default=True)

    @extend_schema(request=InputSerializer, responses=AccountDetailOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_restrict(
            actor=self.actor, account=account, **data.validated_data
        )
        return Response(_detail(account))


class AccountHoldApi(SupportAPIView):
    """Put an account on the hold list."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountHoldInput"

        reason = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=AccountDetailOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_hold(actor=self.actor, account=account, **data.validated_data)
        return Response(_detail(account))


class AccountBlockApi(SupportAPIView):
    """Block an account (case review) or block it permanently (closed)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountBlockInput"

        reason = serializers.CharField()
        permanent = serializers.BooleanField(default=False)

    @extend_schema(request=InputSerializer, responses=AccountDetailOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_block(actor=self.actor, account=account, **data.validated_data)
        return Response(_detail(account))


class LinkSerializer(serializers.Serializer):
    """Evidence given as a link."""

    class Meta:
        ref_name = "AccountsEvidenceLink"

    kind = serializers.CharField()
    url = serializers.CharField()


class AccountRequestsApi(SupportAPIView):
    """An account's reassessment requests; POST raises one (JSON with links, or
    multipart with files)."""

    parser_classes = [JSONBodyParser, MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountRequestsInput"

        # Lenient on purpose: the service names every missing field in one answer.
        company_name = serializers.CharField(required=False, allow_blank=True)
        company_website = serializers.CharField(required=False, allow_blank=True)
        use_case = serializers.CharField(required=False, allow_blank=True)
        services_wanted = serializers.ListField(
            child=serializers.CharField(max_length=40), required=False, max_length=20
        )
        sample_message = serializers.CharField(required=False, allow_blank=True)
        destination_countries = serializers.ListField(
            child=serializers.CharField(max_length=100), required=False, max_length=250
        )
        estimated_units_per_month = serializers.CharField(required=False)
        estimated_spend_per_month = serializers.CharField(required=False)
        # many=True: the ListSerializer takes max_length (the stubs do not know).
        evidence_links = LinkSerializer(many=True, required=False, max_length=20)  # type: ignore[call-arg]
        evidence_files = serializers.ListField(
            child=serializers.FileField(), required=False, max_length=20
        )
        evidence_file_kinds = serializers.ListField(
            child=serializers.ChoiceField(choices=EvidenceKind.choices),
            required=False,
            max_length=20,
            help_text="One kind per file, in the same order.",
        )

    @extend_schema(responses=RequestOutputSerializer(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.request_list(actor=self.actor, account=account),
            RequestOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: RequestOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        links = fields.pop("evidence_links", [])
        files = fields.pop("evidence_files", [])
        kinds = fields.pop("evidence_file_kinds", [])
        if len(kinds) != len(files):
            raise serializers.ValidationError(
                {"evidence_file_kinds": "Give one kind for each file."}
            )
        evidence = [
            EvidenceInput(kind=k, file=f) for k, f in zip(kinds, files, strict=True)
        ]
        evidence += [EvidenceInput(kind=x["kind"], url=x["url"]) for x in links]
        created = services.reassessment_submit(
            actor=self.actor, account=account, data=fields, evidence=evidence
        )
        return Response(
            RequestOutputSerializer(created).data, status=status.HTTP_201_CREATED
        )


class ReviewQueueApi(SupportAPIView):
    """The support review queue: open requests, oldest first, with SLA state."""

    @extend_schema(responses=RequestOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        queryset = selectors.request_queue(actor=self.actor).prefetch_related(
            "evidence"
        )
        return self.paginate(queryset, RequestOutputSerializer)


class RequestDetailApi(SupportAPIView):
    """One reassessment request with its evidence."""

    @extend_schema(responses=RequestOutputSerializer)
    def get(self, request: Request, public_id: str) -> Response:
        obj = selectors.request_get(actor=self.actor, public_id=public_id)
        return Response(RequestOutputSerializer(obj).data)


class RequestDecideApi(SupportAPIView):
    """Decide: lift, limit (services to lift), keep (reason), or ask for info."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsRequestDecideInput"

        decision = serializers.ChoiceField(choices=Decision.choices)
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="Internal."
        )
        services = serializers.ListField(
            child=serializers.ChoiceField(choices=Service.choices), required=False
        )
        message = serializers.CharField(
            required=False, allow_blank=True, default="", help_text="To the customer."
        )

    @extend_schema(request=InputSerializer, responses=RequestOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        obj = selectors.request_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reassessment_decide(
            actor=self.actor, request=obj, **data.validated_data
        )
        return Response(RequestOutputSerializer(obj).data)


class RequestResumeApi(SupportAPIView):
    """The customer answered a request for more information: the clock restarts."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsRequestResumeInput"

        note = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=RequestOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        obj = selectors.request_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reassessment_resume(
            actor=self.actor, request=obj, **data.validated_data
        )
        return Response(RequestOutputSerializer(obj).data)


class RequestEvidenceApi(SupportAPIView):
    """Attach one more evidence item (file or link); answers a paused request."""

    parser_classes = [JSONBodyParser, MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsRequestEvidenceInput"

        kind = serializers.CharField()
        file = serializers.FileField(required=False)
        url = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={201: EvidenceOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        obj = selectors.request_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        evidence = services.evidence_add(
            actor=self.actor, request=obj, item=EvidenceInput(**data.validated_data)
        )
        return Response(
            EvidenceOutputSerializer(evidence).data, status=status.HTTP_201_CREATED
        )


class EvidenceFileApi(SupportAPIView):
    """Download an uploaded evidence file (members of the organisation only)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, public_id: str) -> FileResponse:
        evidence = selectors.evidence_get(actor=self.actor, public_id=public_id)
        return evidence_file_response(evidence)


def evidence_file_response(evidence: Evidence) -> FileResponse:
    """A file answer that the browser will not run as a page."""
    from django.http import Http404

    if not evidence.file:
        raise Http404("This evidence is a link, not a file.")
    response = FileResponse(
        evidence.file.open("rb"),
        content_type=evidence.content_type,
        as_attachment=evidence.content_type == "application/pdf",
        filename=evidence.original_name or "evidence",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class PortAwayApi(SupportAPIView):
    """Port-away grants of a closed account; POST grants one (fee waived)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsPortAwayInput"

        expires_at = serializers.DateTimeField()
        reason = serializers.CharField()

    @extend_schema(responses=PortAwayOutputSerializer(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.port_away_list(actor=self.actor, account=account),
            PortAwayOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: PortAwayOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.port_away_grant(
            actor=self.actor, account=account, **data.validated_data
        )
        return Response(
            PortAwayOutputSerializer(grant).data, status=status.HTTP_201_CREATED
        )


class AccountRefundsApi(SupportAPIView):
    """Refund requests of a closed account; POST records one."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsAccountRefundsInput"

        amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        reason = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(responses=RefundOutputSerializer(many=True))
    def get(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        return self.paginate(
            selectors.refund_list(actor=self.actor, account=account),
            RefundOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: RefundOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        account = selectors.account_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = services.refund_request_create(
            actor=self.actor, account=account, **data.validated_data
        )
        return Response(
            RefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED
        )


class RefundOutcomeApi(SupportAPIView):
    """Record the outcome of a refund request."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsRefundOutcomeInput"

        status = serializers.ChoiceField(
            choices=[RefundStatus.APPROVED, RefundStatus.REFUSED, RefundStatus.PAID]
        )
        note = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=RefundOutputSerializer)
    def post(self, request: Request, public_id: str) -> Response:
        refund = selectors.refund_get(actor=self.actor, public_id=public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.refund_outcome_record(
            actor=self.actor, refund=refund, **data.validated_data
        )
        return Response(RefundOutputSerializer(refund).data)


class FeedbackApi(SupportAPIView):
    """The feedback channel: subject `Feedback: <account email> <ticket id> Blocked
    Account`. Stored and listed; never an appeal."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AccountsFeedbackInput"

        subject = serializers.CharField()
        body = serializers.CharField()

    @extend_schema(responses=FeedbackOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.feedback_list(actor=self.actor), FeedbackOutputSerializer
        )

    @extend_schema(request=InputSerializer, responses={201: FeedbackOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_receive(actor=self.actor, **data.validated_data)
        return Response(
            FeedbackOutputSerializer(feedback).data, status=status.HTTP_201_CREATED
        )


class AccountSettingsBody(serializers.Serializer):
    """The organisation's signup-assessment and continuous-review thresholds."""

    hold_threshold = serializers.IntegerField(
        max_value=MAX_INT, min_value=0, required=False
    )
    high_risk_countries = serializers.ListField(
        child=serializers.CharField(max_length=2), required=False, max_length=250
    )
    review_window_days = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    numbers_min_for_usage_check = serializers.IntegerField(
        max_value=MAX_INT, min_value=0, required=False
    )
    min_outbound_per_number = serializers.IntegerField(
        max_value=MAX_INT, min_value=0, required=False
    )
    complaints_threshold = serializers.IntegerField(
        max_value=MAX_INT, min_value=0, required=False
    )
    spike_factor = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    spike_min_volume = serializers.IntegerField(
        max_value=MAX_INT, min_value=0, required=False
    )
    spike_history_days = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", write_only=True
    )


class AccountSettingsApi(ActorAPIView):
    """Thresholds of the organisation: members read, admins change."""

    @extend_schema(responses=AccountSettingsBody)
    def get(self, request: Request) -> Response:
        row = selectors.account_settings_for(organisation=self.actor.organisation)
        return Response(AccountSettingsBody(row).data)

    @extend_schema(request=AccountSettingsBody, responses=AccountSettingsBody)
    def patch(self, request: Request) -> Response:
        data = AccountSettingsBody(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        row = services.account_settings_update(actor=self.actor, **changes)
        return Response(AccountSettingsBody(row).data)
