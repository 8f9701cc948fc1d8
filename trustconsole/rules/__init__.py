"""Rules as data: per-organisation conditions (CEL) over an event's facts, with an
effect, a mode (live, shadow, off), an order and a version history.

`language` checks and compiles conditions, `facts` is the registry of what they can
read per channel, `engine` evaluates an organisation's compiled rule set for one
event, `hooks` is what the gates call (docs/architecture/rules.md).
"""
