"""Audit entries as words: one sentence per action and a before → after table.

Every app registers, in its own `audit_text` module (found at start-up), a sentence
for each action it writes and the labels of the fields and values it records. The
audit log, the dashboard and every object's history render entries through
`describe()`, so no page shows a raw action code or a dict.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Formatter = Callable[[Any], str]

_SENTENCES: dict[str, str] = {}
# Field labels and value formatters; (target_type, field) wins over (None, field).
_LABELS: dict[tuple[str | None, str], str] = {}
_FORMATTERS: dict[tuple[str | None, str], Formatter] = {}
_HIDDEN: set[tuple[str | None, str]] = set()
_TARGET_NAMES: dict[str, str] = {}

EMPTY = "—"
LIST_LIMIT = 8
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Change:
    """One row of the before → after table."""

    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditText:
    """An audit entry in words."""

    sentence: str
    changes: tuple[Change, ...]
    reason: str

    @property
    def has_before(self) -> bool:
        """False for entries that only set values (creations): no Before column."""
        return any(c.before != EMPTY for c in self.changes)


def register_actions(sentences: Mapping[str, str]) -> None:
    """Add sentences: `{actor}`, `{target}` and any recorded field as `{field}`."""
    _SENTENCES.update(sentences)


def register_target(target_type: str, name: str) -> None:
    """The human name of a target type ("visitor", "customer account")."""
    _TARGET_NAMES[target_type] = name


def register_fields(
    *,
    target_type: str | None = None,
    labels: Mapping[str, str] | None = None,
    choices: Mapping[str, type[models.Choices] | Mapping[str, str] | Formatter]
    | None = None,
    hidden: Iterable[str] = (),
) -> None:
    """Labels and value formats of recorded fields, for one target type or all."""
    for field, label in (labels or {}).items():
        _LABELS[(target_type, field)] = label
    for field, source in (choices or {}).items():
        _FORMATTERS[(target_type, field)] = _formatter_for(source)
    for field in hidden:
        _HIDDEN.add((target_type, field))


def known_actions() -> frozenset[str]:
    """Every action that has a sentence."""
    return frozenset(_SENTENCES)


def _formatter_for(
    source: type[models.Choices] | Mapping[str, str] | Formatter,
) -> Formatter:
    if isinstance(source, type) and issubclass(source, models.Choices):
        labels = {str(value): str(label) for value, label in source.choices}
    elif isinstance(source, Mapping):
        labels = {str(k): str(v) for k, v in source.items()}
    else:
        return cast(Formatter, source)

    def fmt(value: Any) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(labels.get(str(v), str(v)) for v in value) or "none"
        return labels.get(str(value), str(value))

    return fmt


def _lookup(
    table: Mapping[tuple[str | None, str], Any], target_type: str, field: str
) -> Any:
    return table.get((target_type, field), table.get((None, field)))


def field_label(target_type: str, field: str) -> str:
    """The label of a recorded field."""
    label = _lookup(_LABELS, target_type, field)
    return str(label) if label else field.replace("_", " ").capitalize()


def format_value(target_type: str, field: str, value: Any) -> str:
    """A recorded value as it should read."""
    if value is None or value == "":
        return EMPTY
    fmt = _lookup(_FORMATTERS, target_type, field)
    if fmt is not None:
        return str(fmt(value))
    return plain_value(value)


def plain_value(value: Any) -> str:
    """Generic formatting: yes/no, dates, lists, no dict reprs."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        shown = [plain_value(v) for v in value[:LIST_LIMIT]]
        more = len(value) - LIST_LIMIT
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    if isinstance(value, dict):
        return "; ".join(
            f"{k.replace('_', ' ')}: {plain_value(v)}" for k, v in value.items()
        )
    text = str(value)
    if "T" in text and len(text) >= 19:
        parsed = parse_datetime(text)
        if parsed is not None:
            return _when(parsed)
    return text


def _when(value: dt.datetime) -> str:
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M %Z").strip()


