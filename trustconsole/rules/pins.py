"""Pins: what one fact must be for a condition to be true, read from its syntax.

A pin is `(group, field, kind, argument)`: `fact == literal`, `fact in
[literals]` and a boolean fact (`caller.anonymous`, `!caller.valid`) pin the
fact to values (`EQ`); `fact.startsWith("literal")` to a prefix (`PREFIX`);
`fact < 5`, `fact >= 10` (an int fact against an int literal) to a range. A
condition's pins are those of its first pinning conjunct (`a && b`), or of both
sides of `a || b` when each side has some, so:

    the condition is true  ⟹  at least one of its pins holds.

The converse is what makes skipping exact: when no pin holds, the condition is
false without an error, because a pinning leaf over a fact of its checked type
is plainly false when its pin does not hold, `false && anything` is false in
CEL (whatever the other side raises) and `false || false` is false. The engine
therefore runs a rule only for events for which one of its pins holds
(`PinIndex`), and a rule without pins always.

`count_pin` reads one more shape, for the rules reading the inbound call's own
count: `caller.calls_recent OP right` with `right` an int literal or a voice
setting (`voice.repeated_call_threshold + 1`), so the hook can tell from the
count and the settings that none of them can match (`hooks.inbound_call_count`).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lark import Tree

from trustconsole.rules.language import (
    BOOL,
    INT,
    STRING,
    Schema,
    _fact_path,
    _list_items,
    _literal_value,
    _string_literal,
    parse,
)

EQ, PREFIX, LT, LE, GT, GE = "eq", "prefix", "<", "<=", ">", ">="
RANGES = (LT, LE, GT, GE)
MAX_PINS = 32  # a longer disjunction is run on every event
INT64 = (-(2**63), 2**63 - 1)

Pin = tuple[str, str, str, Any]  # (group, field, kind, frozenset | str | int)

_WRAPPERS = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition",
     "multiplication", "unary", "member", "primary"}
)  # fmt: skip
_RELATIONS = {
    "relation_lt": LT,
    "relation_le": LE,
    "relation_gt": GT,
    "relation_ge": GE,
    "relation_eq": "==",
    "relation_ne": "!=",
}
_FLIPPED = {LT: GT, LE: GE, GT: LT, GE: LE, "==": "==", "!=": "!="}
_TYPES = {bool: BOOL, int: INT, str: STRING}


def pins_of(source: str, schema: Schema) -> tuple[Pin, ...] | None:
    """The pins of a checked condition (None: it can be true whatever the facts)."""
    return _pins(parse(source), schema)


def also_pins(source: str, schema: Schema) -> tuple[Pin, ...] | None:
    """The pins of the second pinning conjunct of a checked condition's top-level
    `&&` chain (None when there is no second one).

    `a && b` is true only if both are, so then one of `a`'s pins holds (what
    `pins_of` reads) and one of `b`'s too: a rule found by its first pins can
    still be skipped when none of these holds (exact for the same reasons).
    """
    found = [p for c in _conjuncts(parse(source)) if (p := _pins(c, schema))]
    return found[1] if len(found) > 1 else None


def _conjuncts(node: Any) -> list[Any]:
    """The operands of a top-level `&&` chain, in order (itself when it is not one)."""
    node = _bare(node)
    if isinstance(node, Tree) and node.data == "paren_expr":
        return _conjuncts(node.children[0])
    if (
        isinstance(node, Tree)
        and node.data == "conditionaland"
        and len(node.children) == 2
    ):
        return [*_conjuncts(node.children[0]), *_conjuncts(node.children[1])]
    return [node]


def _bare(node: Any) -> Any:
    while isinstance(node, Tree) and len(node.children) == 1 and node.data in _WRAPPERS:
        node = node.children[0]
    return node


def _pins(node: Any, schema: Schema) -> tuple[Pin, ...] | None:  # noqa: PLR0911
    node = _bare(node)
    if not isinstance(node, Tree):
        return None
    kids = node.children
    if node.data == "paren_expr":
        return _pins(kids[0], schema)
    if node.data == "conditionaland" and len(kids) == 2:  # the first conjunct's
        return _pins(kids[0], schema) or _pins(kids[1], schema)
    if node.data == "conditionalor" and len(kids) == 2:  # both sides' or none
        left, right = _pins(kids[0], schema), _pins(kids[1], schema)
        if left is None or right is None or len(left) + len(right) > MAX_PINS:
            return None
        return left + right
    found = _leaf(node, schema)
    return (found,) if found is not None else None


def _kind(schema: Schema, path: tuple[str, str] | None) -> str | None:
    if path is None:
        return None
    return schema.objects.get(path[0], {}).get(path[1])


def _leaf(node: Tree[Any], schema: Schema) -> Pin | None:  # noqa: PLR0911
    kids = node.children
    if node.data == "unary" and len(kids) == 2:
        if isinstance(kids[0], Tree) and kids[0].data == "unary_not":
            path = _fact_path(kids[1], schema)
            if path and _kind(schema, path) == BOOL:
                return (*path, EQ, frozenset({False}))
        return None
    if node.data == "member_dot":
        path = _fact_path(node, schema)
        if path and _kind(schema, path) == BOOL:
            return (*path, EQ, frozenset({True}))
        return None
    if (
        node.data == "member_dot_arg"
        and len(kids) == 3
        and str(kids[1]) == "startsWith"
    ):
        path = _fact_path(kids[0], schema)
        args = kids[2].children
        literal = _string_literal(args[0]) if len(args) == 1 else None
        if path and _kind(schema, path) == STRING and literal is not None:
            return (*path, PREFIX, literal[0])
        return None
    if node.data != "relation" or len(kids) != 2:
        return None
    op_tree, right = kids
    if op_tree.data == "relation_in":
        path = _fact_path(op_tree.children[0], schema)
        items = _list_items(right)
        if path is None or items is None:
            return None
        values = [_literal_value(item) for item in items]
        if all(ok and _TYPES.get(type(v)) == _kind(schema, path) for ok, v in values):
            return (*path, EQ, frozenset(v for _, v in values))
        return None
    op = _RELATIONS.get(op_tree.data)
    left = op_tree.children[0]
    path, (ok, value) = _fact_path(left, schema), _literal_value(right)
    if path is None:
        path, (ok, value) = _fact_path(right, schema), _literal_value(left)
        op = _FLIPPED.get(op or "")
    kind = _kind(schema, path)
    if path is None or not ok or _TYPES.get(type(value)) != kind:
        return None
    if op == "==":
        return (*path, EQ, frozenset({value}))
    if op in RANGES and kind == INT:
        return (*path, op, value)
    return None


def _compare(op: str, left: int, right: int) -> bool:
    if op == LT:
        return left < right
    if op == LE:
        return left <= right
    if op == GT:
        return left > right
    if op == GE:
        return left >= right
    if op == "==":
        return left == right
    return left != right


# --- The index: which rules an event's facts can make true -------------------------


@dataclass
class PinIndex:
    """The pins of many rules (by their place in a rule set), looked up per event.

    Values are looked up in a dict per fact, prefixes by the lengths present,
    ranges by bisecting their sorted bounds; a fact whose value is not of the
    pin's type makes every rule pinned on it a candidate (it then runs).
    """

    equal: dict[tuple[str, str], dict[Any, list[int]]] = field(default_factory=dict)
    prefixes: dict[tuple[str, str], dict[str, list[int]]] = field(default_factory=dict)
    # (group, field, op) → the bounds, sorted, and the rules in that order
    ranges: dict[tuple[str, str, str], tuple[list[int], list[int]]] = field(
        default_factory=dict
    )
    lengths: dict[tuple[str, str], tuple[int, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, pinned: Sequence[tuple[int, tuple[Pin, ...]]]) -> PinIndex:
        index = cls()
        bounds: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
        for place, pins in pinned:
            for group, name, kind, argument in pins:
                if kind == EQ:
                    table = index.equal.setdefault((group, name), {})
                    for value in argument:
                        table.setdefault((type(value), value), []).append(place)
                elif kind == PREFIX:
                    prefixes = index.prefixes.setdefault((group, name), {})
                    prefixes.setdefault(argument, []).append(place)
                else:
                    bounds.setdefault((group, name, kind), []).append((argument, place))
        for key, table in index.prefixes.items():
            index.lengths[key] = tuple(sorted({len(p) for p in table}))
        for bounded, items in bounds.items():
            items.sort()
            index.ranges[bounded] = ([b for b, _ in items], [p for _, p in items])
        return index

    def candidates(self, values: Mapping[str, Any]) -> set[int]:
        """The places of the rules one of whose pins holds for these facts."""
        out: set[int] = set()
        for (group, name), table in self.equal.items():
            value = _value(values, group, name)
            if type(value) in _TYPES:
                out.update(table.get((type(value), value), ()))
            else:
                out.update(p for places in table.values() for p in places)
        for (group, name), prefixes in self.prefixes.items():
            value = _value(values, group, name)
            if not isinstance(value, str):
                out.update(p for places in prefixes.values() for p in places)
                continue
            for length in self.lengths[(group, name)]:
                if length > len(value):
                    break
                out.update(prefixes.get(value[:length], ()))
        for (group, name, op), (bounds, places) in self.ranges.items():
            value = _value(values, group, name)
            if type(value) is not int:
                out.update(places)
            elif op == LT:  # value < bound
                out.update(places[bisect.bisect_right(bounds, value) :])
            elif op == LE:
                out.update(places[bisect.bisect_left(bounds, value) :])
            elif op == GT:  # value > bound
                out.update(places[: bisect.bisect_left(bounds, value)])
            else:
                out.update(places[: bisect.bisect_right(bounds, value)])
        return out


def _value(values: Mapping[str, Any], group: str, name: str) -> Any:
    """The fact's value this event (None when it was not built: its rules run)."""
    found = values.get(group)
    return found.get(name) if isinstance(found, dict) else None


