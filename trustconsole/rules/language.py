"""Rule conditions: Google's Common Expression Language (CEL), checked and compiled.

Two libraries, one language:

- **Checking** (on save): the condition is parsed with the CEL grammar that
  cel-python ships (`celpy/cel.lark`, read by lark) and every node is
  type-checked against the channel's facts (`facts.py`). An error names its
  line, column and reason.
- **Evaluating** (per event): `common-expression-language` (Rust bindings of the
  `cel-interpreter` crate) compiles the condition once per rule version; one
  `cel.Context` is built per event and shared by every rule of it. Before
  compiling, `rewrite.native_source` rewrites the helpers called on a fact
  (`contains_any(message.text, [...])`, `matches_re(message.text, "...")`) into
  `_h[id]`, an answer the engine computes once per event for the whole rule set
  (same semantics; the evaluator never calls back into Python for them).

The supported subset (anything else is refused on save, with its position):
literals (int, double, string, bool, lists of them); facts and their fields;
`! - && || ?:`, `== != < <= > >= in`, `+ - * / %`; `size(x)` / `x.size()`,
`int()`, `double()`, `string()`; strings' `contains`, `startsWith`, `endsWith`;
lists' `exists(x, …)` and `all(x, …)` (at most two nested); and two helpers:
`contains_any(text, ["word", …])` (case-insensitive substrings) and
`matches_re(text, "pattern")` (RE2: linear time, compiled once; the pattern must
be a string literal, checked on save). CEL's own `matches()` is refused: it
compiles its pattern on every call.

Bounded execution: CEL has no loops, no assignment and no access to the host; the
only iteration is over fact lists (bounded by the registry), macro nesting is
capped, conditions are at most `MAX_SOURCE` characters. Each rule's run time is
still measured (`engine.py`): a rule over its budget is disabled.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import cel
from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput

MAX_SOURCE = 2000
MAX_DEPTH = 48
MAX_MACRO_NESTING = 2
MAX_LIST_LITERAL = 500

BOOL, INT, DOUBLE, STRING, DYN = "bool", "int", "double", "string", "dyn"
NUMERIC = (INT, DOUBLE)


class ConditionError(Exception):
    """A condition that cannot be saved: where and why."""

    def __init__(self, reason: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"line {line}, column {column}: {reason}")
        self.reason = reason
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, Any]:
        """The error as the API and the edit form show it."""
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class Schema:
    """What a condition may name: top-level facts and the fields of object facts."""

    variables: dict[str, str]  # name → type (a scalar, "list<…>" or an object name)
    objects: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """A condition that passed the check."""

    source: str
    variables: frozenset[str]  # top-level facts it reads
    patterns: tuple[str, ...]  # matches_re patterns (compiled once)
    fields: frozenset[str] = frozenset()  # "group.field" it reads
    helpers: bool = False  # calls contains_any / matches_re


def _lexer_literal(token: Token) -> Token:
    # The grammar lexes true/false as identifiers; cel-python resolves it this way.
    if token.value in ("true", "false"):
        return Token("BOOL_LIT", token.value)
    return token


@functools.cache
def _parser() -> Lark:
    # The CEL grammar as cel-python ships it (the dependency's own file).
    grammar = resources.files("celpy").joinpath("cel.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        start="expr",
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": _lexer_literal},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
    )


def _pos(node: Tree[Any] | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 1, node.column or 1
    meta = node.meta
    return (getattr(meta, "line", 1) or 1), (getattr(meta, "column", 1) or 1)


def _fail(node: Tree[Any] | Token, reason: str) -> ConditionError:
    line, column = _pos(node)
    return ConditionError(reason, line, column)


_RUST_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*?)(?:\n|$)")


def parse(source: str) -> Tree[Any]:
    """The syntax tree, or a ConditionError at the first syntax error."""
    if not source.strip():
        raise ConditionError("Write a condition (an expression that is true or false).")
    if len(source) > MAX_SOURCE:
        raise ConditionError(f"A condition is at most {MAX_SOURCE} characters.")
    try:
        return _parser().parse(source)
    except UnexpectedInput as exc:
        found = ""
        if isinstance(exc, UnexpectedCharacters):
            found = f"unexpected character {source[exc.pos_in_stream or 0]!r}"
        else:
            token = getattr(exc, "token", None)
            if token is None or token.type == "$END":
                # Point just past the end, where something is missing.
                lines = source.rstrip().splitlines() or [""]
                raise ConditionError(
                    "Syntax error: the condition ends too early.",
                    len(lines),
                    len(lines[-1]) + 1,
                ) from None
            found = f"unexpected {str(token)!r}"
        raise ConditionError(
            f"Syntax error: {found}.", exc.line or 1, exc.column or 1
        ) from None
    except LarkError as exc:  # pragma: no cover - lark's other parse errors
        raise ConditionError(f"Syntax error: {exc}.") from None


def check(source: str, schema: Schema) -> Checked:
    """Parse and type-check `source` against `schema`; it must be true or false."""
    tree = parse(source)
    checker = _Checker(schema)
    result = checker.type_of(tree, {}, 0, 0)
    if result not in (BOOL, DYN):
        raise _fail(tree, f"The condition must be true or false, not {result}.")
    program_compile(source)  # the evaluator must accept it too
    return Checked(
        source,
        frozenset(checker.used),
        tuple(checker.patterns),
        frozenset(checker.fields),
        checker.helpers,
    )


def program_compile(source: str) -> cel.Program:
    """Compile for evaluation (once per rule version)."""
    try:
        return cel.compile(source)
    except ValueError as exc:
        found = _RUST_POSITION.search(str(exc))
        if found:
            raise ConditionError(
                found.group(3), int(found.group(1)), int(found.group(2))
            ) from None
        raise ConditionError(str(exc).splitlines()[0]) from None


_REL = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
}
_ARITH = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}
_STRING_METHODS = {"contains", "startsWith", "endsWith"}
_CONVERSIONS = {"int": INT, "double": DOUBLE, "string": STRING}


def _element(kind: str) -> str | None:
    if kind.startswith("list<") and kind.endswith(">"):
        return kind[5:-1]
    return None


class _Checker:
    """Walks the syntax tree and returns each node's type (or raises)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.used: set[str] = set()
        self.patterns: list[str] = []
        self.fields: set[str] = set()
        self.helpers = False

    def type_of(  # noqa: C901, PLR0911, PLR0912 - one branch per grammar rule
        self, node: Tree[Any] | Token, scope: dict[str, str], depth: int, macros: int
    ) -> str:
        if depth > MAX_DEPTH:
            raise _fail(node, "The condition is nested too deeply.")
        if isinstance(node, Token):  # pragma: no cover - tokens are read by parents
            raise _fail(node, f"Unexpected {node!s}.")
        d = node.data
        kids: list[Any] = node.children
        nxt = depth + 1
        if d in ("expr",) and len(kids) == 3:
            self._want(kids[0], BOOL, scope, nxt, macros, "The condition of ?:")
            left = self.type_of(kids[1], scope, nxt, macros)
            right = self.type_of(kids[2], scope, nxt, macros)
            if DYN not in (left, right) and left != right:
                raise _fail(
                    node, f"Both branches of ?: must have one type ({left}, {right})."
                )
            return left if left != DYN else right
        if d in ("conditionalor", "conditionaland") and len(kids) == 2:
            op = "||" if d == "conditionalor" else "&&"
            for kid in kids:
                self._want(kid, BOOL, scope, nxt, macros, f"Each side of {op}")
            return BOOL
        if d in ("expr", "conditionalor", "conditionaland", "member", "primary"):
            return self.type_of(kids[0], scope, nxt, macros)
        if d == "relation":
            if len(kids) == 1:
                return self.type_of(kids[0], scope, nxt, macros)
            return self._relation(node, kids[0], kids[1], scope, nxt, macros)
        if d in ("addition", "multiplication"):
            if len(kids) == 1:
                return self.type_of(kids[0], scope, nxt, macros)
            return self._arith(node, kids[0], kids[1], scope, nxt, macros)
        if d == "unary":
            if len(kids) == 1:
                return self.type_of(kids[0], scope, nxt, macros)
            if kids[0].data == "unary_not":
                self._want(kids[1], BOOL, scope, nxt, macros, "The operand of !")
                return BOOL
            inner = self.type_of(kids[1], scope, nxt, macros)
            if inner not in (*NUMERIC, DYN):
                raise _fail(node, f"Only numbers can be negated, not {inner}.")
            return inner
        if d == "paren_expr":
            return self.type_of(kids[0], scope, nxt, macros)
        if d == "literal":
            return self._literal(kids[0])
        if d == "list_lit":
            return self._list(node, kids, scope, nxt, macros)
        if d == "ident":
            return self._ident(kids[0], scope)
        if d == "member_dot":
            return self._field(node, kids[0], kids[1], scope, nxt, macros)
        if d == "member_dot_arg":
            args = kids[2].children if len(kids) > 2 else []
            return self._method(node, kids[0], kids[1], args, scope, nxt, macros)
        if d == "ident_arg":
            args = kids[1].children if len(kids) > 1 else []
            return self._function(node, kids[0], args, scope, nxt, macros)
        if d == "member_index":
            base = self.type_of(kids[0], scope, nxt, macros)
            index = self.type_of(kids[1], scope, nxt, macros)
            element = _element(base)
            if element is None or index not in (INT, DYN):
                raise _fail(node, "Only lists can be indexed, with a whole number.")
            return element
        what = {
            "map_lit": "Maps",
            "member_object": "Message construction",
            "dot_ident": "Leading-dot names",
            "dot_ident_arg": "Leading-dot names",
        }.get(d, d)
        raise _fail(node, f"{what} are not supported in rule conditions.")

    def _want(
        self,
        node: Tree[Any],
        kind: str,
        scope: dict[str, str],
        depth: int,
        macros: int,
        what: str,
    ) -> None:
        found = self.type_of(node, scope, depth, macros)
        if found not in (kind, DYN):
            raise _fail(node, f"{what} must be {kind}, not {found}.")

    def _relation(
        self,
        node: Tree[Any],
        op_tree: Tree[Any],
        right_node: Tree[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        op = _REL[op_tree.data]
        left = self.type_of(op_tree.children[0], scope, depth, macros)
        right = self.type_of(right_node, scope, depth, macros)
        if DYN in (left, right):
            return BOOL
        if op == "in":
            element = _element(right)
            if element is None:
                raise _fail(
                    right_node, f"The right side of 'in' must be a list, not {right}."
                )
            if element not in (left, DYN):
                raise _fail(node, f"{left} cannot be in a list of {element}.")
            return BOOL
        if left != right:
            hint = (
                " (CEL does not mix int and double: write 5 or 5.0 to match, "
                "or convert with int() or double())"
                if {left, right} == {INT, DOUBLE}
                else ""
            )
            raise _fail(node, f"Cannot compare {left} with {right} using {op}{hint}.")
        if op in ("<", "<=", ">", ">=") and left not in (*NUMERIC, STRING):
            raise _fail(node, f"{op} compares numbers or strings, not {left}.")
        return BOOL

    def _arith(
        self,
        node: Tree[Any],
        op_tree: Tree[Any],
        right_node: Tree[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        op = _ARITH[op_tree.data]
        left = self.type_of(op_tree.children[0], scope, depth, macros)
        right = self.type_of(right_node, scope, depth, macros)
        if DYN in (left, right):
            return left if right == DYN else right
        if left != right:
            raise _fail(node, f"Cannot use {op} on {left} and {right}.")
        if op == "+" and (left == STRING or _element(left) is not None):
            return left
        if left not in NUMERIC:
            raise _fail(node, f"{op} works on numbers, not {left}.")
        if op == "%" and left != INT:
            raise _fail(node, "% works on whole numbers only.")
        return left

    def _literal(self, token: Token) -> str:
        kind = token.type
        if kind == "INT_LIT":
            return INT
        if kind == "FLOAT_LIT":
            return DOUBLE
        if kind in ("STRING_LIT", "MLSTRING_LIT"):
            return STRING
        if kind == "BOOL_LIT":
            return BOOL
        raise _fail(
            token, f"{kind.replace('_LIT', '').lower()} literals are not supported."
        )

    def _list(
        self,
        node: Tree[Any],
        kids: list[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        items = kids[0].children if kids else []
        if len(items) > MAX_LIST_LITERAL:
            raise _fail(node, f"A list has at most {MAX_LIST_LITERAL} items.")
        kinds = {self.type_of(item, scope, depth, macros) for item in items}
        kinds.discard(DYN)
        if len(kinds) > 1:
            raise _fail(node, f"A list holds one type, not {', '.join(sorted(kinds))}.")
        return f"list<{kinds.pop() if kinds else DYN}>"

    def _ident(self, token: Token, scope: dict[str, str]) -> str:
        name = str(token)
        if name in scope:
            return scope[name]
        kind = self.schema.variables.get(name)
        if kind is None:
            known = ", ".join(sorted(self.schema.variables))
            raise _fail(token, f"Unknown fact {name!r}; this channel has: {known}.")
        self.used.add(name)
        return kind

    def _field(
        self,
        node: Tree[Any],
        base_node: Tree[Any],
        name: Token,
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        base = self.type_of(base_node, scope, depth, macros)
        fields = self.schema.objects.get(base)
        if fields is None:
            raise _fail(name, f"{base} has no fields (.{name}).")
        kind = fields.get(str(name))
        if kind is None:
            raise _fail(
                name,
                f"Unknown field {name!s} of {base}; "
                f"it has: {', '.join(sorted(fields))}.",
            )
        self.fields.add(f"{base}.{name}")
        return kind

    def _method(  # noqa: PLR0913
        self,
        node: Tree[Any],
        base_node: Tree[Any],
        name: Token,
        args: list[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        method = str(name)
        if method in ("exists", "all"):
            return self._macro(node, base_node, method, args, scope, depth, macros)
        base = self.type_of(base_node, scope, depth, macros)
        if method == "size" and not args:
            if base not in (STRING, DYN) and _element(base) is None:
                raise _fail(name, f"size() needs a string or a list, not {base}.")
            return INT
        if method == "matches":
            raise _fail(
                name,
                'Use matches_re(text, "pattern") instead of matches(): its pattern '
                "is compiled once.",
            )
        if method in _STRING_METHODS:
            if base not in (STRING, DYN):
                raise _fail(name, f"{method}() is a string method; this is {base}.")
            if len(args) != 1:
                raise _fail(name, f"{method}() takes one string.")
            self._want(
                args[0], STRING, scope, depth, macros, f"The argument of {method}()"
            )
            return BOOL
        raise _fail(name, f"Unknown method {method}().")

    def _macro(  # noqa: PLR0913
        self,
        node: Tree[Any],
        base_node: Tree[Any],
        method: str,
        args: list[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        if macros >= MAX_MACRO_NESTING:
            raise _fail(node, f"At most {MAX_MACRO_NESTING} nested exists()/all().")
        base = self.type_of(base_node, scope, depth, macros)
        element = _element(base)
        if element is None:
            raise _fail(node, f"{method}() works on lists, not {base}.")
        variable = _bare_ident(args[0]) if len(args) == 2 else None
        if variable is None:
            raise _fail(node, f"Write {method}(x, condition on x).")
        inner = {**scope, variable: element}
        self._want(
            args[1], BOOL, inner, depth, macros + 1, f"The condition of {method}()"
        )
        return BOOL

    def _function(  # noqa: PLR0913
        self,
        node: Tree[Any],
        name: Token,
        args: list[Any],
        scope: dict[str, str],
        depth: int,
        macros: int,
    ) -> str:
        function = str(name)
        if function == "size" and len(args) == 1:
            base = self.type_of(args[0], scope, depth, macros)
            if base not in (STRING, DYN) and _element(base) is None:
                raise _fail(name, f"size() needs a string or a list, not {base}.")
            return INT
        if function in _CONVERSIONS and len(args) == 1:
            base = self.type_of(args[0], scope, depth, macros)
            if base not in (INT, DOUBLE, STRING, DYN):
                raise _fail(
                    name, f"{function}() converts a number or a string, not {base}."
                )
            return _CONVERSIONS[function]
        if function == "has" and len(args) == 1:
            target = _unwrap(args[0])
            if target is None or target.data != "member_dot":
                raise _fail(name, "has() takes a field: has(caller.country).")
            self.type_of(target, scope, depth, macros)
            return BOOL
        if function in ("contains_any", "matches_re"):
            self.helpers = True
        if function == "contains_any":
            if len(args) != 2:
                raise _fail(name, 'Write contains_any(text, ["word", ...]).')
            self._want(
                args[0], STRING, scope, depth, macros, "The text of contains_any()"
            )
            self._want(
                args[1],
                "list<string>",
                scope,
                depth,
                macros,
                "The words of contains_any()",
            )
            return BOOL
        if function == "matches_re":
            if len(args) != 2:
                raise _fail(name, 'Write matches_re(text, "pattern").')
            self._want(
                args[0], STRING, scope, depth, macros, "The text of matches_re()"
            )
            literal = _string_literal(args[1])
            if literal is None:
                raise _fail(
                    args[1], "The pattern of matches_re() must be a string literal."
                )
            pattern, token = literal
            problem = regex_problem(pattern)
            if problem:
                raise _fail(token, f"Invalid regular expression: {problem}.")
            self.patterns.append(pattern)
            return BOOL
        raise _fail(name, f"Unknown function {function}().")


def _unwrap(node: Any) -> Tree[Any] | None:
    """The single meaningful node under chains of one-child wrappers."""
    while isinstance(node, Tree):
        if node.data in (
            "member_dot",
            "ident",
            "literal",
            "member_dot_arg",
            "ident_arg",
        ):
            return node
        if len(node.children) != 1:
            return None
        node = node.children[0]
    return None


def _bare_ident(node: Any) -> str | None:
    found = _unwrap(node)
    if found is not None and found.data == "ident":
        return str(found.children[0])
    return None


def _string_literal(node: Any) -> tuple[str, Token] | None:
    found = _unwrap(node)
    if found is None or found.data != "literal":
        return None
    token: Any = found.children[0]
    if not isinstance(token, Token) or token.type != "STRING_LIT":
        return None
    return string_value(str(token)), token


def string_value(text: str) -> str:
    """The value of a CEL string literal (raw strings and the common escapes)."""
    raw = text[0] in "rR"
    body = text[2:-1] if raw else text[1:-1]
    if raw:
        return body
    return re.sub(
        r"\\(.)",
        lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
        body,
    )


@functools.lru_cache(maxsize=1024)
def regex_compiled(pattern: str) -> Any:
    """An RE2 pattern, compiled once per process."""
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def regex_problem(pattern: str) -> str:
    """Why RE2 refuses `pattern` ("" when it compiles)."""
    try:
        regex_compiled(pattern)
    except Exception as exc:  # re2.error
        return str(exc).strip("b'\"") or "cannot compile"
    return ""


# --- Reading literals and facts from the tree (pins, rewrite) ------------------


def _fact_path(node: Any, schema: Schema) -> tuple[str, str] | None:
    found = _unwrap(node)
    if found is None or found.data != "member_dot":
        return None
    base = _unwrap(found.children[0])
    if base is None or base.data != "ident":
        return None
    group = str(base.children[0])
    if group not in schema.variables:
        return None
    return group, str(found.children[1])


def _literal_value(node: Any) -> tuple[bool, Any]:
    found = _unwrap(node)
    if found is None or found.data != "literal":
        return False, None
    token: Any = found.children[0]
    if token.type == "STRING_LIT":
        return True, string_value(str(token))
    if token.type == "INT_LIT" and not str(token).lower().startswith(("0x", "-0x")):
        return True, int(str(token))
    if token.type == "BOOL_LIT":
        return True, str(token) == "true"
    return False, None


def _list_items(node: Any) -> list[Any] | None:
    while isinstance(node, Tree) and node.data != "list_lit":
        if len(node.children) != 1:
            return None
        node = node.children[0]
    if not isinstance(node, Tree):
        return None
    return list(node.children[0].children) if node.children else []
