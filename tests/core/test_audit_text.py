"""Audit entries read as words: a sentence for every action the code writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from accounts import services as account_services
from tests.conftest import ROOT
from trustconsole.core.actor import Actor
from trustconsole.core.audit_text import describe, known_actions
from trustconsole.core.models import AuditEntry
from trustconsole.core.services import audit_record
from visitors import services as visitor_services

APPS = ("trustconsole", "visitors", "voicegate", "accounts", "remediation")
ACTION_RE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _sources() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(), filename=str(path)))
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _constants(sources: list[tuple[Path, ast.Module]]) -> dict[str, set[str]]:
    """Module-level `NAME = "a.b"` constants, so `action=NAME` is found too."""
    constants: dict[str, set[str]] = {}
    for _, tree in sources:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(
                        node.value.value, str
                    ):
                        constants.setdefault(target.id, set()).add(node.value.value)
    return constants


def written_actions() -> dict[str, str]:
    """Every action string in the code: `action=…` arguments (literals, constants
    and conditionals), defaults of `action` parameters, `action = …` assignments."""
    found: dict[str, str] = {}
    sources = _sources()
    constants = _constants(sources)
    for path, tree in sources:
        values: list[ast.AST] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "action":
                values.append(node.value)
            elif isinstance(node, ast.arguments):
                args = node.posonlyargs + node.args
                pairs = list(
                    zip(
                        args[len(args) - len(node.defaults) :],
                        node.defaults,
                        strict=True,
                    )
                )
                pairs += [
                    (a, d)
                    for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True)
                    if d is not None
                ]
                values += [d for a, d in pairs if a.arg == "action"]
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "action" for t in node.targets
            ):
                values.append(node.value)
        for value in values:
            names = {
                n.id if isinstance(n, ast.Name) else n.attr
                for n in ast.walk(value)
                if isinstance(n, ast.Name | ast.Attribute)
            }
            texts = _strings(value).union(
                *(constants.get(name, set()) for name in names)
            )
            for text in texts:
                if ACTION_RE.match(text):
                    found.setdefault(text, str(path.relative_to(Path(ROOT))))
    return found


def test_the_scan_finds_the_actions_it_should() -> None:
    """The scan itself works: literal, conditional and default-argument actions."""
    actions = written_actions()
    assert {
        "visitor.blacklist",  # literal
        "account.close",  # `"account.close" if permanent else "account.block"`
        "account.block",
        "reassessment.reject_zero_tolerance",  # conditional in parentheses
        "remediation.status_change",  # default of an `action` parameter
        "membership.add",
    } <= set(actions)
    assert len(actions) > 70


def test_every_action_the_code_writes_has_a_sentence() -> None:
    missing = {
        a: where for a, where in written_actions().items() if a not in known_actions()
    }
    assert not missing, f"audit actions without a sentence: {missing}"


@pytest.mark.parametrize("action", sorted(written_actions()))
def test_each_action_renders_as_a_sentence_without_codes(org, action: str) -> None:
    """GIVEN an entry of every action kind with typical fields WHEN it is described
    THEN the sentence names the actor and no placeholder, code or dict is left."""
    entry = AuditEntry(
        organisation=org,
        actor_label="alice@alpha.test",
        action=action,
        target_type="visitors.visitor",
        target_id="x",
        target_label="Dana Scully",
        before={"status": "none", "number": "+12025550143"},
        after={"status": "blacklisted", "number": "+12025550143", "count": 2},
    )
    text = describe(entry).sentence
    assert text.startswith("alice@alpha.test") or "Dana Scully" in text
    assert "{" not in text and "}" not in text
    assert action not in text


def _entry(org, **kw) -> AuditEntry:
    actor = Actor.system_for(org, "test")
    return AuditEntry.objects.get(pk=audit_record(actor=actor, **kw).pk)


def test_blacklist_reads_as_words_with_labelled_statuses(org, db) -> None:
    visitor = visitor_services.visitor_upsert(
        actor=Actor.system_for(org, "test"), name="Dana Scully", emails=["d@x.example"]
    )
    visitor_services.visitor_blacklist(
        actor=Actor.system_for(org, "oscar@alpha.test"),
        visitor=visitor,
        reason="Threats",
    )
    entry = AuditEntry.objects.filter(action="visitor.blacklist").get()
    text = describe(entry)
    assert text.sentence == "system: oscar@alpha.test blacklisted Dana Scully"
    rows = {c.label: (c.before, c.after) for c in text.changes}
    assert rows["Status"] == ("No status", "Blacklisted")
    assert rows["Trust score"] == ("100", "30")
    assert rows["Band"] == ("Safe", "Danger")
    assert text.reason == "Threats"


def test_account_status_and_services_use_the_choice_labels(org, db) -> None:
    actor = Actor.system_for(org, "test")
    account = account_services.account_create(
        actor=actor,
        company_name="Cold Call Co",
        email="sales@coldcall.example",
        website="https://coldcall.example",
        country="US",
    )
    account_services.account_block(actor=actor, account=account, reason="Robocalls")
    entry = AuditEntry.objects.get(action="account.block")
    rows = {c.label: (c.before, c.after) for c in describe(entry).changes}
    assert rows["Status"] == ("Active", "Blocked (case review)")
    assert rows["Restricted services"] == ("none", "Numbers, SIP trunking, SMS, Voice")


def test_remediation_status_change_names_both_statuses(org, db) -> None:
    entry = _entry(
        org,
        action="remediation.status_change",
        target=org,
        before={"status": "pending"},
        after={"status": "in_progress", "tier1_completed_at": None},
    )
    entry.target_type = "remediation.remediationrequest"
    text = describe(entry)
    assert text.sentence == "Alpha moved from Pending to In progress"
    assert [(c.label, c.before, c.after) for c in text.changes] == [
        ("Status", "Pending", "In progress")
    ]


def test_ids_are_hidden_unchanged_fields_dropped_lists_shortened(org, db) -> None:
    entry = _entry(
        org,
        action="enterprise.numbers_add",
        target=org,
        before={"monitored": True},
        after={
            "enterprise": "62823b46-38d5-493f-8280-bf512acbccce",
            "monitored": True,
            "numbers": [f"+1202555{n:04d}" for n in range(12)],
            "when": "2026-12-15T08:02:43.492529+00:00",
            "flag": False,
        },
    )
    rows = {c.field: c for c in describe(entry).changes}
    assert "enterprise" not in rows
    assert "monitored" not in rows
    assert rows["numbers"].after.endswith("and 4 more")
    assert rows["when"].after == "2026-12-15 08:02 UTC"
    assert rows["flag"].after == "no"


def test_an_unknown_action_still_reads_as_words(org, db) -> None:
    entry = _entry(org, action="visitor.future_thing", target=org, after={"x": 1})
    assert describe(entry).sentence == (
        "system: test: visitor future thing (organisation Alpha)"
    )
