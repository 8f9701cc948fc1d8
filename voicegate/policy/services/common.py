"""What the outbound policy writes share: who may act and input cleaning."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from trustconsole.core.choices import Role
from trustconsole.lib.phones import phone_or_field_error

ACT = (Role.OPERATOR, Role.SUPPORT)


def clean_e164(raw: str, field: str, *, region: str | None = None) -> str:
    """A phone number as E.164, or ValidationError naming the field."""
    return phone_or_field_error(raw, field=field, region=region)


def clean_text(value: str, field: str, *, required: bool, limit: int) -> str:
    """Stripped text within `limit` characters (and present when `required`)."""
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > limit:
        raise ValidationError({field: f"Keep it to {limit} characters."})
    return value


def clean_country(value: str, field: str = "country") -> str:
    """An ISO country code upper-cased, or empty."""
    import phonenumbers

    value = (value or "").strip().upper()
    if value and value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: f"{value!r} is not a known ISO country code."})
    return value
