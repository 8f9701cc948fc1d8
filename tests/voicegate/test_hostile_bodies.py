"""Provider webhooks refuse hostile bodies with a JSON 4xx, after verification."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.test_hostile_input import DEEP, assert_console_error, deep_json
from tests.voicegate.conftest import call_initiated, hook_path, logged
from voicegate.choices import Provider

pytestmark = pytest.mark.django_db(transaction=True)


def test_signed_telnyx_hook_with_deep_json_is_a_400_after_verification(
    org, make_connection, telnyx_signer
) -> None:
    """The signature is checked over the raw body, then the body is refused."""
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    url = hook_path(connection)
    raw = deep_json(DEEP)
    unsigned = Client().post(url, raw, content_type="application/json")
    assert unsigned.status_code == 401  # verification still comes first
    response = Client().post(
        url, raw, content_type="application/json", **telnyx_signer.headers(raw)
    )
    assert_console_error(response, 400, "data")
    assert not logged().exists()
    good = json.dumps(call_initiated("+14155550188")).encode()
    answer = Client().post(
        url, good, content_type="application/json", **telnyx_signer.headers(good)
    )
    assert answer.status_code == 200


def test_a_telnyx_hook_over_the_limit_is_a_json_413(
    org, settings, make_connection, telnyx_signer
) -> None:
    settings.API_JSON_MAX_BYTES = 2048
    connection = make_connection(org, secret=telnyx_signer.public_b64)
    raw = json.dumps({"data": {"padding": "x" * 4000}}).encode()
    response = Client().post(
        hook_path(connection),
        raw,
        content_type="application/json",
        **telnyx_signer.headers(raw),
    )
    assert_console_error(response, 413)


def test_a_pbx_hook_with_deep_json_is_a_400(org, make_connection) -> None:
    connection = make_connection(org, Provider.GENERIC, secret="shared-token-123456")
    response = Client().post(
        hook_path(connection),
        deep_json(DEEP),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer shared-token-123456",
    )
    assert_console_error(response, 400)


def test_a_twilio_form_with_too_many_fields_is_a_json_400(org, make_connection) -> None:
    connection = make_connection(org, Provider.TWILIO, secret="twilio-auth-token")
    form = "&".join(f"f{i}=1" for i in range(1500))
    response = Client().post(
        hook_path(connection),
        form,
        content_type="application/x-www-form-urlencoded",
    )
    assert_console_error(response, 400)
