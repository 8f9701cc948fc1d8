"""Writes of the outbound policy check, one module per use case. Every list change
is audited.

Operators and support (and admins) keep the lists and run checks; only admins change
the settings; viewers read. Each write bumps the version key of the in-memory copy
it affects (keys.py), so every process picks the change up on its next check.
Callers import this package (`from voicegate.policy import services`); the modules:

- `settings`: the organisation's policy settings
- `lists`: Do-Not-Call lists and their single numbers
- `imports`: uploads of list files and their import (in a worker)
- `national`: file-backed (national) lists: versions built from files, and switched
- `caller_ids`: verified caller IDs and consent records
- `outbound`: the check as a write (counting calls, logging denials, the risk signal)
- `common`: who may act, input cleaning
"""

from __future__ import annotations

from voicegate.policy.services.caller_ids import (
    caller_id_remove,
    caller_id_verify,
    consent_record,
    consent_remove,
)
from voicegate.policy.services.common import (
    ACT,
    clean_country,
    clean_e164,
    clean_text,
)
from voicegate.policy.services.imports import (
    dnc_import_claim,
    dnc_import_fail,
    dnc_import_process,
    dnc_import_start,
    import_dir,
    import_files_forget,
)
from voicegate.policy.services.lists import (
    dnc_list_create,
    dnc_list_delete,
    dnc_list_empty,
    dnc_number_add,
    dnc_number_remove,
)
from voicegate.policy.services.national import (
    change_floor,
    file_import,
    file_list_has,
    version_switch,
)
from voicegate.policy.services.outbound import (
    denial_rules_run,
    outbound_check,
)
from voicegate.policy.services.settings import (
    SETTINGS_FIELDS,
    policy_settings_update,
)

__all__ = [
    "ACT",
    "SETTINGS_FIELDS",
    "caller_id_remove",
    "caller_id_verify",
    "change_floor",
    "clean_country",
    "clean_e164",
    "clean_text",
    "consent_record",
    "consent_remove",
    "denial_rules_run",
    "dnc_import_claim",
    "dnc_import_fail",
    "dnc_import_process",
    "dnc_import_start",
    "dnc_list_create",
    "dnc_list_delete",
    "dnc_list_empty",
    "dnc_number_add",
    "dnc_number_remove",
    "file_import",
    "file_list_has",
    "import_dir",
    "import_files_forget",
    "outbound_check",
    "policy_settings_update",
    "version_switch",
]
