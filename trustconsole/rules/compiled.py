"""A rule set as compiled once per version: its rules, the programs joining them,
the tables of pinned rules, and the compiled program of each version (`engine`
loads them and evaluates events with them)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import cel

from trustconsole.rules import facts as facts_registry
from trustconsole.rules import pins
from trustconsole.rules import twins as helper_twins
from trustconsole.rules.language import check, regex_compiled
from trustconsole.rules.rewrite import TWINS_VARIABLE, Native, Twin, native_source

logger = logging.getLogger(__name__)

LIVE, SHADOW = "live", "shadow"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule's current version, ready to run."""

    pk: int
    public_id: str
    name: str
    mode: str
    order: int
    version_pk: int
    version: int
    program: Any  # cel.Program
    variables: frozenset[str]
    fields: frozenset[str]
    effect: dict[str, Any]
    acts: bool
    guard: tuple[pins.Pin, ...] | None = None  # one must hold for it to match
    # Helper calls over a fact, read by the program as `_h[id]` (`native_source`)
    twins: tuple[Twin, ...] = ()
    converted: frozenset[str] | None = None  # the fields the program reads (None:
    # all of `fields`); `fields` is what the facts' loaders see
    count_pin: pins.CountPin | None = None  # its conjunct on the event's own count
    also: tuple[pins.Pin, ...] | None = None  # a second conjunct's: one must hold

    def ref(self) -> dict[str, Any]:
        """How an explanation names the rule."""
        return {
            "id": self.public_id,
            "name": self.name,
            "version": self.version,
            "mode": self.mode,
            "effect": self.effect,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """Rules run as one program: the list of their conditions, one evaluator call."""

    rules: tuple[CompiledRule, ...]
    program: Any  # cel.Program; None when the conditions cannot be joined
    pks: frozenset[int]
    twins: bool = False  # some rule reads a helper's twin
    # Per variable its program reads, the fields (only they are converted)
    reads: dict[str, frozenset[str]] = field(default_factory=dict)
    # When every rule has a second pinned conjunct (`pins.also_pins`): their
    # pins; the batch runs only for an event for which one of them holds.
    also: pins.PinIndex | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """The rules pinned on one fact alone (one pin: a value or a prefix), one
    program per value or prefix."""

    group: str
    field: str
    prefix: bool  # pinned by prefixes (else by values)
    kind: type  # the fact's type (another value makes them all candidates)
    batches: dict[Any, Batch]
    places: frozenset[int]  # where they are in the rule set
    lengths: tuple[int, ...] = ()  # the prefixes' lengths, ascending


_Reads = dict[str, tuple[str, ...]]


@dataclass
class RuleSet:
    """The live and shadow rules of one channel of one organisation."""

    organisation_id: int
    channel: str
    generation: int
    time_zone: str
    rules: tuple[CompiledRule, ...]
    variables: frozenset[str]
    fields: frozenset[str]
    broken: dict[int, str] = field(default_factory=dict)  # rule pk → compile error
    unguarded: Batch | None = None  # the rules without a guard, in order
    # Rules pinned on one fact alone: its value (or prefix) → one program.
    guarded: tuple[Table, ...] = ()
    # The other pinned rules (ranges, several pins): run one by one when theirs hold.
    loose: pins.PinIndex | None = None
    # Rules reading the event's own count, all pinned on it (`pins.count_pin`) and
    # reading no counted window: the hook skips them when none can match.
    count_gate: tuple[pins.CountPin, ...] | None = None
    position: dict[int, int] = field(default_factory=dict)  # rule pk → its place
    # Rules whose condition is one helper call over a fact: its answer is theirs.
    direct: tuple[tuple[CompiledRule, int], ...] = ()
    # Per fact group: the fields the rules read (only they are converted).
    reads: _Reads = field(default_factory=dict)
    twins: tuple[helper_twins.FieldTwins, ...] = ()
    twin_order: tuple[int, ...] = ()  # the twins' places in `_hl`
    helpers: bool = True  # some rule still calls contains_any / matches_re
    # Per rule (pk): the fields per variable its own program reads (`_rule_reads`)
    reads_of: dict[int, dict[str, frozenset[str]]] = field(default_factory=dict)
    # The direct rules' answers from the helpers' (an itemgetter over their twins)
    direct_answers: Any = None
    retry_at: float = 0.0  # monotonic: after a failed read, not before this
    # Per thread: the CEL context of the last event and what it holds, so the
    # next event converts only the fact groups whose values changed.
    contexts: threading.local = field(default_factory=threading.local)


# --- Compiling ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    program: Any  # cel.Program
    variables: frozenset[str]
    fields: frozenset[str]
    helpers: bool  # still calls a helper as a host function
    guard: tuple[pins.Pin, ...] | None
    native: str
    twins: tuple[Twin, ...]
    rewritten: Native
    written: tuple[str, str]  # (channel, source) it was compiled from
    count_pin: pins.CountPin | None = None
    also: tuple[pins.Pin, ...] | None = None


_PROGRAMS: dict[int, _Compiled] = {}
_PROGRAMS_LOCK = threading.Lock()


def _program(version_pk: int, channel: str, source: str) -> _Compiled:
    """The compiled program of a version (compiled once per process). A version
    never changes, but its id can come back (a database restored from a dump, a
    rolled-back transaction): the cached program is used only for the same text."""
    found = _PROGRAMS.get(version_pk)
    if found is not None and found.written == (channel, source):
        return found
    schema = facts_registry.channel_facts(channel).schema()
    checked = check(source, schema)
    for pattern in checked.patterns:
        regex_compiled(pattern)
    # Helpers over a fact as booleans the engine computes per event (no call back
    # into Python per rule); checked above in their written form.
    native = native_source(source, schema)
    late = facts_registry.counted_fields(channel) & checked.fields
    compiled = _Compiled(
        cel.compile(native.source),
        checked.variables,
        checked.fields,
        "contains_any(" in native.source or "matches_re(" in native.source,
        pins.pins_of(source, schema),
        native.source,
        native.twins,
        native,
        (channel, source),
        pins.count_pin(source, schema, min(late)) if len(late) == 1 else None,
        pins.also_pins(source, schema),
    )
    with _PROGRAMS_LOCK:
        if len(_PROGRAMS) > 20_000:
            _PROGRAMS.clear()
        _PROGRAMS[version_pk] = compiled
    return compiled


def _tables(
    compiled: list[CompiledRule], texts: dict[int, str]
) -> tuple[tuple[Table, ...], list[tuple[int, tuple[pins.Pin, ...]]]]:
    """The rules pinned on one fact alone, by its value or prefix (one program
    each), and the other pinned rules with their places."""
    by_fact: dict[tuple[str, str, bool], dict[Any, list[CompiledRule]]] = {}
    places: dict[tuple[str, str, bool], set[int]] = {}
    loose = []
    for place, rule in enumerate(compiled):
        if rule.guard is None:
            continue
        if len(rule.guard) != 1 or rule.guard[0][2] not in (pins.EQ, pins.PREFIX):
            loose.append((place, rule.guard))
            continue
        group, name, kind, argument = rule.guard[0]
        key = (group, name, kind == pins.PREFIX)
        table = by_fact.setdefault(key, {})
        places.setdefault(key, set()).add(place)
        for value in argument if kind == pins.EQ else (argument,):
            table.setdefault(value, []).append(rule)
    tables = []
    for (group, name, prefix), table in by_fact.items():
        python = str if prefix else type(next(iter(table)))
        tables.append(
            Table(
                group, name, prefix, python,
                {v: _batch(rs, texts) for v, rs in table.items()},
                frozenset(places[(group, name, prefix)]),
                tuple(sorted({len(v) for v in table})) if prefix else (),
            )
        )  # fmt: skip
    return tuple(tables), loose


def _batch(rules: list[CompiledRule], texts: dict[int, str]) -> Batch:
    """One program evaluating the conditions of `rules`, in order (without a
    program when they cannot be joined: then they run one by one)."""
    # One condition per line, so a trailing // comment ends with its line.
    joined = "\n,\n".join(f"({texts[r.pk]}\n)" for r in rules)
    try:
        program = cel.compile("[\n" + joined + "\n]")
    except ValueError:
        logger.warning("rules could not be compiled as one program")
        program = None
    reads: dict[str, set[str]] = {}
    for rule in rules:
        for name, names in _rule_reads(rule).items():
            reads.setdefault(name, set()).update(names)
    also = [(place, r.also) for place, r in enumerate(rules) if r.also is not None]
    return Batch(
        tuple(rules), program, frozenset(r.pk for r in rules),
        any(r.twins for r in rules),
        {name: frozenset(names) for name, names in reads.items()},
        pins.PinIndex.build(also) if len(also) == len(rules) else None,
    )  # fmt: skip


def _rule_reads(rule: CompiledRule) -> dict[str, frozenset[str]]:
    """Per variable the rule's program reads, its fields."""
    converted = _converted(rule)
    return {
        name: frozenset(
            f.partition(".")[2] for f in converted if f.startswith(name + ".")
        )
        for name in rule.variables
    }


def _reads(fields: frozenset[str]) -> _Reads:
    """Per fact group, the fields the rules read."""
    out: dict[str, list[str]] = {}
    for name in sorted(fields):
        group, _, rest = name.partition(".")
        out.setdefault(group, []).append(rest)
    return {group: tuple(names) for group, names in out.items()}


def _direct(native: Native) -> int | None:
    """The twin a condition is made of alone (`_h[id]`), if it is."""
    if (
        len(native.refs) == 1
        and native.source.strip() == f"{TWINS_VARIABLE}[{native.refs[0][2]}]"
    ):
        return native.refs[0][2]
    return None


def _converted(rule: CompiledRule) -> frozenset[str]:
    return rule.fields if rule.converted is None else rule.converted


def _union(sets: Any) -> frozenset[str]:
    return frozenset[str]().union(*sets)