# --- The inbound call's own count ---------------------------------------------------

CountPin = tuple[str, int, str]  # (op, offset, "group.field" or "" for a literal)


def count_pin(source: str, schema: Schema, fact: str) -> CountPin | None:
    """The first conjunct comparing `fact` ("caller.calls_recent") with an int
    literal, a setting (`voice.field`), or a setting plus or minus a literal:
    `(op, offset, setting)` such that the conjunct is `fact op setting + offset`."""
    group, _, name = fact.partition(".")
    node: Any = _bare(parse(source))
    conjuncts: list[Any] = []
    while (
        isinstance(node, Tree)
        and node.data == "conditionaland"
        and len(node.children) == 2
    ):
        conjuncts.append(node.children[1])
        node = _bare(node.children[0])
    conjuncts.append(node)
    for conjunct in reversed(conjuncts):  # the first conjunct first
        found = _count_leaf(_bare(conjunct), schema, (group, name))
        if found is not None:
            return found
    return None


def _count_leaf(node: Any, schema: Schema, fact: tuple[str, str]) -> CountPin | None:
    if isinstance(node, Tree) and node.data == "paren_expr":
        node = _bare(node.children[0])
    if not isinstance(node, Tree) or node.data != "relation" or len(node.children) != 2:
        return None
    op_tree, right = node.children
    op = _RELATIONS.get(op_tree.data)
    left = op_tree.children[0]
    if op is None:
        return None
    if _fact_path(left, schema) != fact:
        left, right, op = right, left, _FLIPPED[op]
        if _fact_path(left, schema) != fact:
            return None
    bound = _setting(right, schema)
    return (op, *bound) if bound is not None else None


