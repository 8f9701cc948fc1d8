"""Writes of the visitors app, one module per use case. Each checks the actor's role
and audits itself.

Every change that can alter what the gates decide (a status change, an identifier
added or removed, a visitor deleted, an IP block) tells the decision core after
commit (`policy_changed`), so each process reads it again on its next decision.
Callers import this package (`from visitors import services`); the modules are:

- `identity`: identifiers and their normalisers, upsert, rename, add or remove an
  identifier, delete, merge
- `scoring`: risk signals (add, remove, expire), the trust score, flagging a visitor
  in the danger band, weights per level
- `status`: Blacklist, Whitelist, Clear status
- `review`: the review queue's actions
- `ip_blocks`: IP blocks (create, remove, expire)
- `attempts`: blocked attempts counted on a visitor
- `widgets`: chat widgets
- `common`: what several of them share (the operator role, the
  row lock, the decision core's change notice)
"""

from __future__ import annotations

from visitors.choices import IDENTIFIER_FIELDS
from visitors.services.attempts import (
    blocked_attempt_record,
)
from visitors.services.common import (
    OPERATOR,
    lock_visitor,
    policy_changed,
)
from visitors.services.identity import (
    identifier_filter,
    normalise_email,
    normalise_ip,
    normalise_phone,
    normalise_widget_id,
    visitor_delete,
    visitor_identifier_add,
    visitor_identifier_remove,
    visitor_identify,
    visitor_merge,
    visitor_update,
    visitor_upsert,
)
from visitors.services.ip_blocks import (
    MIN_PREFIX,
    ip_block_create,
    ip_block_remove,
    ip_blocks_expire_due,
    normalise_network,
)
from visitors.services.review import (
    review_item_act,
    review_items_act_bulk,
)
from visitors.services.scoring import (
    flag_if_danger,
    risk_signal_add,
    risk_signal_remove,
    risk_signals_expire_due,
    score_recompute,
    signal_create,
    signal_weight_set,
    signals_end,
    visitor_flag,
    weight_for,
)
from visitors.services.status import (
    blacklist_signals_active,
    review_items_resolve,
    status_set,
    visitor_blacklist,
    visitor_clear_status,
    visitor_shadow_blacklist,
    visitor_shadow_clear,
    visitor_whitelist,
)
from visitors.services.widgets import (
    widget_create,
)

__all__ = [
    "IDENTIFIER_FIELDS",
    "MIN_PREFIX",
    "OPERATOR",
    "blacklist_signals_active",
    "blocked_attempt_record",
    "flag_if_danger",
    "visitor_flag",
    "identifier_filter",
    "ip_block_create",
    "ip_block_remove",
    "ip_blocks_expire_due",
    "lock_visitor",
    "normalise_email",
    "normalise_ip",
    "normalise_network",
    "normalise_phone",
    "normalise_widget_id",
    "policy_changed",
    "review_item_act",
    "review_items_act_bulk",
    "review_items_resolve",
    "risk_signal_add",
    "risk_signal_remove",
    "risk_signals_expire_due",
    "score_recompute",
    "signal_create",
    "signal_weight_set",
    "signals_end",
    "status_set",
    "visitor_blacklist",
    "visitor_shadow_blacklist",
    "visitor_shadow_clear",
    "visitor_clear_status",
    "visitor_delete",
    "visitor_identifier_add",
    "visitor_identifier_remove",
    "visitor_merge",
    "visitor_update",
    "visitor_identify",
    "visitor_upsert",
    "visitor_whitelist",
    "weight_for",
    "widget_create",
]
