"""Library functions as standalone script text: a function's source with everything it needs.

An exported script must run without Tuning Lab installed, yet load and split its data exactly
as the study did. Rather than a hand-written copy that drifts, :func:`bundle` copies the
library's own definitions: the named functions, then, followed through their module-level
names, each constant, class and function they use, in Tuning Lab's modules too (the errors
they raise); other imports (numpy, the standard library) become import lines. Definitions
come dependencies first, so a class is defined after its base.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PACKAGE = "tuning_core"


@dataclass
class _Module:
    """A module's source, its top-level definitions by name, and its imports by local name."""

    source: str
    definitions: dict[str, ast.stmt]
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, attribute or None)
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.lines = self.source.splitlines()


def _read_module(name: str) -> _Module:
    source = inspect.getsource(importlib.import_module(name))
    definitions: dict[str, ast.stmt] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            definitions[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    definitions[target.id] = node
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__":
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
    return _Module(source, definitions, imports)


def _own_imports(node: ast.stmt) -> list[ast.ImportFrom]:
    """The imports from Tuning Lab inside a definition (a lazy import that avoids a cycle):
    the bundle defines those names itself, so these statements are left out of its text."""
    return [
        inner
        for inner in ast.walk(node)
        if isinstance(inner, ast.ImportFrom)
        and inner.module is not None
        and inner.module.split(".")[0] == PACKAGE
    ]


def _text_of(module: _Module, node: ast.stmt) -> str:
    """A definition's source with its decorators and the comment lines right above it, less
    its imports from Tuning Lab (see :func:`_own_imports`)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
    while first > 0 and module.lines[first - 1].lstrip().startswith("#"):
        first -= 1
    dropped = {
        line for inner in _own_imports(node) for line in range(inner.lineno, inner.end_lineno + 1)
    }
    kept = range(first + 1, node.end_lineno + 1)  # 1-based, as ast counts
    return "\n".join(module.lines[line - 1] for line in kept if line not in dropped)


def _statement(module: _Module, node: ast.stmt) -> str:
    return ast.get_source_segment(module.source, node) or ""


def _import_entry(local: str, module: str, attribute: str | None) -> str:
    """``numpy as np`` (an import) or ``pathlib import Path`` (a from-import), without the
    leading keyword, so from-imports of one module can be joined on one line."""
    if attribute is None:
        return module + ("" if module.split(".")[0] == local else f" as {local}")
    return f"{module} import {attribute}" + ("" if attribute == local else f" as {local}")


def bundle(roots: Iterable[Callable[..., Any]], provided: Iterable[str] = ()) -> str:
    """Import lines, then every definition ``roots`` need from Tuning Lab's modules, as one
    block of script text. ``provided`` names ("module.name") the script defines itself (such
    as ``keras_runtime.import_keras``); they are left out. Raises ValueError when two modules
    define one name differently."""
    given = set(provided)
    modules: dict[str, _Module] = {}
    ordered: list[tuple[str, str]] = []
    visited: set[tuple[str, str]] = set()
    imports: set[str] = set()
    owner: dict[str, str] = {}

    def module(name: str) -> _Module:
        if name not in modules:
            modules[name] = _read_module(name)
        return modules[name]

    def visit(module_name: str, name: str) -> None:
        if (module_name, name) in visited or f"{module_name}.{name}" in given:
            return
        visited.add((module_name, name))
        source = module(module_name)
        node = source.definitions[name]
        first = owner.setdefault(name, module_name)
        if first != module_name:
            # Two modules may share a constant written the same way (DATASET_MEMORY_SHARE).
            if _statement(modules[first], modules[first].definitions[name]) == _statement(
                source, node
            ):
                return
            raise ValueError(f"{name} is defined differently in {first} and {module_name}")
        for inner in _own_imports(node):
            for alias in inner.names:
                visit(inner.module or "", alias.name)
        for used in sorted(
            {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id != name}
        ):
            if used in source.definitions:
                visit(module_name, used)
            elif used in source.imports:
                target, attribute = source.imports[used]
                if target.split(".")[0] == PACKAGE and attribute is not None:
                    visit(target, attribute)
                else:
                    imports.add(_import_entry(used, target, attribute))
        ordered.append((module_name, name))

    for root in roots:
        visit(root.__module__, root.__name__)
    texts: list[str] = []
    for module_name, name in ordered:
        text = _text_of(modules[module_name], modules[module_name].definitions[name])
        if text not in texts:  # an assignment that binds two names is written once
            texts.append(text)
    plain = sorted(f"import {entry}" for entry in imports if " import " not in entry)
    named: dict[str, list[str]] = {}
    for entry in imports:
        if " import " in entry:
            source, names = entry.split(" import ")
            named.setdefault(source, []).append(names)
    lines = plain + [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(named.items())]
    return "\n".join(lines) + "\n\n\n" + "\n\n\n".join(texts)
