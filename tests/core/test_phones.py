"""The shared phone-number normaliser."""

from __future__ import annotations

import pytest

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
