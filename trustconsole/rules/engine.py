"""An organisation's rules for one channel, compiled once, evaluated per event.

- **Compiled once per version**: a rule set (live and shadow rules of a channel, in
  order) is kept on the decision core's `OrgState` (`rule_sets`) at the state's
  `rules_generation`; a rule change appends a `rules` delta to the change log
  (`trustconsole.policy.changes`), so every process recompiles at its next
  decision — the one version scheme. Programs are cached per version id.
- **Per event**: the facts the set reads (only those groups) are built once into
  one `cel.Context` shared by every rule; each rule runs in order.
- **Live** rules act: the first matching live rule whose effect acts decides (its
  name and version go into the decision's explanation); the signals and flags of
  every matching live rule apply. **Shadow** rules never act: their matches are
  listed next to the real decision and counted.
- **Failures**: a rule that raises is counted, logged and skipped. A rule over
  its time budget (`RULES_TIME_BUDGET_US`) `RULES_BUDGET_STRIKES` times in a row
  is turned off (`services.rule_disable_over_budget`) and the organisation's admins
  are notified.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel
from django.conf import settings

from trustconsole.policy.state import OrgState
from trustconsole.rules import facts as facts_registry
from trustconsole.rules import matchlog, windows
from trustconsole.rules.effects import acts
from trustconsole.rules.facts import EventContext
from trustconsole.rules.language import (
    LOWER_SUFFIX,
    ConditionError,
    check,
    native_source,
    regex_compiled,
)

logger = logging.getLogger(__name__)

LIVE, SHADOW = "live", "shadow"
RETRY_SECONDS = 5.0  # a rule set that could not be read is tried again after this


def _budget_ns() -> int:
    return int(getattr(settings, "RULES_TIME_BUDGET_US", 2000)) * 1000


def _strikes() -> int:
    return int(getattr(settings, "RULES_BUDGET_STRIKES", 3))


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
    guard: tuple[str, str, frozenset[Any]] | None = None

    def ref(self) -> dict[str, Any]:
        """How an explanation names the rule."""
        return {
            "id": self.public_id,
            "name": self.name,
            "version": self.version,
            "mode": self.mode,
            "effect": self.effect,
        }


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
    batch: Any = None  # one program: the conditions of the unguarded rules, in order
    pks: frozenset[int] = frozenset()
    helpers: bool = True  # some rule calls contains_any / matches_re
    retry_at: float = 0.0  # monotonic: after a failed read, not before this


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

    @property
    def matched(self) -> bool:
        return bool(self.live or self.shadow)

    def explanation(self) -> dict[str, Any]:
        """The `rule` (what decided) and `shadow_rules` parts of an explanation."""
        return {
            "rule": self.decided_by.ref() if self.decided_by else None,
            "shadow_rules": [r.ref() for r in self.shadow],
        }


# --- Compiling ----------------------------------------------------------------------

_Compiled = tuple[Any, frozenset[str], frozenset[str], bool, Any, str]
_PROGRAMS: dict[int, _Compiled] = {}
_PROGRAMS_LOCK = threading.Lock()


def _program(version_pk: int, channel: str, source: str) -> _Compiled:
    """The compiled program of a version (compiled once per process)."""
    found = _PROGRAMS.get(version_pk)
    if found is not None:
        return found
    schema = facts_registry.channel_facts(channel).schema()
    checked = check(source, schema)
    for pattern in checked.patterns:
        regex_compiled(pattern)
    # Keyword lists in plain CEL over lower-cased twins of the fields they read
    # (no call back into Python per rule); checked above in their written form.
    native, lowered = native_source(source, schema)
    compiled = (
        cel.compile(native),
        checked.variables,
        checked.fields | {f + LOWER_SUFFIX for f in lowered},
        "contains_any(" in native or "matches_re(" in native,
        checked.guard,
        native,
    )
    with _PROGRAMS_LOCK:
        if len(_PROGRAMS) > 20_000:
            _PROGRAMS.clear()
        _PROGRAMS[version_pk] = compiled
    return compiled


def rule_set(state: OrgState, channel: str) -> RuleSet:
    """The organisation's compiled rules of `channel` (one query after a change)."""
    cached = state.rule_sets.get(channel)
    if isinstance(cached, RuleSet) and (
        cached.generation == state.rules_generation
        or time.monotonic() < cached.retry_at
    ):
        return cached
    generation = state.rules_generation
    try:
        built = _load(state.organisation_id, channel, generation)
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
            state.rule_sets[channel] = built  # not read again before retry_at
        return built
    with state.lock:
        state.rule_sets[channel] = built
    return built