def _setting(node: Any, schema: Schema) -> tuple[int, str] | None:
    """`literal`, `voice.f`, `voice.f + literal`, `voice.f - literal` or
    `literal + voice.f` as (offset, "voice.f" or "")."""
    ok, value = _literal_value(node)
    if ok:
        return (value, "") if type(value) is int else None
    path = _fact_path(node, schema)
    if path is not None:
        return (0, ".".join(path)) if _settings_int(schema, path) else None
    node = _bare(node)
    if not isinstance(node, Tree) or node.data != "addition" or len(node.children) != 2:
        return None
    op_tree, second = node.children
    if op_tree.data not in ("addition_add", "addition_sub"):
        return None
    first = op_tree.children[0]
    sign = 1 if op_tree.data == "addition_add" else -1
    path, (ok, value) = _fact_path(first, schema), _literal_value(second)
    if path is None and sign == 1:
        path, (ok, value) = _fact_path(second, schema), _literal_value(first)
    if path is None or not ok or type(value) is not int:
        return None
    if not _settings_int(schema, path):
        return None
    return sign * value, ".".join(path)


def _settings_int(schema: Schema, path: tuple[str, str]) -> bool:
    return path[0] == "voice" and _kind(schema, path) == INT


def count_can_match(
    gate: Sequence[CountPin], count: int, settings: Mapping[str, int]
) -> bool:
    """Can a rule with these count pins match this count? (False only when each
    pin is plainly false; a bound CEL could not compute, out of int64, says yes.)"""
    for op, offset, setting in gate:
        right = offset
        if setting:
            value = settings.get(setting.partition(".")[2])
            if type(value) is not int:
                return True
            right += value
        if not (INT64[0] <= right <= INT64[1] and INT64[0] <= count <= INT64[1]):
            return True
        if _compare(op, count, right):
            return True
    return False
