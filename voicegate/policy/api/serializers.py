"""Serializers of the outbound policy API (names are unique across the project)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from trustconsole.policy.api import ExplanationOutput
from voicegate.policy import selectors
from voicegate.policy.choices import (
    DncKind,
    DncProblemMode,
    DncStorage,
    ImportMode,
    ImportStatus,
    SignalWeight,
    VerificationMethod,
    Violation,
)

# Counts and thresholds fit a database integer column.
MAX_INT = 2_147_483_647


class OutboundCheckInput(serializers.Serializer):
    """A proposed outbound call. `from` and `to`: E.164, or national numbers read in
    `region` (default: the caller ID's country)."""

    to = serializers.CharField(max_length=64, allow_blank=True)
    account = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, help_text="Account id"
    )
    region = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="ISO country"
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `from` is a Python keyword, so it cannot be declared as an attribute.
        fields["from"] = serializers.CharField(max_length=64, allow_blank=True)
        return fields


class OutboundViolationOutput(serializers.Serializer):
    """One violation of the acceptable-use policy."""

    code = serializers.ChoiceField(choices=Violation.choices)
    detail = serializers.CharField()
    explanation = ExplanationOutput(
        required=False, help_text="What decided (absent on denials logged before)."
    )


class OutboundWarningOutput(serializers.Serializer):
    """Something to know that does not refuse the call: a stale national list when
    the organisation warns instead of refusing, or `caller_id_high_spam_risk` when
    the caller ID is one of its enterprise numbers with a high spam risk."""

    code = serializers.CharField()
    message = serializers.CharField()


class OutboundCheckOutput(serializers.Serializer):
    """The answer: allowed, every violation found, and warnings (never denials)."""

    allowed = serializers.BooleanField()
    violations = OutboundViolationOutput(many=True)
    warnings = OutboundWarningOutput(many=True)
    explanation = ExplanationOutput(
        allow_null=True,
        help_text="What decided: the first violation's explanation, or why the "
        "call is allowed.",
    )


class DncImportOutput(serializers.Serializer):
    """A CSV import and its progress."""

    id = serializers.UUIDField(source="public_id")
    list = serializers.UUIDField(source="dnc_list.public_id")
    status = serializers.ChoiceField(choices=ImportStatus.choices)
    mode = serializers.ChoiceField(choices=ImportMode.choices)
    as_of = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(source="version.number", allow_null=True)
    file_name = serializers.CharField()
    file_size = serializers.IntegerField()
    bytes_read = serializers.IntegerField()
    percent = serializers.IntegerField()
    rows_read = serializers.IntegerField()
    valid = serializers.IntegerField()
    invalid = serializers.IntegerField()
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    # A declared field, not Serializer.errors (DRF takes it out of the class).
    errors = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]
    error = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class DncListOutput(serializers.Serializer):
    """A Do-Not-Call list with its count and last import."""

    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=DncKind.choices)
    country = serializers.CharField()
    description = serializers.CharField()
    entry_count = serializers.IntegerField()
    storage = serializers.ChoiceField(choices=DncStorage.choices)
    as_of = serializers.DateField(allow_null=True)
    version = serializers.IntegerField(source="current_version.number", allow_null=True)
    last_import = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_last_import(self, obj: Any) -> dict | None:
        latest = self.context.get("last_imports")
        if latest is None:
            latest = selectors.dnc_last_imports(lists=[obj])
        row = latest.get(obj.pk)
        return DncImportOutput(row).data if row else None


class DncListInput(serializers.Serializer):
    """A new Do-Not-Call list."""

    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=DncKind.choices, default=DncKind.INTERNAL)
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default=""
    )
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class DncNumberInput(serializers.Serializer):
    """One number to put on a list."""

    number = serializers.CharField(max_length=64)


class DncEntryOutput(serializers.Serializer):
    """One number on a list."""

    number = serializers.CharField(source="e164")


class DncImportInput(serializers.Serializer):
    """A file (one number per row, or `area code,number`; gzip or zip for national
    lists), the country of numbers without +, what the file is (`mode`) and the
    registry file's date (`as_of`; default: a date in the file name, else today)."""

    file = serializers.FileField()
    region = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default=""
    )
    mode = serializers.ChoiceField(
        choices=ImportMode.choices, required=False, default=ImportMode.FULL
    )
    as_of = serializers.DateField(required=False, allow_null=True, default=None)


class CallerIdOutput(serializers.Serializer):
    """A verified caller ID."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    note = serializers.CharField()
    verified_by = serializers.CharField()
    verified_at = serializers.DateTimeField()


class CallerIdInput(serializers.Serializer):
    """A caller ID to record as verified (no account: the organisation's own)."""

    number = serializers.CharField(max_length=64)
    account = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    method = serializers.ChoiceField(choices=VerificationMethod.choices)
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )
    verified_at = serializers.DateTimeField(required=False, allow_null=True)


class ConsentOutput(serializers.Serializer):
    """A destination's consent to be called."""

    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    evidence = serializers.CharField()
    given_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    recorded_by = serializers.CharField()


class ConsentInput(serializers.Serializer):
    """Consent to record (no account: consent to every caller of the organisation)."""

    number = serializers.CharField(max_length=64)
    account = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    evidence = serializers.CharField(max_length=500)
    given_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class DenialOutput(serializers.Serializer):
    """A refused outbound call with its violations."""

    id = serializers.UUIDField(source="public_id")
    account = serializers.UUIDField(source="account.public_id", allow_null=True)
    to = serializers.CharField(source="to_number")
    violations = OutboundViolationOutput(many=True)
    requested_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    explanation = ExplanationOutput(
        many=True, help_text="What decided each violation, in precedence order."
    )

    def to_representation(self, instance: Any) -> dict:
        data = super().to_representation(instance)
        return {"id": data["id"], "from": instance.from_number, **data}


class DenialCountOutput(serializers.Serializer):
    """Denials of one customer account."""

    account = serializers.UUIDField(source="account__public_id")
    company_name = serializers.CharField(source="account__company_name")
    status = serializers.CharField(source="account__status")
    denials = serializers.IntegerField(source="total")


class PolicySettingsIO(serializers.Serializer):
    """The organisation's outbound policy settings."""

    harassment_limit = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    harassment_window_seconds = serializers.IntegerField(
        min_value=60, max_value=90 * 86400, required=False
    )
    blacklisted_do_not_contact = serializers.BooleanField(required=False)
    denial_threshold = serializers.IntegerField(
        max_value=MAX_INT, min_value=1, required=False
    )
    denial_window_seconds = serializers.IntegerField(
        min_value=60, max_value=90 * 86400, required=False
    )
    denial_signal_weight = serializers.ChoiceField(
        choices=SignalWeight.choices, required=False
    )
    auto_restrict_voice = serializers.BooleanField(required=False)
    dnc_stale_mode = serializers.ChoiceField(
        choices=DncProblemMode.choices, required=False
    )
    dnc_unavailable_mode = serializers.ChoiceField(
        choices=DncProblemMode.choices, required=False
    )


class NumberParams(serializers.Serializer):
    """`?number=`: one number to look for."""

    number = serializers.CharField(
        required=False, allow_blank=True, max_length=64, default=""
    )


class AccountParams(serializers.Serializer):
    """`?account=`: a customer account's id."""

    account = serializers.CharField(required=False, allow_blank=True, max_length=64)
