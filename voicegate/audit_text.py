"""Audit sentences and field labels of the voicegate app (call gate and policy)."""

from __future__ import annotations

from trustconsole.core.audit_text import (
    register_actions,
    register_fields,
    register_target,
)
from voicegate.choices import CallerPolicy, FailMode, Provider
from voicegate.policy.choices import DncKind, VerificationMethod

register_target("voicegate.voiceconnection", "voice connection")
register_target("voicegate.dnclist", "Do-Not-Call list")
register_actions(
    {
        "voice.connection.create": "{actor} created the voice connection {target}",
        "voice.connection.update": "{actor} changed the voice connection {target}",
        "voice.connection.delete": "{actor} deleted the voice connection {target}",
        "voice.block_list.add": "{actor} added {number} to the call block list",
        "voice.block_list.shadow_add": "{actor} added {number} to the call block "
        "list in shadow (logged, not rejected)",
        "voice.block_list.live": "{actor} put the block-list entry {number} live: "
        "its calls are rejected",
        "voice.block_list.shadow": "{actor} put the block-list entry {number} back "
        "into shadow: its calls are only logged",
        "voice.block_list.remove": "{actor} removed {before_number} from the call "
        "block list",
        "voice.settings.update": "{actor} changed the call gate settings",
        "policy.settings_update": "{actor} changed the outbound call policy",
        "policy.dnc_list_create": "{actor} created the Do-Not-Call list {target}",
        "policy.dnc_list_delete": "{actor} deleted the Do-Not-Call list {target}",
        "policy.dnc_list_empty": "{actor} emptied the Do-Not-Call list {target}",
        "policy.dnc_number_add": "{actor} added {number} to the Do-Not-Call list "
        "{target}",
        "policy.dnc_number_remove": "{actor} removed {before_number} from the "
        "Do-Not-Call list {target}",
        "policy.dnc_import_start": "{actor} started importing {file} into {target}",
        "policy.dnc_import_done": "{actor} imported {added} number(s) into {target}",
        "policy.dnc_files_rebuilt": "{actor} rebuilt the files of {target} from the "
        "kept registry files",
        "policy.caller_id_verify": "{actor} verified the caller ID {target}",
        "policy.caller_id_remove": "{actor} removed the verified caller ID {target}",
        "policy.consent_record": "{actor} recorded call consent from {target}",
        "policy.consent_remove": "{actor} removed the call consent of {target}",
        "voice.call_log.prune": "{actor} pruned {call_decisions} call decisions "
        "older than {kept_days} days",
        "policy.denials_prune": "{actor} pruned {outbound_denials} refused outbound "
        "calls older than {kept_days} days",
        "voice.outbox.prune": "{actor} pruned {outbox_items} finished outbox items "
        "older than {kept_days} days",
        "visitors.blocked_attempts.prune": "{actor} pruned {blocked_attempts_deleted} "
        "blocked attempts older than {kept_days} days",
    }
)
# Retention (voicegate/retention.py): entries on the organisation.
register_fields(
    labels={
        "call_decisions": "Call decisions deleted",
        "outbound_denials": "Refused outbound calls deleted",
        "outbox_items": "Finished outbox items deleted",
        "blocked_attempts_deleted": "Blocked attempts deleted",
        "kept_days": "Days kept",
    },
)
register_fields(
    target_type="voicegate.voiceconnection",
    choices={"provider": Provider, "fail_mode": FailMode},
    labels={
        "provider": "Provider",
        "downstream_url": "Downstream voice app",
        "fail_mode": "When the gate cannot decide",
    },
)
register_fields(
    target_type="voicegate.voicesettings",
    choices={"anonymous_policy": CallerPolicy, "unparseable_policy": CallerPolicy},
    labels={
        "anonymous_policy": "Withheld caller IDs",
        "unparseable_policy": "Unparseable caller IDs",
        "repeated_call_threshold": "Repeated calls that become a signal",
        "repeated_call_window_seconds": "Repeated-call window (s)",
    },
)
register_fields(
    target_type="voicegate.dnclist",
    choices={"kind": DncKind},
    labels={
        "kind": "Kind",
        "country": "Country",
        "entry_count": "Numbers on the list",
        "rows": "Rows read",
        "added": "Added",
        "duplicates": "Duplicates",
        "invalid": "Invalid rows",
        "file": "File",
        "bytes": "Size (bytes)",
    },
)
register_fields(
    choices={"method": VerificationMethod},
    labels={
        "method": "Verified by",
        "verified_at": "Verified",
        "verified_by": "Verified by",
        "evidence": "Evidence",
        "given_at": "Given",
        "account": "Customer account",
    },
)
