"""Helper calls over a fact, rewritten so the engine computes their answers.

`native_source` turns `contains_any(group.field, [...])` and
`matches_re(group.field, "…")` into reads of `_h[id]` (a stable id per field and
argument, `twin_id`), so the evaluator never calls back into Python; the engine
(`twins.py`) computes the answers once per event and `indexed` points a rule set's
batch programs at them by position. Also the literal helpers the default rule set
and event details use (`cel_string`, `keyword_lists`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from trustconsole.rules.language import (
    Schema,
    _Checker,
    _fact_path,
    _list_items,
    _literal_value,
    _string_literal,
    parse,
)

TWINS_VARIABLE = "_h"  # {twin id: the helper's answer}, computed by the engine
TWINS_LIST = "_hl"  # the same answers in a rule set's order (its batch programs)
KEYWORDS, PATTERN = "contains_any", "matches_re"
# (id, "group.field", helper, its argument: the lower-cased words or the pattern)
Twin = tuple[int, str, str, Any]


def twin_id(field: str, helper: str, argument: Any) -> int:
    """A stable number for one helper call over a fact (the same in every process,
    so a program compiled once per version names it the same way)."""
    text = f"{helper}\0{field}\0{argument!r}"
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


@dataclass(frozen=True)
class Native:
    """A condition as the evaluator runs it, and the twins the engine adds."""

    source: str
    twins: tuple[Twin, ...]
    refs: tuple[tuple[int, int, int], ...] = ()  # (start, end, id) of each `_h[id]`
    fields: frozenset[str] = frozenset()  # "group.field" the evaluator still reads


def native_source(source: str, schema: Schema) -> Native:
    """The condition with each helper call over a fact written as a boolean the
    engine computes once per event, so the evaluator never calls back into Python
    for it: `contains_any(group.field, ["a", …])` and `matches_re(group.field,
    "pattern")` become `_h[<id>]`. The engine computes the keyword lists of a
    rule set in Python (the helper's own code) and its patterns over a field in
    one pass of an RE2 set. When a helper cannot run on the event (a text RE2
    cannot encode) its entry is missing, so the rule raises, as the helper did.

    Anything else is left as it is (the helper then runs as a host function).
    """
    tree = parse(source)
    spans: list[tuple[int, int, str, int]] = []
    twins: dict[int, Twin] = {}
    for node in tree.iter_subtrees():
        if node.data != "ident_arg" or len(node.children) < 2:
            continue
        helper = str(node.children[0])
        if helper not in (KEYWORDS, PATTERN):
            continue
        args = node.children[1].children
        if len(args) != 2:
            continue
        path = _fact_path(args[0], schema)
        start = getattr(node.meta, "start_pos", None)
        end = getattr(node.meta, "end_pos", None)
        if path is None or start is None or end is None:
            continue
        argument: Any
        if helper == PATTERN:
            literal = _string_literal(args[1])
            if literal is None:
                continue
            argument = literal[0]
        else:
            items = _list_items(args[1])
            if items is None:
                continue
            words = [_literal_value(item) for item in items]
            if not all(ok and isinstance(v, str) for ok, v in words):
                continue
            argument = tuple(v.lower() for _, v in words if v)
        name = f"{path[0]}.{path[1]}"
        number = twin_id(name, helper, argument)
        twins[number] = (number, name, helper, argument)
        spans.append((start, end, f"{TWINS_VARIABLE}[{number}]", number))
    out, refs, at = [], [], 0
    for start, end, text, number in sorted(spans):
        out.append(source[at:start])
        written = sum(len(piece) for piece in out)
        refs.append((written, written + len(text), number))
        out.append(text)
        at = end
    out.append(source[at:])
    rewritten = "".join(out)
    # The fields read outside the helpers: only those are converted per event.
    checker = _Checker(
        Schema({**schema.variables, TWINS_VARIABLE: "list<bool>"}, schema.objects)
    )
    checker.type_of(parse(rewritten), {}, 0, 0)
    return Native(
        rewritten, tuple(twins.values()), tuple(refs), frozenset(checker.fields)
    )


def indexed(native: Native, index: dict[int, int]) -> str:
    """The native source reading its twins from the list `_hl` by a rule set's
    positions (a list converts faster than a map, per event)."""
    source = native.source
    for start, end, number in reversed(native.refs):
        source = f"{source[:start]}{TWINS_LIST}[{index[number]}]{source[end:]}"
    return source


def cel_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def keyword_lists(source: str) -> list[list[str]]:
    """The literal word lists of the condition's `contains_any(…, [...])` calls
    (to say which word matched)."""
    out: list[list[str]] = []
    for node in parse(source).iter_subtrees():
        if node.data != "ident_arg" or str(node.children[0]) != "contains_any":
            continue
        if len(node.children) < 2 or len(node.children[1].children) != 2:
            continue
        items = _list_items(node.children[1].children[1]) or []
        words = [_literal_value(item) for item in items]
        out.append([v for ok, v in words if ok and isinstance(v, str) and v])
    return out
