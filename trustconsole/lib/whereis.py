"""From a URL to its code in one step: the view that answers it and the services,
selectors and gates the view calls, each as `file:line`
(`python manage.py whereis PATH [METHOD]`)."""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve

# Modules whose functions count as "what the view does": writes, reads, the gates.
CODE_MODULES = (
    "services",
    "selectors",
    "monitoring",
    "poller",
    "webhooks",
    "check",
    "gate",
)


@dataclass
class Where:
    """The code behind one URL and method."""

    route: str
    view: str
    view_at: str
    calls: list[tuple[str, str]] = field(default_factory=list)


def _at(obj: Any) -> str:
    """`path/to/file.py:LINE` of a function or class, relative to the project."""
    target = inspect.unwrap(obj)
    source = inspect.getsourcefile(target) or "?"
    line = inspect.getsourcelines(target)[1]
    try:
        shown = Path(source).resolve().relative_to(Path(settings.BASE_DIR).resolve())
    except ValueError:
        shown = Path(source)
    return f"{shown}:{line}"


def _handler(view: Callable[..., Any], method: str) -> tuple[Any, str]:
    """The function that runs for `method`, and its dotted name."""
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None:
            raise LookupError(f"{view_class.__qualname__} does not answer {method}.")
        return handler, f"{view_class.__module__}.{handler.__qualname__}"
    function = inspect.unwrap(view)
    return function, f"{function.__module__}.{function.__qualname__}"


def _service_calls(function: Any) -> list[tuple[str, str]]:
    """`module.name(...)` calls in `function` into the apps' code modules."""
    module: ModuleType | None = sys.modules.get(function.__module__)
    if module is None:
        return []
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function))))
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
        ):
            continue
        target = getattr(module, node.func.value.id, None)
        if not isinstance(target, ModuleType):
            continue
        if target.__name__.rsplit(".", 1)[-1] not in CODE_MODULES:
            continue
        called = getattr(target, node.func.attr, None)
        if called is None or not callable(called):
            continue
        name = f"{getattr(called, '__module__', target.__name__)}.{node.func.attr}"
        entry = (name, _at(called))
        if entry not in found:
            found.append(entry)
    return found


def where(path: str, method: str = "GET") -> Where:
    """The route, view and service calls that answer `method path`.

    Raises LookupError when no URL matches or the view does not answer `method`.
    """
    try:
        match = resolve(urlsplit(path).path or "/")
    except Resolver404:
        raise LookupError(f"No URL matches {path}.") from None
    handler, name = _handler(match.func, method)
    return Where(
        route=f"{match.view_name}  ({match.route})",
        view=name,
        view_at=_at(handler),
        calls=_service_calls(handler),
    )
