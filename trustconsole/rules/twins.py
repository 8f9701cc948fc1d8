"""Helper answers ("twins"): a rule set's `contains_any` and `matches_re` calls over
a fact, computed once per event before the evaluator runs.

`rewrite.native_source` rewrites each such call into a read of `_hl[i]`; `plan`
groups a rule set's calls by the field they read (built once per rule set), and
`run` answers them all for one event: every pattern over a field in one pass of
an RE2 set, every keyword list as one literal RE2 set over the lower-cased text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from trustconsole.rules.language import regex_compiled
from trustconsole.rules.rewrite import KEYWORDS, PATTERN, Twin

logger = logging.getLogger(__name__)

# An RE2 set is one automaton for all the patterns over a field. Its search cannot
# report running out of memory (it then says "no match"), so it is built only
# for a bounded amount of pattern text and given room well beyond that (its DFA
# empties its cache when full and goes on; it fails only when the budget cannot
# hold a few states): beyond it, each pattern is searched on its own. The room is
# a budget, taken only as the automaton grows.
SET_MAX_SOURCE = 20_000
SET_MAX_MEM = 32 << 20


@dataclass(frozen=True, slots=True)
class FieldTwins:
    """The helper calls a rule set makes over one field, computed together."""

    group: str
    field: str
    keywords: tuple[tuple[int, tuple[str, ...]], ...]  # (id, lower-cased words)
    pattern_ids: tuple[int, ...]
    regexes: tuple[Any, ...]  # each pattern compiled on its own (timing, no set)
    regex_set: Any = None  # re2.Set of them all: one pass over the text
    # The words of all the keyword lists as one literal RE2 set over the
    # lower-cased text, and for each word the lists holding it.
    word_set: Any = None
    word_owners: tuple[tuple[int, ...], ...] = ()
    # {id: False} of the keyword lists and of the patterns, copied per event
    keywords_false: dict[int, bool] = dataclasses.field(default_factory=dict)
    patterns_false: dict[int, bool] = dataclasses.field(default_factory=dict)

    @property
    def ids(self) -> tuple[int, ...]:
        return (*(n for n, _ in self.keywords), *self.pattern_ids)


@functools.lru_cache(maxsize=512)
def plan(twins: tuple[Twin, ...]) -> tuple[FieldTwins, ...]:
    """The rule set's helper calls grouped by the field they read (built once)."""

    by_field: dict[str, list[Twin]] = {}
    for twin in twins:
        by_field.setdefault(twin[1], []).append(twin)
    plan = []
    for name, items in sorted(by_field.items()):
        group, _, fact = name.partition(".")
        patterns = [(n, arg) for n, _, helper, arg in items if helper == PATTERN]
        keywords = tuple((n, arg) for n, _, helper, arg in items if helper == KEYWORDS)
        owners: dict[str, list[int]] = {}
        for number, words in keywords:
            for word in words:
                owners.setdefault(word, []).append(number)
        plan.append(
            FieldTwins(
                group, fact, keywords, tuple(n for n, _ in patterns),
                tuple(regex_compiled(arg) for _, arg in patterns),
                _regex_set([arg for _, arg in patterns], name, literal=False),
                _regex_set(list(owners), name, literal=True),
                tuple(tuple(numbers) for numbers in owners.values()),
                dict.fromkeys((n for n, _ in keywords), False),
                dict.fromkeys((n for n, _ in patterns), False),
            )
        )  # fmt: skip
    return tuple(plan)


def _regex_set(patterns: list[str], name: str, *, literal: bool) -> Any:
    """One RE2 set searching for all `patterns` (None: search them one by one)."""
    import re2

    if not patterns or sum(len(p) for p in patterns) > SET_MAX_SOURCE:
        return None
    options = re2.Options()
    options.log_errors = False
    options.max_mem = SET_MAX_MEM
    options.literal = literal
    candidate = re2.Set.SearchSet(options)
    try:
        for pattern in patterns:
            candidate.Add(pattern)
        candidate.Compile()
    except re2.error:
        logger.warning("patterns over %s searched one by one", name)
        return None
    return candidate


def run(
    values: dict[str, Any], plan: tuple[FieldTwins, ...]
) -> tuple[dict[int, bool], dict[int, str]]:
    """{twin id: the helper's answer} for the event, and why a helper could not
    run (its entry is then missing: a rule reading it raises, as the helper did)."""
    found: dict[int, bool] = {}
    failed: dict[int, str] = {}
    for ft in plan:
        group = values.get(ft.group)
        try:
            if not isinstance(group, dict) or ft.field not in group:
                raise KeyError(f"{ft.group}.{ft.field}")  # noqa: TRY301
            text = str(group[ft.field])
            if ft.keywords:
                _keywords(found, ft, text.lower())
            if ft.regex_set is not None:
                hits = ft.regex_set.Match(text) or ()
                found.update(ft.patterns_false)
                for index in hits:
                    found[ft.pattern_ids[index]] = True
            else:
                for number, regex in zip(ft.pattern_ids, ft.regexes, strict=True):
                    found[number] = regex.search(text) is not None
        except Exception as exc:  # noqa: BLE001 - the rules reading it raise
            why = f"{type(exc).__name__}: {exc}"
            for number in ft.ids:
                if number not in found:
                    failed[number] = why
    return found, failed


def _keywords(found: dict[int, bool], ft: FieldTwins, lowered: str) -> None:
    """The keyword lists' answers: substrings of the lower-cased text."""
    if ft.word_set is not None:
        try:
            hits = ft.word_set.Match(lowered) or ()
        except UnicodeError:  # RE2 reads UTF-8: Python's own test below
            pass
        else:
            found.update(ft.keywords_false)
            for index in hits:
                for number in ft.word_owners[index]:
                    found[number] = True
            return
    contained = lowered.__contains__
    for number, words in ft.keywords:
        found[number] = any(map(contained, words))


def patterns_timed(
    values: dict[str, Any], plan: tuple[FieldTwins, ...]
) -> dict[int, int]:
    """Nanoseconds of each pattern on its own (the pass was over the budget: the
    time goes to the rules that read them)."""
    took: dict[int, int] = {}
    for ft in plan:
        group = values.get(ft.group)
        text = str(group.get(ft.field, "")) if isinstance(group, dict) else ""
        for number, regex in zip(ft.pattern_ids, ft.regexes, strict=True):
            started = time.perf_counter_ns()
            with contextlib.suppress(Exception):  # reported by run()
                regex.search(text)
            took[number] = time.perf_counter_ns() - started
    return took


# The helpers as host functions, for conditions the rewrite leaves alone (a draft,
# a helper over a computed value).


def contains_any(text: Any, words: Any) -> bool:
    """Does `text` contain one of `words` (any case)?"""
    lowered = str(text).lower()
    return any(str(word).lower() in lowered for word in words if word)


def matches_re(text: Any, pattern: Any) -> bool:
    """Does the RE2 `pattern` match somewhere in `text`?"""
    return regex_compiled(str(pattern)).search(str(text)) is not None
