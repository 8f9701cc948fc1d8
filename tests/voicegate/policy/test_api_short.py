"""The outbound check's short path (voicegate/policy/api/hot.py) answers ordinary
checks exactly as the DRF view does, and leaves every other request to it: the
same status, JSON and headers, and nothing logged for a refused body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import RequestFactory

from tests.accounts.factories import AccountFactory
from tests.voicegate.policy.conftest import DEST, OWNED
from trustconsole.core.actor import Actor
from trustconsole.core.models import AuditEntry
from trustconsole.core.services import token_create, token_revoke
from voicegate.policy import services
from voicegate.policy.api import hot
from voicegate.policy.api.serializers import OutboundCheckInput
from voicegate.policy.api.views import OutboundCheckApi, outbound_check_view
from voicegate.policy.models import OutboundDenial

PATH = "/api/v1/voice/outbound-check"
JSON = "application/json"

drf_view = OutboundCheckApi.as_view()


@pytest.fixture
def tokens(org) -> dict[str, str]:
    actor = Actor.system_for(org, "test")
    revoked, revoked_raw = token_create(actor=actor, name="old", role="operator")
    token_revoke(actor=actor, token=revoked, reason="rotated")
    return {
        "operator": token_create(actor=actor, name="dialer", role="operator")[1],
        "viewer": token_create(actor=actor, name="reader", role="viewer")[1],
        "revoked": revoked_raw,
    }


def _request(body: bytes, token: str | None, content_type: str = JSON, **extra: str):
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    path = extra.pop("path", PATH)
    return RequestFactory().post(path, body, content_type=content_type, **extra)


def _answer(view: Any, *args: Any, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    response = view(_request(*args, **kwargs))
    if hasattr(response, "render"):
        response.render()
    headers = {k: response[k] for k in ("Content-Type", "Allow") if k in response}
    return response.status_code, json.loads(response.content), headers


def _body(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_the_short_path_knows_every_field_of_the_serializer() -> None:
    """GIVEN OutboundCheckInput, the schema and validator of the endpoint, THEN
    the short path takes exactly its fields, with the same limits, and only plain
    text (a new field or rule there must be taught to hot.py)."""
    fields = OutboundCheckInput().fields
    assert set(fields) == set(hot.REQUIRED) | set(hot.OPTIONAL)
    for name, limit in {**hot.REQUIRED, **hot.OPTIONAL}.items():
        field: Any = fields[name]
        assert field.max_length == limit, name
        assert field.required is (name in hot.REQUIRED), name
        assert field.allow_blank and field.trim_whitespace, name
        assert field.allow_null is (name == "account"), name
    assert hot.with_short_path(drf_view) is not drf_view  # the DRF steps are known


def test_an_ordinary_check_is_answered_by_the_short_path_as_by_drf(
    tokens, account
) -> None:
    fields = {"from": f" {OWNED} ", "to": DEST, "account": str(account.public_id)}
    body = _body(**fields)
    short = hot.outbound_check_short(
        _request(body, tokens["operator"]), roles=("operator", "support"),
        allow="POST, OPTIONS",
    )  # fmt: skip
    assert short is not None and short.status_code == 200
    status, answer, headers = _answer(outbound_check_view, body, tokens["operator"])
    assert (status, answer, headers) == _answer(drf_view, body, tokens["operator"])
    assert answer["allowed"] is True
    assert headers == {"Content-Type": JSON, "Allow": "POST, OPTIONS"}


def test_a_refused_call_is_logged_once_per_check_on_either_path(tokens, org) -> None:
    op = Actor(organisation=org, role="operator", system="test")
    dnc_list = services.dnc_list_create(actor=op, name="Own")
    services.dnc_number_add(actor=op, dnc_list=dnc_list, number=DEST)
    services.caller_id_verify(actor=op, number=OWNED, method="document")
    body = _body(**{"from": OWNED, "to": DEST})
    short = _answer(outbound_check_view, body, tokens["operator"])
    full = _answer(drf_view, body, tokens["operator"])
    assert short == full
    assert [v["code"] for v in short[1]["violations"]] == ["dnc"]
    assert OutboundDenial.objects.count() == 2


# Requests the short path leaves to the DRF view, which refuses each with its
# documented error (or, for the last ones, answers it normally).
LEFT_TO_DRF = [
    ("bad JSON", b'{"from": "+14155550100", "to":', {}, 400),
    ("empty body", b"", {}, 400),
    ("a list", b"[]", {}, 400),
    ("a string", b'"+14155550100"', {}, 400),
    ("from missing", _body(to=DEST), {}, 400),
    ("to missing", _body(**{"from": OWNED}), {}, 400),
    ("to a number", _body(**{"from": OWNED, "to": 14155550199}), {}, 200),
    ("to null", _body(**{"from": OWNED, "to": None}), {}, 400),
    ("to too long", _body(**{"from": OWNED, "to": "1" * 65}), {}, 400),
    ("NUL in from", _body(**{"from": OWNED + "\x00", "to": DEST}), {}, 400),
    ("region too long", _body(**{"from": OWNED, "to": DEST, "region": "USA"}), {}, 400),
    ("region null", _body(**{"from": OWNED, "to": DEST, "region": None}), {}, 400),
    ("account a list", _body(**{"from": OWNED, "to": DEST, "account": []}), {}, 400),
    ("too deep", b'{"from": ' + b"[" * 60 + b"]" * 60 + b"}", {}, 400),
    ("form body", b"from=%2B14155550100&to=%2B14155550199",
     {"content_type": "application/x-www-form-urlencoded"}, 200),
    ("HTML only", _body(**{"from": OWNED, "to": DEST}), {"HTTP_ACCEPT": "text/html"},
     406),
    ("non-ASCII digits", _body(**{"from": OWNED, "to": "+١٤١٥٥٥٥٠١٩٩"}), {}, 200),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [case[1:] for case in LEFT_TO_DRF],
    ids=[case[0] for case in LEFT_TO_DRF],
)
def test_what_the_short_path_cannot_vouch_for_is_answered_by_drf(
    tokens, body, extra, status
) -> None:
    """GIVEN a body the short path does not take WHEN it is posted THEN the answer
    is the DRF view's own, refusals in the field + reason shape, and a refused
    body changes nothing: no denial, no audit entry."""
    audit = AuditEntry.objects.count()
    extra = dict(extra)
    args = (body, tokens["operator"], extra.pop("content_type", JSON))
    short = hot.outbound_check_short(
        _request(*args, **extra), roles=("operator", "support"), allow="POST, OPTIONS"
    )
    assert short is None
    answer = _answer(outbound_check_view, *args, **extra)
    assert answer == _answer(drf_view, *args, **extra)
    assert answer[0] == status
    if status >= 400:
        assert answer[1]["errors"] and all("reason" in e for e in answer[1]["errors"])
        assert not OutboundDenial.objects.exists()
        assert AuditEntry.objects.count() == audit


@pytest.mark.parametrize(
    ("fields", "field", "status"),
    [
        ({"from": "nonsense", "to": DEST}, "from", 400),
        ({"from": "anonymous", "to": DEST}, "from", 400),
        ({"from": "", "to": DEST}, "from", 400),
        ({"from": OWNED, "to": "12"}, "to", 400),
        ({"from": OWNED, "to": DEST, "region": "ZZ"}, "region", 400),
        ({"from": OWNED, "to": DEST, "account": "not-an-id"}, None, 404),
    ],
)
def test_the_check_refuses_bad_numbers_on_the_short_path_as_drf_does(
    tokens, fields, field, status
) -> None:
    audit = AuditEntry.objects.count()
    body = _body(**fields)
    answer = _answer(outbound_check_view, body, tokens["operator"])
    assert answer == _answer(drf_view, body, tokens["operator"])
    code, data, headers = answer
    assert code == status
    assert data["errors"][0]["field"] == field and data["errors"][0]["reason"]
    assert headers["Content-Type"] == JSON
    assert not OutboundDenial.objects.exists()
    assert AuditEntry.objects.count() == audit


def test_another_organisations_account_is_a_404_on_the_short_path(
    tokens, other_org
) -> None:
    outsider = AccountFactory(organisation=other_org)
    body = _body(**{"from": OWNED, "to": DEST, "account": str(outsider.public_id)})
    answer = _answer(outbound_check_view, body, tokens["operator"])
    assert answer == _answer(drf_view, body, tokens["operator"])
    assert answer[0] == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("viewer", 403), ("revoked", 401), ("unknown", 401), (None, 401)],
)
def test_credentials_the_short_path_cannot_accept_are_refused_by_drf(
    tokens, who, status
) -> None:
    token = {"unknown": "tc_" + "x" * 40, None: None}.get(who, tokens.get(who or ""))
    body = _body(**{"from": OWNED, "to": DEST})
    short = hot.outbound_check_short(
        _request(body, token), roles=("operator", "support"), allow="POST, OPTIONS"
    )
    assert short is None
    answer = _answer(outbound_check_view, body, token)
    assert answer == _answer(drf_view, body, token)
    assert answer[0] == status
    assert not OutboundDenial.objects.exists()