def _load(organisation_id: int, channel: str, generation: int) -> RuleSet:
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
    compiled, broken, sources, helpers_of = [], {}, {}, {}
    for pk, public_id, name, mode, order, vpk, number, source, effect in rows:
        try:
            program, variables, fields, helpers, guard, native = _program(
                vpk, channel, source
            )
        except ConditionError as exc:  # saved under an older registry: skip it
            broken[pk] = str(exc)
            logger.error("rule %s v%s does not compile any more: %s", name, number, exc)
            continue
        sources[pk] = native
        helpers_of[pk] = helpers
        compiled.append(
            CompiledRule(
                pk, str(public_id), name, mode, order, vpk, number, program,
                variables, fields, effect or {}, acts(effect or {}), guard,
            )
        )  # fmt: skip
    # Live rules first (in order), then shadow rules: shadow never delays acting.
    compiled.sort(key=lambda r: (r.mode != LIVE, r.order, r.name))
    time_zone = (
        Organisation.objects.filter(pk=organisation_id)
        .values_list("time_zone", flat=True)
        .first()
    ) or "UTC"
    return RuleSet(
        organisation_id, channel, generation, time_zone, tuple(compiled),
        _union(r.variables for r in compiled), _union(r.fields for r in compiled),
        broken, _batch([sources[r.pk] for r in compiled if r.guard is None]),
        frozenset(r.pk for r in compiled), any(helpers_of.values()),
    )  # fmt: skip


def _batch(sources: list[str]) -> Any:
    """One program evaluating every condition (None when it cannot compile)."""
    if not sources:
        return None
    # One condition per line, so a trailing // comment ends with its line.
    try:
        return cel.compile("[\n" + "\n,\n".join(f"({s}\n)" for s in sources) + "\n]")
    except ValueError:
        logger.warning("rule set could not be compiled as one program")
        return None


def _union(sets: Any) -> frozenset[str]:
    out: set[str] = set()
    for item in sets:
        out |= item
    return frozenset(out)


# --- Host functions -----------------------------------------------------------------


def _contains_any(text: Any, words: Any) -> bool:
    lowered = str(text).lower()
    return any(str(word).lower() in lowered for word in words if word)


def _matches_re(text: Any, pattern: Any) -> bool:
    return regex_compiled(str(pattern)).search(str(text)) is not None


def context_for(values: dict[str, Any], *, helpers: bool = True) -> Any:
    """One CEL context for an event, with the helpers registered when used
    (registering them costs a little on every event)."""
    context = cel.Context(values)
    if helpers:
        context.add_function("contains_any", _contains_any)
        context.add_function("matches_re", _matches_re)
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

    A rule set runs as one program (`RuleSet.batch`: the list of its conditions,
    one call into the evaluator); when that raises (a rule failed on this event)
    or takes longer than one rule's budget, the rules run one by one, timed, so
    the failing or slow rule is found, counted and skipped.
    """
    if isinstance(rules, RuleSet):
        ctx.time_zone = time_zone or rules.time_zone
        compiled, variables, ctx.fields = rules.rules, rules.variables, rules.fields
        batch, helpers, pks = rules.batch, rules.helpers, rules.pks
    else:
        compiled = tuple(rules)
        variables = _union(r.variables for r in compiled)
        ctx.fields = _union(r.fields for r in compiled)
        batch, helpers, pks = None, True, frozenset()
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
    values = _with_lowered(values, ctx.fields)
    context = context_for(
        values if trace else _pruned(values, ctx.fields), helpers=helpers
    )
    budget = _budget_ns()
    if isinstance(rules, RuleSet) and not trace:
        matched = _fast(outcome, rules, values, context, ctx, budget, batch, pks)
    else:
        matched = _one_by_one(outcome, compiled, context, ctx, budget, trace=trace)
    defer = ctx.defer and ctx.count
    for rule in matched:
        _matched(outcome, rule, count=not trace and not defer)
    if defer and not trace:
        outcome.windows, outcome.hits = list(ctx.deferred), list(matched)
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
        windows.counts(key, spans, hit=True)
    for rule in outcome.hits:
        _count(rule)
    outcome.windows, outcome.hits = [], []


def _fast(  # noqa: PLR0913
    outcome: Outcome,
    rules: RuleSet,
    values: dict[str, Any],
    context: Any,
    ctx: EventContext,
    budget: int,
    batch: Any,
    pks: frozenset[int],
) -> list[CompiledRule]:
    """The matching rules, in order: unguarded ones in one program, guarded ones
    only when their fact has one of the guard's values."""
    unguarded = [r for r in rules.rules if r.guard is None]
    candidates = []
    for rule in rules.rules:
        guard = rule.guard
        if guard is not None:
            group = values.get(guard[0])
            if isinstance(group, dict) and group.get(guard[1]) in guard[2]:
                candidates.append(rule)
    results = None
    if batch is not None and not _DISABLED.intersection(pks):
        started = time.perf_counter_ns()
        try:
            results = batch.execute(context)
        except Exception:  # noqa: BLE001 - one rule failed: run them one by one
            results = None
        else:
            if time.perf_counter_ns() - started > budget or len(results) != len(
                unguarded
            ):
                results = None  # find the slow rule
    if results is not None:
        hits = {
            r.pk for r, result in zip(unguarded, results, strict=True) if result is True
        }
        hits.update(
            r.pk
            for r in _one_by_one(
                outcome, tuple(candidates), context, ctx, budget, trace=False
            )
        )
    else:
        chosen = {r.pk for r in unguarded} | {r.pk for r in candidates}
        hits = {
            r.pk
            for r in _one_by_one(
                outcome,
                tuple(r for r in rules.rules if r.pk in chosen),
                context,
                ctx,
                budget,
                trace=False,
            )
        }
    return [r for r in rules.rules if r.pk in hits]


