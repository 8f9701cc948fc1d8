"""Phone numbers: one normaliser for every app.

Numbers are stored and compared as E.164 strings. Anything that is not a valid number
for `phonenumbers` raises `PhoneNumberError` with a reason a user can act on; callers
turn it into a 400 naming their field. Emergency and other short numbers are checked on
the raw dialled string, before normalising, because `+1911` no longer looks like one.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from django.conf import settings
from phonenumbers import shortnumberinfo

# What providers send instead of a number when the caller withheld it.
ANONYMOUS_SENTINELS = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "private",
        "unknown",
        "unavailable",
        "withheld",
        "+266696687",  # Twilio's "ANONYMOUS" rendered as digits
        "266696687",
    }
)

_SIP = re.compile(r"^sips?:(?P<user>[^@;]+)(?:[@;].*)?$", re.IGNORECASE)

_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "has no valid country code; write it in international format, e.g. +14155550123"
    ),
    phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


class PhoneNumberError(ValueError):
    """A value that is not a usable phone number; `reason` is user-facing."""

    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"{value!r} {reason}")


def phone_strip_uri(raw: str) -> str:
    """The user part of a SIP URI (`sip:+1202…@host` → `+1202…`), else `raw` trimmed."""
    value = (raw or "").strip()
    match = _SIP.match(value)
    return match.group("user") if match else value


def phone_is_anonymous(raw: str | None) -> bool:
    """True for withheld caller IDs (`anonymous`, `restricted`, empty, …)."""
    return phone_strip_uri(raw or "").lower() in ANONYMOUS_SENTINELS


def phone_normalise(raw: str, *, region: str | None = None) -> str:
    """`raw` as E.164, or PhoneNumberError.

    A number without `+` is read in `region` (default: PHONE_DEFAULT_REGION).
    Extensions are refused rather than silently dropped.
    """
    value = phone_strip_uri(raw)
    if not value:
        raise PhoneNumberError(raw, "is empty")
    if region is None:
        region = settings.PHONE_DEFAULT_REGION or None
    e164, reason = _e164(value, region)
    if reason:
        raise PhoneNumberError(raw, reason)
    return e164


# Parsing and validating a number costs ~20-60 µs, and the hot paths see the same
# numbers again and again (a dialer's few caller IDs on every outbound check), so
# the last answers are kept; `phonenumbers`' metadata never changes at run time.
NUMBER_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=NUMBER_CACHE_SIZE)
def _e164(value: str, region: str | None) -> tuple[str, str]:
    """(E.164, "") for a valid number, or ("", the reason it is refused)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        return "", _REASONS.get(exc.error_type, "is not a phone number")
    if number.extension:
        return "", "has an extension; give the number without it"
    if not phonenumbers.is_valid_number(number):
        return "", "is not a valid phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def phone_or_field_error(raw: str, *, field: str, region: str | None = None) -> str:
    """`raw` as E.164, or Django's ValidationError naming `field` and the reason
    (the shape every service and API answers with)."""
    from django.core.exceptions import ValidationError

    try:
        return phone_normalise(str(raw or ""), region=region or None)
    except PhoneNumberError as exc:
        raise ValidationError({field: f"{raw!r} {exc.reason}."}) from None


def phone_possible_digits(raw: str, *, region: str | None) -> int:
    """E.164 digits (`+14155550123` → 14155550123) of a *possible* number.

    For national Do-Not-Call registries, which are the authority on their own
    ranges: the right length for the country is enough (validity per
    `phonenumbers`' metadata is not asked). PhoneNumberError says why not.
    """
    text = raw.strip()
    if not text:
        raise PhoneNumberError(raw, "is empty")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise PhoneNumberError(raw, "has no valid country code") from None
        raise PhoneNumberError(raw, "is not a phone number") from None
    if number.extension:
        raise PhoneNumberError(raw, "has an extension")
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        raise PhoneNumberError(raw, "is a local number; give it with its area code")
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise PhoneNumberError(raw, "is not a possible phone number")
    national = phonenumbers.national_significant_number(number)
    return int(f"{number.country_code}{national}")


@functools.lru_cache(maxsize=NUMBER_CACHE_SIZE)
def phone_region(e164: str) -> str | None:
    """The ISO region of an E.164 number, e.g. `US`; None when unknown (kept, as
    `phone_normalise`'s answers are)."""
    if _PLUS_DIGITS.fullmatch(e164):
        number = _plus_digits_parsed(e164)
        return None if number is None else phonenumbers.region_code_for_number(number)
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{6,14}")
_KEPT_LENGTHS = frozenset(
    {
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    }
)


def _plus_digits_parsed(text: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(text, None)` for `+` and 7-15 digits (None where it
    raises), by the steps that apply to such a text only.

    A rule reading a caller's country parses a number the gate has never seen
    on every new call; `parse` first looks for a number inside free text
    (punctuation, letters, extensions, RFC 3966), which a bare E.164 string
    never has: that search is most of its ~18 µs. What is left is the same code
    of `phonenumbers` in the same order (tests/lib: the two agree on numbers of
    every country code and length)."""
    from phonenumbers import phonenumberutil as util

    country_code, national = util._extract_country_code(text[1:])
    if country_code == 0:
        return None  # "Could not interpret numbers after plus-sign."
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, util.region_code_for_country_code(country_code)
    )
    if metadata is None or len(national) < util._MIN_LENGTH_FOR_NSN:
        return None
    _carrier, potential, _ = util._maybe_strip_national_prefix_carrier_code(
        national, metadata
    )
    if util._test_number_length(potential, metadata) not in _KEPT_LENGTHS:
        national = potential
    if not util._MIN_LENGTH_FOR_NSN <= len(national) <= util._MAX_LENGTH_FOR_NSN:
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code)
    util._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


def phone_is_emergency(raw: str, *, region: str | None = None) -> bool:
    """True when the raw dialled string is an emergency number in `region`.

    `region` defaults to PHONE_DEFAULT_REGION. Checks the digits as dialled (`911`,
    `112`, `000`, `9-1-1`), which `phonenumbers` matches exactly.
    """
    value = phone_strip_uri(raw)
    if value.startswith("+"):
        return False
    region = region or settings.PHONE_DEFAULT_REGION or "US"
    return shortnumberinfo.is_emergency_number(value, region)
