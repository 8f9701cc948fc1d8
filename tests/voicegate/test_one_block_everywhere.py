"""One identity, one block, everywhere at once: after one Blacklist every channel's
real entry point refuses the identity, after Clear status every one lets it through,
and each logged decision carries its explanation."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest
from rest_framework.test import APIClient

from tests.accounts.factories import AccountFactory
from tests.visitors.factories import WidgetFactory
from tests.voicegate.conftest import call_initiated, hook_path, logged
from trustconsole.core.actor import Actor
from visitors.models import BlockedAttempt
from visitors.services import visitor_blacklist, visitor_clear_status, visitor_upsert
from voicegate import signatures
from voicegate.choices import Provider

PHONE = "+14155550123"
EMAIL = "mallory@example.com"
WIDGET_ID = "w-mallory"


def _form_signed(provider: str, url: str, params: dict, token: str) -> dict:
    listed = {k: [v] for k, v in params.items()}
    if provider == Provider.TWILIO:
        sig = signatures.twilio_signature(auth_token=token, url=url, params=listed)
        return {"HTTP_X_TWILIO_SIGNATURE": sig}
    sig = signatures.plivo_signature_v3(
        auth_token=token, url=url, nonce="1", method="POST", params=listed
    )
    return {"HTTP_X_PLIVO_SIGNATURE_V3": sig, "HTTP_X_PLIVO_SIGNATURE_V3_NONCE": "1"}


@pytest.mark.django_db(transaction=True)
def test_one_blacklist_blocks_everywhere_and_clear_status_frees_everywhere(
    org, telnyx_signer, make_connection, client, telnyx_api, api_client_for
) -> None:
    actor = Actor.system_for(org, "test")
    mallory = visitor_upsert(
        actor=actor, name="Mallory", phones=[PHONE], emails=[EMAIL],
        widget_ids=[WIDGET_ID],
    )  # fmt: skip
    widget = WidgetFactory(organisation=org)
    telnyx = make_connection(org, secret=telnyx_signer.public_b64)
    texml = make_connection(org, Provider.TELNYX_TEXML, secret=telnyx_signer.public_b64)
    twilio = make_connection(org, Provider.TWILIO, secret="twilio-token")
    plivo = make_connection(org, Provider.PLIVO, secret="plivo-token")
    pbx_token = "pbx-shared-token-0123456789"
    generic = make_connection(org, Provider.GENERIC, secret=pbx_token)
    api = api_client_for(org, "operator")
    customer = AccountFactory(organisation=org, email=EMAIL)

    def widget_post() -> bool:
        """True when the message reached the Inbox (not silently blocked)."""
        before = BlockedAttempt.objects.count()
        response = APIClient().post(
            "/widget/v1/messages",
            {
                "visitor_id": f"fresh-{uuid.uuid4().hex[:6]}",
                "email": EMAIL,
                "body": "hi",
            },
            format="json",
            REMOTE_ADDR="192.0.2.10",
            headers={"X-Widget-Key": widget.key},
        )
        assert response.status_code == 202
        return BlockedAttempt.objects.count() == before

    def telnyx_call() -> str:
        body = json.dumps(call_initiated(PHONE)).encode()
        response = client.post(
            hook_path(telnyx), body, content_type="application/json",
            **telnyx_signer.headers(body),
        )  # fmt: skip
        return response.json()["decision"]

    def texml_call() -> str:
        body = f"CallSid=v3:{uuid.uuid4().hex}&From=%2B{PHONE[1:]}&To=%2B14155550100"
        response = client.post(
            hook_path(texml), body, content_type="application/x-www-form-urlencoded",
            **telnyx_signer.headers(body.encode()),
        )  # fmt: skip
        root = ET.fromstring(response.content)
        return "reject" if [c.tag for c in root] == ["Reject"] else "allow"

    def form_call(connection, token: str, params: dict, reject_tag: str) -> str:
        url = "http://testserver" + hook_path(connection)
        headers = _form_signed(connection.provider, url, params, token)
        root = ET.fromstring(
            client.post(hook_path(connection), params, **headers).content
        )
        return "reject" if [c.tag for c in root] == [reject_tag] else "allow"

    def twilio_call() -> str:
        params = {
            "CallSid": "CA" + uuid.uuid4().hex,
            "From": PHONE,
            "To": "+14155550100",
        }
        return form_call(twilio, "twilio-token", params, "Reject")

    def plivo_call() -> str:
        params = {"CallUUID": str(uuid.uuid4()), "From": PHONE[1:], "To": "14155550100"}
        return form_call(plivo, "plivo-token", params, "Hangup")

    def generic_call() -> str:
        response = client.post(
            hook_path(generic), {"from": PHONE, "to": "+14155550100"},
            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {pbx_token}",
        )  # fmt: skip
        return response.json()["action"]

    def decide_api() -> dict:
        return api.post(
            "/api/v1/voice/decide", {"from": PHONE, "to": "+14155550100"}, format="json"
        ).json()

    def outbound() -> dict:
        return api.post(
            "/api/v1/voice/outbound-check",
            {"from": "+14155550100", "to": PHONE},
            format="json",
        ).json()

    support = api_client_for(org, "support")

    def account_action() -> bool:
        """True when the account status API says the customer may use voice."""
        path = f"/api/v1/accounts/{customer.public_id}"
        status = support.get(path + "/status").json()
        detail = support.get(path).json()
        voice = next(s for s in detail["services"] if s["service"] == "voice")
        assert voice["allowed"] == ("voice" not in status["restricted_services"])
        return voice["allowed"]

    def everywhere() -> dict:
        codes = [v["code"] for v in outbound()["violations"]]
        return {
            "chat": widget_post(),
            "telnyx": telnyx_call(),
            "texml": texml_call(),
            "twilio": twilio_call(),
            "plivo": plivo_call(),
            "generic": generic_call(),
            "decide": decide_api()["action"],
            "outbound": "blacklisted_destination" not in codes,
            "account": account_action(),
        }

    free = {
        "chat": True, "telnyx": "allow", "texml": "allow", "twilio": "allow",
        "plivo": "allow", "generic": "allow", "decide": "allow", "outbound": True,
        "account": True,
    }  # fmt: skip
    blocked = {
        "chat": False, "telnyx": "reject", "texml": "reject", "twilio": "reject",
        "plivo": "reject", "generic": "reject", "decide": "reject", "outbound": False,
        "account": False,
    }  # fmt: skip
    assert everywhere() == free
    visitor_blacklist(actor=actor, visitor=mallory, reason="fraud ring")
    assert everywhere() == blocked
    # Every logged decision says what decided it.
    why = decide_api()["explanation"]
    assert (why["step"], why["entry"]["id"], why["entry"]["reason"]) == (
        "blacklist",
        str(mallory.public_id),
        "fraud ring",
    )
    rejected = logged().filter(decision="reject")
    assert rejected.count() >= 6
    assert {row.explanation["step"] for row in rejected} == {"blacklist"}
    attempt = BlockedAttempt.objects.get()
    assert attempt.explanation["identity"] == {"kind": "email", "value": EMAIL}
    denial = outbound()
    assert denial["explanation"]["reason"] == "blacklisted_destination"
    visitor_clear_status(actor=actor, visitor=mallory, reason="cleared by support")
    assert everywhere() == free