def _with_lowered(values: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """Add the lower-cased twins (`message.text__lower`) the rules read."""
    twins = [f for f in fields if f.endswith(LOWER_SUFFIX)]
    if not twins:
        return values
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for name in twins:
        group, _, field = name[: -len(LOWER_SUFFIX)].partition(".")
        found = out.get(group)
        if isinstance(found, dict):
            found[field + LOWER_SUFFIX] = str(found.get(field, "")).lower()
    return out


def _pruned(values: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """Only the fields the rules read: converting facts for the evaluator costs
    per field."""
    out: dict[str, Any] = {}
    for group, found in values.items():
        if isinstance(found, dict):
            out[group] = {k: v for k, v in found.items() if f"{group}.{k}" in fields}
        else:
            out[group] = found
    return out


def _matched(outcome: Outcome, rule: CompiledRule, *, count: bool) -> None:
    if rule.mode == LIVE:
        outcome.live.append(rule)
        if outcome.decided_by is None and rule.acts:
            outcome.decided_by = rule
    else:
        outcome.shadow.append(rule)
    if count:
        _count(rule)


def _one_by_one(  # noqa: PLR0913
    outcome: Outcome,
    compiled: tuple[CompiledRule, ...],
    context: Any,
    ctx: EventContext,
    budget: int,
    *,
    trace: bool,
) -> list[CompiledRule]:
    """Each rule on its own, timed: errors counted and skipped, slow rules noted.
    Returns the rules that matched, in order."""
    matched_rules = []
    for rule in compiled:
        if rule.pk in _DISABLED:
            continue
        started = time.perf_counter_ns()
        try:
            result = rule.program.execute(context)
        except Exception as exc:  # noqa: BLE001 - a rule's failure never stops a decision
            message = f"{type(exc).__name__}: {str(exc)[:200]}"
            outcome.errors.append((rule, message))
            if trace:
                outcome.trace.append(_step(rule, None, message, started))
            else:
                _count(rule, error=True)
                logger.warning(
                    "rule %s v%s raised on %s (skipped): %s",
                    rule.name, rule.version, ctx.channel, message,
                )  # fmt: skip
            continue
        elapsed = time.perf_counter_ns() - started
        matched = result is True
        if trace:
            outcome.trace.append(_step(rule, matched, "", started, elapsed))
        else:
            _time_note(rule, elapsed, budget, ctx.organisation_id)
        if matched:
            matched_rules.append(rule)
    return matched_rules


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


# --- Hit counts ---------------------------------------------------------------------

_HITS: dict[tuple[int, dt.datetime, str], list[int]] = defaultdict(lambda: [0, 0])
_HITS_LOCK = threading.Lock()
_last_flush = time.monotonic()


def _count(rule: CompiledRule, *, error: bool = False) -> None:
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with _HITS_LOCK:
        _HITS[(rule.pk, hour, rule.mode)][1 if error else 0] += 1


def hits_flush_due() -> None:
    """Write the counts (and the match log) every RULES_HITS_FLUSH_SECONDS (cheap
    when nothing is due)."""
    every = float(getattr(settings, "RULES_HITS_FLUSH_SECONDS", 10))
    if (_HITS or matchlog.pending()) and time.monotonic() - _last_flush >= every:
        hits_flush()


def hits_flush() -> int:
    """Add this process's counts to `RuleHitCount` rows, and write its buffered
    matches (`matchlog`); returns hit-count rows touched."""
    global _last_flush
    from django.db import transaction
    from django.db.models import F

    from trustconsole.rules.models import Rule, RuleHitCount

    with _HITS_LOCK:
        pending = dict(_HITS)
        _HITS.clear()
        _last_flush = time.monotonic()
    matchlog.flush()
    if not pending:
        return 0
    try:
        with transaction.atomic():
            existing = set(
                Rule.objects.filter(pk__in={k[0] for k in pending}).values_list(
                    "pk", flat=True
                )
            )
            for (rule_pk, hour, mode), (hits, errors) in pending.items():
                if rule_pk not in existing:
                    continue
                row, created = RuleHitCount.objects.get_or_create(
                    rule_id=rule_pk, hour=hour, mode=mode,
                    defaults={"hits": hits, "errors": errors},
                )  # fmt: skip
                if not created:
                    RuleHitCount.objects.filter(pk=row.pk).update(
                        hits=F("hits") + hits, errors=F("errors") + errors
                    )
    except Exception:  # noqa: BLE001 - counts wait for the next flush
        with _HITS_LOCK:
            for key, (hits, errors) in pending.items():
                _HITS[key][0] += hits
                _HITS[key][1] += errors
        logger.warning("could not write rule hit counts", exc_info=True)
        return 0
    return len(pending)


def reset() -> None:
    """Forget compiled programs, strikes and counts (tests, benchmarks)."""
    _PROGRAMS.clear()
    _STRIKES.clear()
    _DISABLED.clear()
    with _HITS_LOCK:
        _HITS.clear()
    matchlog.reset()
