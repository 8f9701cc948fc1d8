"""Audit sentences and field labels of the shared queues and internal notes."""

from __future__ import annotations

from trustconsole.core.audit_text import register_actions, register_fields

register_actions(
    {
        "queue.claim": "{actor} claimed {item} in the {queue} queue",
        "queue.release": "{actor} released {item} back to the {queue} queue",
        "queue.assign": "{actor} assigned {item} in the {queue} queue to {assignee}",
        "queue.escalate": "{actor} escalated {item} in the {queue} queue "
        "to {escalated_to}",
        "note.add": "{actor} added an internal note on {about}",
        "note.edit": "{actor} edited their internal note on {about}",
    }
)
register_fields(
    labels={
        "assignee": "Held by",
        "escalated_to": "Escalated to",
        "note": "Note",
    },
    hidden=("item", "queue", "about"),
)
