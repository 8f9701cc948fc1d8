"""The decision core (see docs/architecture/decision-core.md).

`state.py` keeps one in-memory state per organisation per process, caught up from
the change log (`models.PolicyChange`, appended by `changes.policy_changed`);
`decide.py` is the precedence, written once, for every channel.
"""
