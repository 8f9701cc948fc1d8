"""URLs of the built-in sandbox provider, mounted at /sandbox/telnyx/."""

from __future__ import annotations

from django.urls import path, re_path

from remediation import sandbox, sandbox_reputation

app_name = "remediation_sandbox"

BASE = "v2/enterprises/<str:enterprise_id>/reputation/remediation"
REPUTATION = "v2/enterprises/<str:enterprise_id>/reputation"

urlpatterns = [
    path(BASE, sandbox.remediation_collection, name="collection"),
    path(f"{BASE}/<str:remediation_id>", sandbox.remediation_item, name="item"),
    path(
        f"{BASE}/<str:remediation_id>/actions/cancel",
        sandbox.remediation_cancel,
        name="cancel",
    ),
    path(REPUTATION, sandbox_reputation.reputation, name="reputation"),
    path(
        f"{REPUTATION}/frequency",
        sandbox_reputation.reputation_frequency,
        name="reputation_frequency",
    ),
    path(f"{REPUTATION}/loa", sandbox_reputation.reputation_loa, name="reputation_loa"),
    path(
        f"{REPUTATION}/webhook",
        sandbox_reputation.reputation_webhook,
        name="reputation_webhook",
    ),
    path(f"{REPUTATION}/numbers", sandbox_reputation.numbers, name="numbers"),
    path(
        f"{REPUTATION}/numbers/refresh",
        sandbox_reputation.numbers_refresh,
        name="numbers_refresh",
    ),
    path(
        f"{REPUTATION}/numbers/<str:phone_number>",
        sandbox_reputation.number_item,
        name="number",
    ),
    path("control/faults", sandbox.faults, name="faults"),
    path("control/reputation", sandbox_reputation.control_flag, name="control_flag"),
    re_path(r"^(?P<rest>.*)$", sandbox.not_found, name="not_found"),
]
