"""Number reputation monitoring: the loop around remediation.

Admins enable monitoring for an enterprise (LOA document, check frequency),
register numbers (1–100 a call, all or nothing, as the provider does) and
deregister them (`enrolment`). Beat follows each enterprise's check frequency
(business days in the organisation's time zone, `schedule`), fetches the monitored
numbers page by page and keeps every change as an observation (`sync`,
`observations`). Operators ask for billable refreshes of chosen numbers; those run
as jobs that honour the provider's Retry-After and the per-enterprise limit
(`refresh`). After a remediation request completes, its numbers are refreshed at
the next allowed time, so each request shows whose risk actually fell
(`followup`). `settings` holds the organisation's monitoring settings, `common` the
provider calls they all make. Every change is audited.

Callers import this package (`from remediation import monitoring`).
"""

from __future__ import annotations

from remediation.monitoring.common import (
    MAX_BATCH,
    REFRESH_ROLES,
    SCORE_FIELDS,
    SYSTEM,
    webhook_url_for,
)
from remediation.monitoring.enrolment import (
    reputation_disable,
    reputation_enable,
    reputation_frequency_update,
    reputation_number_deregister,
    reputation_numbers_register,
)
from remediation.monitoring.followup import follow_up_schedule, follow_ups_create
from remediation.monitoring.observations import (
    Changes,
    apply_numbers,
    observation_values,
    timestamp_parse,
)
from remediation.monitoring.refresh import (
    refresh_jobs_due,
    refresh_run,
    reputation_refresh_request,
)
from remediation.monitoring.schedule import next_allowed_at, next_check_at
from remediation.monitoring.settings import monitoring_settings_update
from remediation.monitoring.sync import reputation_sync, sync_claim_due

__all__ = [
    "MAX_BATCH",
    "REFRESH_ROLES",
    "SCORE_FIELDS",
    "SYSTEM",
    "Changes",
    "apply_numbers",
    "follow_up_schedule",
    "follow_ups_create",
    "monitoring_settings_update",
    "next_allowed_at",
    "next_check_at",
    "observation_values",
    "refresh_jobs_due",
    "refresh_run",
    "reputation_disable",
    "reputation_enable",
    "reputation_frequency_update",
    "reputation_number_deregister",
    "reputation_numbers_register",
    "reputation_refresh_request",
    "reputation_sync",
    "sync_claim_due",
    "timestamp_parse",
    "webhook_url_for",
]
