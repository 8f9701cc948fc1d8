"""Writes of the accounts app, one module per use case. Every state change is audited
with actor and reason.

Support (and admin) act on accounts; operators and viewers only read. Automatic work
(continuous review, port-away expiry) acts as a system actor of the organisation.
Callers import this package (`from accounts import services`); the modules are:

- `status`: restrict, hold, block (or close), restore
- `signup`: account creation and its risk assessment
- `signals`: risk signals (and the account-signal rules run on each)
- `usage`: the usage feed and owned numbers
- `review`: continuous review of usage
- `evidence`, `reassessment`: reassessment requests, their evidence and decisions
- `closure`: port-away, refunds and feedback after a permanent block
- `settings`: the organisation's thresholds
- `common`: what several of them share (cleaning, the status write, emails)
"""

from __future__ import annotations

from accounts.services.closure import (
    FEEDBACK_SUBJECT,
    feedback_receive,
    feedback_subject,
    port_away_expire_due,
    port_away_grant,
    refund_outcome_record,
    refund_request_create,
)
from accounts.services.evidence import EVIDENCE_TYPES, EvidenceInput
from accounts.services.reassessment import (
    DUE_BUSINESS_DAYS,
    WARN_BUSINESS_DAYS,
    evidence_add,
    reassessment_decide,
    reassessment_resume,
    reassessment_submit,
)
from accounts.services.review import account_review_run
from accounts.services.settings import SETTINGS_FIELDS, account_settings_update
from accounts.services.signals import account_signal_add, account_signals_expire_due
from accounts.services.signup import account_create
from accounts.services.status import (
    account_block,
    account_hold,
    account_restore,
    account_restrict,
)
from accounts.services.usage import (
    account_numbers_add,
    account_numbers_remove,
    account_usage_record,
)

__all__ = [
    "DUE_BUSINESS_DAYS",
    "EVIDENCE_TYPES",
    "FEEDBACK_SUBJECT",
    "SETTINGS_FIELDS",
    "WARN_BUSINESS_DAYS",
    "EvidenceInput",
    "account_block",
    "account_create",
    "account_hold",
    "account_numbers_add",
    "account_numbers_remove",
    "account_restore",
    "account_restrict",
    "account_review_run",
    "account_settings_update",
    "account_signal_add",
    "account_signals_expire_due",
    "account_usage_record",
    "evidence_add",
    "feedback_receive",
    "feedback_subject",
    "port_away_expire_due",
    "port_away_grant",
    "reassessment_decide",
    "reassessment_resume",
    "reassessment_submit",
    "refund_outcome_record",
    "refund_request_create",
]
