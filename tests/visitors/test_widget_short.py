"""The widget's short path answers ordinary messages without DRF, exactly as
WidgetMessageApi does, and leaves every other request to it (the documented 4xx).

Each case is sent twice: as the widget sends it (the short path) and with an
`Accept` header the short path does not negotiate, which leaves it to the DRF
view; both must give the same status, body shape and headers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from visitors.api import serializers as s
from visitors.api import views
from visitors.models import Message

URL = "/widget/v1/messages"
TO_DRF = {"Accept": "application/json; q=1"}  # negotiated: the DRF view answers


def _post(widget: Any, body: bytes, **headers: str) -> Any:
    return APIClient().post(
        URL,
        body,
        content_type="application/json",
        REMOTE_ADDR="192.0.2.10",
        headers={"X-Widget-Key": widget.key, **headers},
    )


def _shape(response: Any) -> tuple[int, Any, dict[str, str]]:
    """Status, JSON body (ids replaced by their kind) and the headers that matter."""
    data = response.json()
    if response.status_code == 202:
        data = {**data, "conversation_id": "id", "message_id": "id"}
    headers = {
        name: response[name]
        for name in (
            "Content-Type",
            "Allow",
            "Access-Control-Allow-Origin",
            "Access-Control-Allow-Headers",
            "Retry-After",
        )
        if response.has_header(name)
    }
    return response.status_code, data, headers


def test_the_short_path_knows_every_field_of_the_serializer() -> None:
    """GIVEN WidgetMessageInput, the schema and validator of the endpoint, THEN
    the short path takes exactly its fields with the same limits (a new field
    or rule there must be taught to the short path)."""
    fields = s.WidgetMessageInput().fields
    assert set(fields) == {*views.WIDGET_TEXT, "conversation_id"}
    for name, (limit, required) in views.WIDGET_TEXT.items():
        field: Any = fields[name]
        assert field.max_length == limit, name
        assert field.required is required, name
        assert field.allow_blank is not required, name
        assert field.trim_whitespace, name


def test_an_ordinary_message_is_stored_and_answered_as_by_drf(widget) -> None:
    body = json.dumps(
        {"visitor_id": " w-1 ", "body": "  Où est ma commande ?  ", "name": "Dana"}
    ).encode()
    short = _post(widget, body)
    full = _post(widget, body, **TO_DRF)
    assert _shape(short) == _shape(full)
    assert short.status_code == 202
    stored = Message.objects.get(public_id=short.json()["message_id"])
    assert stored.body == "Où est ma commande ?"
    assert stored.author == "Dana"
    assert (
        stored.conversation.visitor
        == Message.objects.get(public_id=full.json()["message_id"]).conversation.visitor
    )  # the same visitor, found by the trimmed widget id
    again = _post(
        widget,
        json.dumps(
            {
                "visitor_id": "w-1",
                "body": "Still there?",
                "conversation_id": short.json()["conversation_id"],
            }
        ).encode(),
    )
    assert again.json()["conversation_id"] == short.json()["conversation_id"]


LEFT_TO_DRF = [
    ("bad JSON", b'{"visitor_id": "w-1", "body":'),
    ("a list", b"[]"),
    ("no body field", b'{"visitor_id": "w-1"}'),
    ("a blank body", b'{"visitor_id": "w-1", "body": "   "}'),
    ("a number as body", b'{"visitor_id": "w-1", "body": 5}'),
    ("a NUL", b'{"visitor_id": "w-1", "body": "a\\u0000b"}'),
    ("a lone surrogate", b'{"visitor_id": "w-1", "body": "a\\ud800"}'),
    ("a body too long", json.dumps({"visitor_id": "w-1", "body": "x" * 5001}).encode()),
    ("a bad conversation id", b'{"visitor_id": "w-1", "body": "hi", '
     b'"conversation_id": "nope"}'),
    ("a bad email", b'{"visitor_id": "w-1", "body": "hi", "email": "not-an-email"}'),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), LEFT_TO_DRF, ids=[c for c, _ in LEFT_TO_DRF])
def test_what_the_short_path_cannot_vouch_for_gets_drfs_answer(
    widget, case: str, body: bytes
) -> None:
    """Each bad request gets the documented 400 with its field, the same on both
    paths, and stores nothing."""
    short, full = _post(widget, body), _post(widget, body, **TO_DRF)
    assert _shape(short) == _shape(full), case
    assert short.status_code == 400
    assert "errors" in short.json() or "detail" in short.json()
    assert not Message.objects.exists()


def test_an_unknown_key_and_a_full_rate_limit_answer_as_drf_does(
    widget, settings
) -> None:
    body = json.dumps({"visitor_id": "w-1", "body": "hi"}).encode()
    unknown = APIClient().post(
        URL, body, content_type="application/json", headers={"X-Widget-Key": "nope"}
    )
    assert unknown.status_code == 401
    assert unknown["WWW-Authenticate"] == "X-Widget-Key"
    settings.VISITORS_WIDGET_RATE_PER_KEY = (2, 60)
    assert [_post(widget, body).status_code for _ in range(2)] == [202, 202]
    short, full = _post(widget, body), _post(widget, body, **TO_DRF)
    assert short.status_code == full.status_code == 429
    assert short.json()["detail"].startswith("Request was throttled.")
    assert short.json().keys() == full.json().keys()
    assert set(_shape(short)[2]) == set(_shape(full)[2])  # Retry-After, CORS, …
    assert 1 <= int(short["Retry-After"]) <= 60
    assert Message.objects.count() == 2
