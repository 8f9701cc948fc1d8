"""An organisation's rules for one channel, compiled once, evaluated per event.

- **Compiled once per version**: a rule set (live and shadow rules of a channel, in
  order) is kept on the decision core's `OrgState` (`rule_sets`) at the state's
  `rules_generation`; a rule change appends a `rules` delta to the change log
  (`trustconsole.policy.changes`), so every process recompiles at its next
  decision — the one version scheme. Programs are cached per version id; a rule
  set joins them into a few batch programs when it is read (not per event).
- **Helpers without host calls**: `contains_any` / `matches_re` over a fact are
  compiled to `_h[id]` (`rewrite.native_source`); per event the engine computes
  every such answer of the rule set at once — the patterns over a field in one
  pass of an RE2 set, the keyword lists as one literal RE2 set over the
  lower-cased text (`twins.py`) — and the batches read them from a list (`_hl`).
  A condition that is only such a call takes the answer without the evaluator.
- **Per event**: the facts the set reads are built once. Rules with pins
  (`pins.py`: a fact pinned to values, a prefix or an int range, in a conjunct or
  on both sides of `||`) run only when one of their pins holds: those pinned on
  one fact alone as one program per value or prefix (`compiled.Table`), the
  others one by one (`pins.PinIndex`); the rules without pins run as one
  program; the matches are put back in order. Only the fields the programs to
  run read are converted into one `cel.Context` (per thread it is kept, and only
  the groups whose values changed are set again); an event no program runs on
  converts nothing.
- **Live** rules act: the first matching live rule whose effect acts decides (its
  name and version go into the decision's explanation); the signals and flags of
  every matching live rule apply. **Shadow** rules never act: their matches are
  listed next to the real decision and counted.
- **Failures**: when a batch raises or runs over one rule's budget, its rules run
  one by one, timed: a rule that raises is counted, logged and skipped (a helper
  that cannot run on the event, e.g. a text RE2 cannot encode, makes only the
  rules calling it raise, as the host function did). A rule over its time budget
  (`RULES_TIME_BUDGET_US`, a pattern's search time counted in when the helpers'
  pass was over it) `RULES_BUDGET_STRIKES` times in a row is turned off
  (`services.rule_disable_over_budget`) and the organisation's admins are notified.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import cel
from django.conf import settings

from trustconsole.policy.state import OrgState
from trustconsole.rules import facts as facts_registry
from trustconsole.rules import hitcounts, pins, windows
from trustconsole.rules import twins as helper_twins
from trustconsole.rules.compiled import (
    _PROGRAMS,
    LIVE,
    SHADOW,
    Batch,
    CompiledRule,
    RuleSet,
    _batch,
    _converted,
    _direct,
    _program,
    _Reads,
    _reads,
    _rule_reads,
    _tables,
    _union,
)
from trustconsole.rules.effects import acts
from trustconsole.rules.facts import EventContext
from trustconsole.rules.language import ConditionError
from trustconsole.rules.rewrite import TWINS_LIST, TWINS_VARIABLE, indexed

__all__ = ["LIVE", "SHADOW", "Batch", "CompiledRule", "Outcome", "RuleSet"]

logger = logging.getLogger(__name__)

hits_flush, hits_flush_due = hitcounts.flush, hitcounts.flush_due  # the callers' names
RETRY_SECONDS = 5.0  # a rule set that could not be read is tried again after this


def _budget_ns() -> int:
    return int(getattr(settings, "RULES_TIME_BUDGET_US", 2000)) * 1000


def _strikes() -> int:
    return int(getattr(settings, "RULES_BUDGET_STRIKES", 3))


@dataclass
class Outcome:
    """What the rules said about one event."""

    decided_by: CompiledRule | None = None
    live: list[CompiledRule] = field(default_factory=list)
    shadow: list[CompiledRule] = field(default_factory=list)
    errors: list[tuple[CompiledRule, str]] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    # With a deferring context: the window counts and rule hits `commit` records.
    windows: list[tuple[str, Mapping[str, int]]] = field(default_factory=list)
    hits: list[CompiledRule] = field(default_factory=list)
    # What `commit` found in those windows once it counted the event, by key.
    counted: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return bool(self.live or self.shadow)

    def explanation(self) -> dict[str, Any]:
        """The `rule` (what decided) and `shadow_rules` parts of an explanation."""
        return {
            "rule": self.decided_by.ref() if self.decided_by else None,
            "shadow_rules": [r.ref() for r in self.shadow],
        }


def rule_set(state: OrgState, channel: str, *, counted: bool = False) -> RuleSet:
    """The organisation's compiled rules of `channel` (one query after a change);
    `counted`: those reading a fact known once the event is counted, which the
    others leave out (`facts.counted_fields`)."""
    key = f"{channel}:counted" if counted else channel
    cached = state.rule_sets.get(key)
    if isinstance(cached, RuleSet) and (
        cached.generation == state.rules_generation
        or time.monotonic() < cached.retry_at
    ):
        return cached
    generation = state.rules_generation
    try:
        built = _load(state.organisation_id, channel, generation, counted=counted)
    except Exception:  # noqa: BLE001 - the database is down: decide without it
        logger.error(
            "rules of organisation %s (%s) could not be read; deciding with %s",
            state.organisation_id,
            channel,
            "the rules read before" if isinstance(cached, RuleSet) else "no rules",
            exc_info=True,
        )
        built = (
            cached
            if isinstance(cached, RuleSet)
            else RuleSet(
                state.organisation_id, channel, -1, "UTC", (), frozenset(),
                frozenset(),
            )
        )  # fmt: skip
        built.retry_at = time.monotonic() + RETRY_SECONDS
        with state.lock:
            state.rule_sets[key] = built  # not read again before retry_at
        return built
    with state.lock:
        state.rule_sets[key] = built
    return built


def _load(
    organisation_id: int, channel: str, generation: int, *, counted: bool = False
) -> RuleSet:
    from trustconsole.core.models import Organisation
    from trustconsole.rules.models import Rule

    rows = (
        Rule.objects.filter(
            organisation_id=organisation_id,
            channel=channel,
            mode__in=(LIVE, SHADOW),
            current_version__isnull=False,
        )
        .order_by("order", "name")
        .values_list(
            "pk",
            "public_id",
            "name",
            "mode",
            "order",
            "current_version_id",
            "current_version__number",
            "current_version__condition",
            "current_version__effect",
        )
    )
    compiled, broken, sources, helpers = [], {}, {}, False
    late = facts_registry.counted_fields(channel)
    for pk, public_id, name, mode, order, vpk, number, source, effect in rows:
        try:
            found = _program(vpk, channel, source)
        except ConditionError as exc:  # saved under an older registry: skip it
            broken[pk] = str(exc)
            logger.error("rule %s v%s does not compile any more: %s", name, number, exc)
            continue
        if bool(found.fields & late) != counted:
            continue
        sources[pk] = found.rewritten
        helpers = helpers or found.helpers
        compiled.append(
            CompiledRule(
                pk, str(public_id), name, mode, order, vpk, number, found.program,
                found.variables, found.fields, effect or {}, acts(effect or {}),
                found.guard, found.twins, found.rewritten.fields, found.count_pin,
                found.also,
            )
        )  # fmt: skip
    # Live rules first (in order), then shadow rules: shadow never delays acting.
    compiled.sort(key=lambda r: (r.mode != LIVE, r.order, r.name))
    time_zone = (
        Organisation.objects.filter(pk=organisation_id)
        .values_list("time_zone", flat=True)
        .first()
    ) or "UTC"
    fields = _union(r.fields for r in compiled)
    direct = [(r, _direct(sources[r.pk])) for r in compiled if r.guard is None]
    unguarded = [r for r, twin in direct if twin is None]
    plan = helper_twins.plan(tuple(sorted({t for r in compiled for t in r.twins})))
    twin_order = tuple(n for ft in plan for n in ft.ids)
    index = {n: i for i, n in enumerate(twin_order)}
    texts = {pk: indexed(native, index) for pk, native in sources.items()}
    tables, loose = _tables(compiled, texts)
    gate = None
    if (
        counted
        and all(r.count_pin for r in compiled)
        and not fields & facts_registry.window_fields(channel)
    ):
        gate = tuple(r.count_pin for r in compiled if r.count_pin)
    return RuleSet(
        organisation_id, channel, generation, time_zone, tuple(compiled),
        _union(r.variables for r in compiled), fields, broken,
        _batch(unguarded, texts) if unguarded else None, tables,
        pins.PinIndex.build(loose) if loose else None, gate,
        {r.pk: i for i, r in enumerate(compiled)},
        tuple((r, twin) for r, twin in direct if twin is not None),
        _reads(_union(_converted(r) for r in compiled)), plan, twin_order,
        helpers, reads_of={r.pk: _rule_reads(r) for r in compiled},
        direct_answers=_answers([(r, twin) for r, twin in direct if twin is not None]),
    )  # fmt: skip


def _answers(direct: list[tuple[CompiledRule, int]]) -> Any:
    """The rules made of one helper answer that are true for an event, in order:
    the answers taken in one call, then the rules kept by them (None: no such
    rules)."""
    if not direct:
        return None
    rules = tuple(r for r, _ in direct)
    getter = operator.itemgetter(*(twin for _, twin in direct))
    if len(direct) == 1:
        return lambda found: list(compress(rules, (getter(found),)))
    return lambda found: list(compress(rules, getter(found)))


# --- Host functions -----------------------------------------------------------------


def context_for(values: dict[str, Any], *, helpers: bool = True) -> Any:
    """One CEL context for an event, with the helpers registered when used
    (registering them costs a little on every event)."""
    context = cel.Context(values)
    if helpers:
        context.add_function("contains_any", helper_twins.contains_any)
        context.add_function("matches_re", helper_twins.matches_re)
    return context


class Unconvertible(Exception):
    """A fact the evaluator cannot hold (a lone surrogate, …)."""


def _context_reused(rules: RuleSet, values: dict[str, Any], needed: Any) -> Any:
    """This thread's context for the rule set, with the `needed` groups that
    differ from what it holds set again (a context is not shared between
    threads; a group no program to run reads is not converted)."""
    local = rules.contexts
    context = getattr(local, "context", None)
    if context is None:
        context = context_for({}, helpers=rules.helpers)
        local.context, local.held = context, {}
    held = local.held
    try:
        for name in needed:
            if name in values and (name not in held or held[name] != values[name]):
                held.pop(name, None)
                context.add_variable(name, values[name])
                held[name] = values[name]
    except ValueError as exc:
        raise Unconvertible(str(exc)) from exc
    return context


# --- Evaluating ---------------------------------------------------------------------


def evaluate(
    rules: RuleSet | list[CompiledRule],
    ctx: EventContext,
    *,
    trace: bool = False,
    time_zone: str | None = None,
) -> Outcome:
    """Run every rule on the event; never raises because of a rule.

    The facts the rules read are converted once into one context. The rules
    without a guard run as one program (`RuleSet.unguarded`), the guarded ones
    whose fact has a value they accept as one program per value; when a program
    raises (a rule failed on this event) or takes longer than one rule's budget,
    its rules run one by one, timed, so the failing or slow rule is found,
    counted and skipped.
    """
    if isinstance(rules, RuleSet):
        ctx.time_zone = time_zone or rules.time_zone
        compiled, variables, ctx.fields = rules.rules, rules.variables, rules.fields
        plan, helpers, reads = rules.twins, rules.helpers, rules.reads
    else:
        compiled = tuple(rules)
        variables = _union(r.variables for r in compiled)
        ctx.fields = _union(r.fields for r in compiled)
        plan = helper_twins.plan(tuple(sorted({t for r in compiled for t in r.twins})))
        helpers, reads = True, _reads(_union(_converted(r) for r in compiled))
    outcome = Outcome()
    if not compiled:
        return outcome
    try:
        values = facts_registry.build(ctx, variables)
    except Exception:  # noqa: BLE001 - a fact could not be read: no rule runs
        logger.error(
            "facts of a %s event could not be read", ctx.channel, exc_info=True
        )
        return outcome
    outcome.facts = values
    budget = _budget_ns()
    extra: dict[int, int] | None = None
    found: dict[int, bool] = {}
    failed: dict[int, str] = {}
    if plan:
        started = time.perf_counter_ns()
        found, failed = helper_twins.run(values, plan)
        if time.perf_counter_ns() - started > budget:  # find the slow pattern
            took = helper_twins.patterns_timed(values, plan)
            extra = {r.pk: sum(took.get(t[0], 0) for t in r.twins) for r in compiled}
    fast = rules if isinstance(rules, RuleSet) else None
    if trace or extra is not None or failed:
        fast = None  # one by one: timed, traced, or a helper failed
    try:
        if fast is not None:  # converts what its programs read (`_hl` included)
            matched = _fast(outcome, fast, values, ctx, budget, found)
        else:
            shown = _pruned(values, reads)
            if plan:
                shown[TWINS_VARIABLE] = found
            try:
                context = context_for(shown, helpers=helpers)
            except ValueError as exc:
                raise Unconvertible(str(exc)) from exc
            matched = _one_by_one(
                outcome, compiled, context, ctx, budget,
                trace=trace, failed=failed, extra=extra,
            )  # fmt: skip
    except Unconvertible:  # a fact the evaluator cannot hold: no rule matches
        logger.error(
            "facts of a %s event could not be converted", ctx.channel, exc_info=True
        )
        return Outcome(facts=values)
    defer = ctx.defer and ctx.count
    for rule in matched:
        _matched(outcome, rule)
    if not trace and not defer:
        hitcounts.count_hits(matched)
    if defer and not trace:
        outcome.windows, outcome.hits = list(ctx.deferred), matched
    if outcome.shadow and not trace:
        logger.info(
            "shadow rules matched on %s (organisation %s): %s",
            ctx.channel,
            ctx.organisation_id,
            ", ".join(f"{r.name} v{r.version}" for r in outcome.shadow),
        )
    return outcome


def commit(outcome: Outcome) -> None:
    """Count a deferred event once it is known to be new: its sliding windows and
    the hits of the rules it matched (a redelivery or a second look counts nothing)."""
    for key, spans in outcome.windows:
        outcome.counted[key] = windows.counts(key, spans, hit=True)
    hitcounts.count_hits(outcome.hits)
    outcome.windows, outcome.hits = [], []


def _fast(  # noqa: PLR0913
    outcome: Outcome,
    rules: RuleSet,
    values: dict[str, Any],
    ctx: EventContext,
    budget: int,
    twins: dict[int, bool],
) -> list[CompiledRule]:
    """The matching rules, in order: the unguarded ones in one program, the
    pinned ones only when one of their pins holds for the event's facts (exact:
    see `pins`), those pinned on one fact alone as one program per value. Only
    the groups the programs to run read are converted."""
    batches = [rules.unguarded] if rules.unguarded is not None else []
    matched: list[CompiledRule] = (
        rules.direct_answers(twins) if rules.direct_answers is not None else []
    )
    if _DISABLED and matched:
        matched = [r for r in matched if r.pk not in _DISABLED]
    loose = rules.loose.candidates(values) if rules.loose is not None else set()
    for table in rules.guarded:
        group = values.get(table.group)
        value = group.get(table.field) if isinstance(group, dict) else None
        if type(value) is not table.kind:
            loose |= table.places  # not of its type: let the programs say
        elif not table.prefix:
            batch = table.batches.get(value)
            if batch is not None and (
                batch.also is None or batch.also.candidates(values)
            ):
                batches.append(batch)
        else:
            text = str(value)
            for length in table.lengths:
                if length > len(text):
                    break
                batch = table.batches.get(text[:length])
                if batch is not None and _wanted(batch, values):
                    batches.append(batch)
    if not batches and not loose:
        return matched
    singles = tuple(rules.rules[place] for place in sorted(loose))
    needed: dict[str, set[str]] = {}
    reads_of = rules.reads_of
    for reads in [b.reads for b in batches] + [reads_of[r.pk] for r in singles]:
        for name, fields in reads.items():
            needed.setdefault(name, set()).update(fields)
    shown: dict[str, Any] = {}
    for name, wanted in needed.items():
        found = values.get(name)
        if isinstance(found, dict):
            shown[name] = {k: found[k] for k in wanted if k in found}
        elif name in values:
            shown[name] = found
    if any(b.twins for b in batches):
        shown[TWINS_LIST] = [twins[n] for n in rules.twin_order]
    context = _context_reused(rules, shown, shown)
    sources = len(batches) + bool(singles) + bool(matched)
    for batch in batches:
        matched += _run(outcome, batch, context, ctx, budget, twins)
    if singles:
        if any(r.twins for r in singles):
            context.add_variable(TWINS_VARIABLE, twins)
        matched += _one_by_one(outcome, singles, context, ctx, budget, trace=False)
    if sources > 1:
        position = rules.position
        unique = {r.pk: r for r in matched}  # a rule with several pins runs once
        matched = sorted(unique.values(), key=lambda r: position[r.pk])
    return matched


def _wanted(batch: Batch, values: dict[str, Any]) -> bool:
    """Can a rule of this batch match? Not when each has a second pinned
    conjunct and none of those pins holds (`pins.also_pins`: exact)."""
    return batch.also is None or bool(batch.also.candidates(values))


def count_can_match(rules: RuleSet, count: int, settings: Mapping[str, int]) -> bool:
    """Can a rule of this counted set match the event's own count? (True when
    some rule is not pinned on it: then the engine must say.)"""
    if rules.count_gate is None:
        return True
    live = [
        pin
        for rule, pin in zip(rules.rules, rules.count_gate, strict=True)
        if rule.pk not in _DISABLED
    ]
    return pins.count_can_match(live, count, settings)


def _run(  # noqa: PLR0913
    outcome: Outcome,
    batch: Batch,
    context: Any,
    ctx: EventContext,
    budget: int,
    twins: dict[int, bool],
) -> list[CompiledRule]:
    """The rules of `batch` that match: one call, else one by one."""
    program = batch.program
    if program is not None and (not _DISABLED or _DISABLED.isdisjoint(batch.pks)):
        started = time.perf_counter_ns()
        try:
            results = program.execute(context)
        except Exception:  # noqa: BLE001 - one rule failed: run them one by one
            pass
        else:
            if time.perf_counter_ns() - started <= budget and len(results) == len(
                batch.rules
            ):
                return [
                    r for r, ok in zip(batch.rules, results, strict=True) if ok is True
                ]
    if batch.twins:  # each rule's own program reads the twins by id
        context.add_variable(TWINS_VARIABLE, twins)
    return _one_by_one(outcome, batch.rules, context, ctx, budget, trace=False)


def _pruned(values: dict[str, Any], reads: _Reads) -> dict[str, Any]:
    """Only the fields the rules read: converting facts for the evaluator costs
    per field."""
    out: dict[str, Any] = {}
    for group, found in values.items():
        if isinstance(found, dict):
            out[group] = {k: found[k] for k in reads.get(group, ()) if k in found}
        else:
            out[group] = found
    return out


def _matched(outcome: Outcome, rule: CompiledRule) -> None:
    if rule.mode == LIVE:
        outcome.live.append(rule)
        if outcome.decided_by is None and rule.acts:
            outcome.decided_by = rule
    else:
        outcome.shadow.append(rule)


def _one_by_one(  # noqa: PLR0913
    outcome: Outcome,
    compiled: tuple[CompiledRule, ...],
    context: Any,
    ctx: EventContext,
    budget: int,
    *,
    trace: bool,
    failed: dict[int, str] | None = None,
    extra: dict[int, int] | None = None,
) -> list[CompiledRule]:
    """Each rule on its own, timed: errors counted and skipped, slow rules noted
    (`extra`: the time its patterns took, measured before). Returns the rules that
    matched, in order."""
    matched_rules = []
    for rule in compiled:
        if rule.pk in _DISABLED:
            continue
        started = time.perf_counter_ns()
        try:
            result = rule.program.execute(context)
        except Exception as exc:  # noqa: BLE001 - a rule's failure never stops a decision
            message = _twin_failure(rule, exc, failed) or (
                f"{type(exc).__name__}: {str(exc)[:200]}"
            )
            outcome.errors.append((rule, message))
            if trace:
                outcome.trace.append(_step(rule, None, message, started))
            else:
                hitcounts.count(rule.pk, rule.mode, error=True)
                logger.warning(
                    "rule %s v%s raised on %s (skipped): %s",
                    rule.name, rule.version, ctx.channel, message,
                )  # fmt: skip
            continue
        elapsed = time.perf_counter_ns() - started
        if extra:
            elapsed += extra.get(rule.pk, 0)
        matched = result is True
        if trace:
            outcome.trace.append(_step(rule, matched, "", started, elapsed))
        else:
            _time_note(rule, elapsed, budget, ctx.organisation_id)
        if matched:
            matched_rules.append(rule)
    return matched_rules


def _twin_failure(
    rule: CompiledRule, exc: Exception, failed: dict[int, str] | None
) -> str:
    """Why a helper the rule calls could not run, when that is why it raised."""
    if not failed or not rule.twins or not isinstance(exc, KeyError):
        return ""
    for number, name, helper, _ in rule.twins:
        if number in failed and str(number) in str(exc):
            return f"{helper}({name}, …): {failed[number]}"[:200]
    return ""


def _step(
    rule: CompiledRule,
    matched: bool | None,  # noqa: FBT001 - None: the rule raised
    error: str,
    started: int,
    elapsed: int | None = None,
) -> dict[str, Any]:
    took = elapsed if elapsed is not None else time.perf_counter_ns() - started
    return {
        **rule.ref(),
        "matched": matched,
        "error": error,
        "microseconds": round(took / 1000, 1),
    }


# --- Time budget --------------------------------------------------------------------

_STRIKES: dict[int, int] = {}
_DISABLED: set[int] = set()


def _time_note(rule: CompiledRule, elapsed: int, budget: int, org_id: int) -> None:
    if elapsed <= budget:
        if rule.pk in _STRIKES:
            _STRIKES.pop(rule.pk, None)
        return
    strikes = _STRIKES.get(rule.pk, 0) + 1
    _STRIKES[rule.pk] = strikes
    logger.warning(
        "rule %s v%s took %d µs (budget %d µs), %d in a row",
        rule.name, rule.version, elapsed // 1000, budget // 1000, strikes,
    )  # fmt: skip
    if strikes < _strikes():
        return
    _DISABLED.add(rule.pk)  # this process stops at once; the others by the delta
    _STRIKES.pop(rule.pk, None)
    from trustconsole.rules import services

    try:
        services.rule_disable_over_budget(
            rule_pk=rule.pk, microseconds=elapsed // 1000, budget=budget // 1000
        )
    except Exception:  # noqa: BLE001 - the decision goes on; retried on next overrun
        _DISABLED.discard(rule.pk)
        logger.exception("could not turn off rule %s over its time budget", rule.name)


def forget_disabled(rule_pk: int) -> None:
    """A rule turned on again runs again in this process."""
    _DISABLED.discard(rule_pk)
    _STRIKES.pop(rule_pk, None)


def reset() -> None:
    """Forget compiled programs, strikes and counts (tests, benchmarks)."""
    _PROGRAMS.clear()
    _STRIKES.clear()
    _DISABLED.clear()
    hitcounts.reset()
