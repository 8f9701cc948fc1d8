"""The OpenAPI schema tells the truth, and no input makes the API fail.

A bounded, seeded schemathesis run walks every operation of `/api/schema/` (the
console's API, the widget and the provider-compatible `/v2/` API) against the live
console, once with a real token of each role: every answer must be a status the
schema documents, with the documented content type and body shape, and never a 5xx.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.management import call_command
from hypothesis import HealthCheck, Phase
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.schema_walk import changed_tables, fingerprint, real_path_ids
from trustconsole.core.actor import Actor
from trustconsole.core.choices import Role
from trustconsole.core.models import Organisation
from trustconsole.core.services import token_create
from visitors.models import Widget

pytestmark = pytest.mark.django_db(transaction=True)

# Fixed so CI is deterministic: examples per operation, per role and mode.
POSITIVE_EXAMPLES = 2  # with each role's token
NEGATIVE_EXAMPLES = 2  # with the admin token: the role that reaches validation
VIEWER_EXAMPLES = 2
ROLES = (Role.ADMIN, Role.OPERATOR, Role.SUPPORT, Role.VIEWER)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _failures(exc: BaseException) -> list[str]:
    inner = getattr(exc, "exceptions", None)
    if inner:
        return [line for e in inner for line in _failures(e)]
    text = " ".join(str(exc).split()) or repr(exc)
    return [text[:400]]


def _run(
    operation: Any,
    *,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    headers: dict[str, str],
    path_ids: dict[str, str],
    found: list[str],
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        if mode == GenerationMode.POSITIVE and path_ids:
            # Valid requests address real objects, so they reach the services.
            case.path_parameters = {**(case.path_parameters or {}), **path_ids}
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # collect, never shrink
            for failure in _failures(exc):
                found.append(
                    f"{operation.label} [{mode.value}, {headers.get('X-Role')}] "
                    f"{response.status_code}: {failure}"
                )

    check()


@pytest.fixture
def demo(live_server: Any, settings: Any) -> dict[str, Any]:
    """The demo organisation (every app's demo data), a token of each role, its
    widget, real ids for the schema's path templates, and the loaded schema. The
    demo's provider is the built-in sandbox, served by the live server as
    `runconsole` serves it."""
    settings.REMEDIATION_SANDBOX_URL = f"{live_server.url}/sandbox/telnyx/v2"
    call_command("seed_demo", quiet_login=True)
    org = Organisation.objects.get(slug="demo")
    system = Actor.system_for(org, "schema test")
    tokens = {
        role: token_create(actor=system, name=f"schema {role}", role=role)[1]
        for role in ROLES
    }
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operations = [result.ok() for result in schema.get_all_operations()]
    admin = APIClient()
    admin.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[Role.ADMIN]}")
    paths = sorted({op.path for op in operations if "{" in op.path})
    return {
        "org": org,
        "tokens": tokens,
        "widget": Widget.objects.filter(organisation=org).first(),
        "operations": operations,
        "path_ids": real_path_ids(admin, paths, org.pk),
    }


def test_every_operation_answers_as_its_schema_says(live_server, demo) -> None:
    """GIVEN the live console with demo data and a token of every role WHEN
    schemathesis sends generated valid and invalid requests to every operation
    THEN no answer is a server error and every answer matches the documented
    status, content type and body shape."""
    operations = demo["operations"]
    assert len(operations) > 100  # the whole API, not a part of it
    assert len(demo["path_ids"]) > 30  # most templates address real objects
    found: list[str] = []
    for operation in operations:
        for role in ROLES:
            headers = {
                "Authorization": f"Bearer {demo['tokens'][role]}",
                "X-Widget-Key": demo["widget"].key,
                "X-Role": str(role),
            }
            modes = [(GenerationMode.POSITIVE, POSITIVE_EXAMPLES)]
            if role == Role.ADMIN:
                modes.append((GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES))
            for mode, examples in modes:
                _run(
                    operation,
                    mode=mode,
                    examples=examples,
                    base_url=live_server.url,
                    headers=headers,
                    path_ids=demo["path_ids"].get(operation.path, {}),
                    found=found,
                )
    unique = sorted(set(found))
    assert not unique, f"{len(unique)} answers contradict the schema:\n" + "\n".join(
        unique[:80]
    )


def _walk(
    operation: Any, base_url: str, headers: dict[str, str], path_ids: dict
) -> set[int]:
    """Call one operation with valid generated requests; the statuses answered."""
    codes: set[int] = set()
    ids = path_ids.get(operation.path, {})

    @hypothesis.settings(
        max_examples=VIEWER_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def call(case: Any) -> None:
        case.path_parameters = {**(case.path_parameters or {}), **ids}
        codes.add(case.call(base_url=base_url, headers=headers).status_code)

    call()
    return codes


def test_a_viewer_token_changes_no_row_anywhere(live_server, demo) -> None:
    """GIVEN the demo organisation and a viewer token WHEN every operation of the
    schema is called with it, addressing real objects with valid bodies THEN no row
    of any table changed after any of them (only the token's own last-used time
    moves); every write answered 403."""
    token = demo["tokens"][Role.VIEWER]
    headers = {"Authorization": f"Bearer {token}", "X-Role": "viewer"}
    ignore = {"core.ApiToken": {"last_used_at"}}
    changed: list[str] = []
    statuses: dict[str, set[int]] = {}
    for operation in demo["operations"]:
        before = fingerprint(ignore=ignore)
        codes = _walk(operation, live_server.url, headers, demo["path_ids"])
        statuses[operation.label] = codes
        tables = changed_tables(before, fingerprint(ignore=ignore))
        if tables:
            changed.append(f"{operation.label} ({sorted(codes)}): {', '.join(tables)}")
    assert not changed, "a viewer changed rows:\n" + "\n".join(changed)
    writes = [
        label
        for label, codes in statuses.items()
        if not label.startswith(("GET ", "/widget"))
        and not label.startswith("POST /widget")
        and codes - {403}
    ]
    assert not writes, "writes not refused with 403: " + ", ".join(writes)