def _hidden(target_type: str, field: str, *values: Any) -> bool:
    if (target_type, field) in _HIDDEN or (None, field) in _HIDDEN:
        return True
    # Bare object ids mean nothing to a reader; the sentence names the object.
    present = [v for v in values if v is not None and v != ""]
    return all(isinstance(v, str) and _UUID_RE.match(v) for v in present)


class _Context(dict[str, Any]):
    def __init__(self, entry: Any) -> None:
        super().__init__(actor=entry.actor_label, target=entry.target_label)
        self._entry = entry

    def __missing__(self, key: str) -> str:
        after, before = self._entry.after or {}, self._entry.before or {}
        source = after if key in after else before
        if key.startswith("before_"):
            key, source = key[len("before_") :], before
        return format_value(self._entry.target_type, key, source.get(key))


def sentence(entry: Any) -> str:
    """The one sentence that says what happened."""
    template = _SENTENCES.get(entry.action)
    ctx = _Context(entry)
    if template is None:
        name = _TARGET_NAMES.get(entry.target_type, "")
        words = entry.action.replace(".", " ").replace("_", " ")
        template = "{actor}: " + words + (f" ({name} {{target}})" if name else "")
    return string.Formatter().vformat(template, (), ctx)


def changes(entry: Any) -> tuple[Change, ...]:
    """Fields that changed (or were set), labelled, old and new values formatted."""
    before, after = entry.before or {}, entry.after or {}
    rows: list[Change] = []
    for field in list(before) + [k for k in after if k not in before]:
        old, new = before.get(field), after.get(field)
        if field in before and field in after and old == new:
            continue
        if _hidden(entry.target_type, field, old, new):
            continue
        rows.append(
            Change(
                field=field,
                label=field_label(entry.target_type, field),
                before=format_value(entry.target_type, field, old)
                if field in before
                else EMPTY,
                after=format_value(entry.target_type, field, new)
                if field in after
                else EMPTY,
            )
        )
    return tuple(rows)


def describe(entry: Any) -> AuditText:
    """An audit entry as a sentence, a change table and its reason."""
    return AuditText(
        sentence=sentence(entry), changes=changes(entry), reason=entry.reason
    )


register_target("core.organisation", "organisation")
register_target("core.membership", "membership")
register_target("core.apitoken", "API token")
register_actions(
    {
        "organisation.create": "{actor} created the organisation {target}",
        "membership.add": "{actor} added {user} as {role}",
        "membership.change_role": "{actor} changed the role of {target} to {role}",
        "membership.remove": "{actor} removed the member {target}",
        "api_token.create": "{actor} created the API token {target}",
        "api_token.revoke": "{actor} revoked the API token {target}",
        "core.credentials_reencrypt": "{actor} re-encrypted the stored credentials "
        "of {target} with the newest key",
        "login.lockout": "{actor} locked {target} out of logging in until "
        "{locked_until} after repeated failed log-ins",
        "login.lockout_ip": "{actor} locked the client IP {client_ip} out of logging "
        "in until {locked_until}; its last attempt was for {target}",
        "login.lockout_clear": "{actor} cleared the log-in lockout of {target}",
        "audit.prune": "{actor} deleted {before_entries_older_than_cutoff} audit "
        "entries of {target} older than {cutoff} (retention)",
    }
)

# Fields several apps record.
register_fields(
    labels={
        "status": "Status",
        "reason": "Reason",
        "name": "Name",
        "email": "Email",
        "expires_at": "Expires",
        "number": "Number",
        "numbers": "Numbers",
        "count": "How many",
        "is_active": "Active",
        "description": "Description",
        "role": "Role",
        "user": "Member",
        "locked_until": "Locked out until",
        "client_ip": "Client IP",
        "entries_older_than_cutoff": "Audit entries older than the cutoff",
        "cutoff": "Cutoff",
    },
)


def _role_labels() -> None:
    from trustconsole.core.choices import Role

    register_fields(
        choices={"role": Role},
        labels={"prefix": "Token prefix", "revoked_at": "Revoked", "slug": "Slug"},
    )


_role_labels()
