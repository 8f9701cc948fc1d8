"""The seed's rules for a remediation request body, with one problem per mistake.

Used by the console's services (and so its /v2 API and pages) and by the sandbox.
Every problem names its JSON pointer, so a client sees which field (and which
number, by index) to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from remediation.errors import InvalidParameters, Problem, problem
from trustconsole.lib import netguard

MAX_NUMBERS = 2000
MAX_PURPOSE = 2000
MAX_EMAIL = 255
MAX_WEBHOOK_URL = 2048
# The provider's E.164 pattern: a "+", a non-zero digit, then 9 to 14 digits.
E164 = re.compile(r"^\+[1-9][0-9]{9,14}$")
FIELDS = ("phone_numbers", "call_purpose", "contact_email", "webhook_url")

_https_url = URLValidator(schemes=["https"])


def missing(field: str) -> Problem:
    """A required field that is absent."""
    return Problem(
        code="10004",
        title="Missing required parameter",
        detail=f"{field} is required.",
        pointer=f"/{field}",
    )


def invalid(field: str, detail: str) -> Problem:
    """A field whose value breaks a rule."""
    return problem(422, detail, pointer=f"/{field}")


def invalid_url(detail: str) -> Problem:
    """webhook_url breaks a rule."""
    return Problem(
        code="10003", title="Invalid URL", detail=detail, pointer="/webhook_url"
    )


@dataclass(frozen=True)
class Submission:
    """A validated request body."""

    phone_numbers: list[str]
    call_purpose: str
    contact_email: str
    webhook_url: str


def unknown_fields(data: Mapping[str, object]) -> list[Problem]:
    """The body accepts only the seed's four fields (additionalProperties: false)."""
    return [
        invalid(str(name), f"{name} is not a field of a remediation request.")
        for name in data
        if name not in FIELDS
    ]


def _numbers(value: object, problems: list[Problem]) -> list[str]:
    if value is None:
        problems.append(missing("phone_numbers"))
        return []
    if not isinstance(value, list):
        problems.append(
            invalid("phone_numbers", "phone_numbers must be a list of E.164 numbers.")
        )
        return []
    if not value:
        problems.append(
            invalid("phone_numbers", "phone_numbers must hold 1 to 2,000 numbers.")
        )
        return []
    if len(value) > MAX_NUMBERS:
        problems.append(
            invalid(
                "phone_numbers",
                f"phone_numbers must hold 1 to 2,000 numbers (got {len(value):,}).",
            )
        )
        return []
    seen: set[str] = set()
    for index, number in enumerate(value):
        if not isinstance(number, str) or not E164.match(number):
            problems.append(
                Problem(
                    code="10016",
                    title="Phone number must be in +E.164 format",
                    detail=f"{number!r} is not an E.164 number such as +12025551234.",
                    pointer=f"/phone_numbers/{index}",
                )
            )
        elif number in seen:
            problems.append(
                invalid(
                    f"phone_numbers/{index}",
                    f"{number} appears more than once in phone_numbers.",
                )
            )
        else:
            seen.add(number)
    return list(value)


def _purpose(value: object, problems: list[Problem]) -> str:
    if value is None:
        problems.append(missing("call_purpose"))
        return ""
    if not isinstance(value, str):
        problems.append(invalid("call_purpose", "call_purpose must be text."))
        return ""
    text = value.strip()
    if not text or len(text) > MAX_PURPOSE:
        problems.append(
            invalid(
                "call_purpose",
                f"call_purpose must be 1 to 2,000 characters (got {len(text):,}).",
            )
        )
    return text


def _email(value: object, problems: list[Problem]) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        problems.append(invalid("contact_email", "contact_email must be text."))
        return ""
    email = value.strip()
    if len(email) > MAX_EMAIL:
        problems.append(
            invalid(
                "contact_email",
                f"contact_email must be at most 255 characters (got {len(email):,}).",
            )
        )
        return email
    try:
        validate_email(email)
    except ValidationError:
        problems.append(
            invalid("contact_email", f"{email!r} is not a valid email address.")
        )
    return email


def _webhook(value: object, problems: list[Problem], *, allow_private: bool) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        problems.append(invalid_url("webhook_url must be text."))
        return ""
    url = value.strip()
    if len(url) > MAX_WEBHOOK_URL:
        problems.append(
            invalid_url(
                f"webhook_url must be at most 2,048 characters (got {len(url):,})."
            )
        )
        return url
    if not url.lower().startswith("https://"):
        problems.append(invalid_url("webhook_url must be an https:// URL."))
        return url
    try:
        _https_url(url)
    except ValidationError:
        problems.append(invalid_url(f"{url!r} is not a valid https:// URL."))
        return url
    if not allow_private:
        try:
            netguard.url_check(url)
        except netguard.UnsafeDestination as exc:
            problems.append(invalid_url(f"webhook_url must be a public address: {exc}"))
    return url


def clean_submission(
    *,
    phone_numbers: object,
    call_purpose: object,
    contact_email: object = None,
    webhook_url: object = None,
    allow_private_webhook: bool = False,
) -> Submission:
    """The validated body, or InvalidParameters naming every mistake at once."""
    problems: list[Problem] = []
    numbers = _numbers(phone_numbers, problems)
    purpose = _purpose(call_purpose, problems)
    email = _email(contact_email, problems)
    url = _webhook(webhook_url, problems, allow_private=allow_private_webhook)
    if problems:
        raise InvalidParameters(problems)
    return Submission(
        phone_numbers=numbers,
        call_purpose=purpose,
        contact_email=email,
        webhook_url=url,
    )
