"""The shared phone-number normaliser."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from trustconsole.lib.phones import (
    PhoneNumberError,
    phone_is_anonymous,
    phone_is_emergency,
    phone_normalise,
    phone_region,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (202) 555-0123", "+12025550123"),
        ("2025550123", "+12025550123"),
        ("sip:+442071838750@sip.example.com", "+442071838750"),
        ("tel:+1-202-555-0123", "+12025550123"),
        ("+4402071838750", "+442071838750"),
        ("+39 06 1234 5678", "+390612345678"),
    ],
)
def test_normalise_gives_e164(raw: str, expected: str) -> None:
    assert phone_normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("anonymous", "is not a phone number"),
        ("", "is empty"),
        ("+1 555 123 4567", "is not a valid phone number"),
        ("+1 202 555 0123 ext. 12", "has an extension"),
        ("+1 202 555 0123 0000000000000000", "is too long"),
        ("911", "is not a valid phone number"),
    ],
)
def test_normalise_refuses_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(PhoneNumberError) as info:
        phone_normalise(raw)
    assert reason in info.value.reason


def test_default_region_comes_from_settings(settings) -> None:
    settings.PHONE_DEFAULT_REGION = "GB"
    assert phone_normalise("020 7183 8750") == "+442071838750"
    with pytest.raises(PhoneNumberError):
        phone_normalise("020 7183 8750", region="")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("911", "US", True),
        ("9-1-1", "US", True),
        ("112", "US", True),
        ("999", "GB", True),
        ("911", "GB", False),
        ("000", "AU", True),
        ("+1911", "US", False),
        ("988", "US", False),
    ],
)
def test_emergency_numbers_on_raw_string(raw: str, region: str, expected: bool) -> None:
    assert phone_is_emergency(raw, region=region) is expected


def test_anonymous_and_region() -> None:
    assert phone_is_anonymous("Anonymous")
    assert phone_is_anonymous("sip:restricted@sip.example.com")
    assert phone_is_anonymous("+266696687")
    assert not phone_is_anonymous("+12025550123")
    assert phone_region("+442071838750") == "GB"


def _region_by_parse(text: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return None


def test_the_region_of_a_bare_e164_number_is_what_phonenumbers_parse_says() -> None:
    """GIVEN `+` and 7-15 digits after every country code phonenumbers knows (and
    prefixes that are none), valid numbers, invalid ones and national prefixes
    (Italian leading zeros, a trunk 0 or 1) WHEN `phone_region` reads them by
    the short steps THEN each region is the one `phonenumbers.parse` gives, and
    a number `parse` refuses has none."""
    rng = random.Random(20261203)
    prefixes = [str(code) for code in COUNTRY_CODE_TO_REGION_CODE] + ["0", "28", "999"]
    texts = []
    for prefix in prefixes:
        for length in range(7, 16):
            for lead in ("", "0", "1", "00", "3"):
                rest = length - len(prefix) - len(lead)
                if rest >= 0:
                    digits = "".join(rng.choice("0123456789") for _ in range(rest))
                    texts.append(f"+{prefix}{lead}{digits}")
    texts += [f"+{phonenumbers.country_code_for_region(r)}" for r in ("IT", "GB")]
    texts += ["+390612345678", "+442071838750", "+12025550123", "+14155550100"]
    bare = [t for t in texts if re.fullmatch(r"\+[1-9][0-9]{6,14}", t)]
    assert len(bare) > 5000
    phone_region.cache_clear()
    for text in bare:
        assert phone_region(text) == _region_by_parse(text), text
    assert phone_region("+390612345678") == "IT"
    assert phone_region("+12025550123") == "US"
