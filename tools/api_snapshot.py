#!/usr/bin/env python3
"""Write or check the snapshot of Shoal's public API: tests/data/public_api.json.

    python tools/api_snapshot.py          # rewrite the snapshot after a deliberate change
    python tools/api_snapshot.py --check  # exit 1 (and show the differences) if it is stale

The snapshot holds, for each public module (``MODULES``), every public name with what it
is: a function's signature, a class's constructor (a pydantic model's fields as written in
the source, an enum's values), the public methods and properties Shoal's own classes
define, a type alias's members. ``tests/test_public_api.py`` compares the running code with
it, so a name cannot disappear or change its signature unnoticed: remove a public name
only behind a deprecation alias, then regenerate.

Descriptions are built to read the same on every supported Python (3.10 to 3.13):
annotations are the source's strings (``from __future__ import annotations``), never
evaluated types, whose printed form changes between Python versions.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import enum
import importlib
import inspect
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "data" / "public_api.json"
MODULES = (
    "shoal",
    "shoal.models",
    "shoal.errors",
    "shoal.embeddings",
    "shoal.filters",
    "shoal.integrations.langchain",
)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # in the repr of a sentinel or a function


def public_api() -> dict[str, dict[str, str]]:
    """The public API as it runs now: module -> name -> description."""
    return {name: _module_api(importlib.import_module(name)) for name in MODULES}


def _module_api(module: types.ModuleType) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _public_names(module):
        if not hasattr(module, name):  # listed in __all__ but gone: missing from the API
            continue
        obj = getattr(module, name)
        out[name] = _ADDRESS.sub("", _describe(obj))
        if _is_own_class(obj) and not _is_enum(obj):
            for member, text in _members(obj):
                out[f"{name}.{member}"] = text
    return dict(sorted(out.items()))


def _public_names(module: types.ModuleType) -> list[str]:
    """``__all__``, or else the names the module's source defines at top level."""
    listed = getattr(module, "__all__", None)
    if listed is not None:
        return sorted(listed)
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and [a.name for a in node.names] == ["*"]:
            # A part of the module kept in a submodule (shoal.models.formula): its __all__.
            assert node.module is not None
            names.update(importlib.import_module(node.module).__all__)
    return sorted(n for n in names if not n.startswith("_"))


def _describe(obj: Any) -> str:
    # An alias first: Python 3.10 takes ``list[int]`` for a class, later ones for a callable.
    if _is_alias(obj):
        return "alias " + repr(obj).replace("typing.", "")
    if isinstance(obj, type):
        return _describe_class(obj)
    if callable(obj):
        return "def" + _signature(obj)
    return type(obj).__name__


def _is_alias(obj: Any) -> bool:
    return (
        isinstance(obj, (types.UnionType, types.GenericAlias)) or type(obj).__module__ == "typing"
    )


def _describe_class(cls: type) -> str:
    if _is_enum(cls):
        return "enum " + ", ".join(repr(member.value) for member in cls)
    fields = _pydantic_fields(cls)
    if fields is not None:
        return "model(" + ", ".join(fields) + ")"
    return "class" + _signature(cls)


def _is_own_class(obj: Any) -> bool:
    return isinstance(obj, type) and not _is_alias(obj) and obj.__module__.startswith("shoal")


def _is_enum(cls: type) -> bool:
    return issubclass(cls, enum.Enum)


def _pydantic_fields(cls: type) -> list[str] | None:
    model_fields = getattr(cls, "model_fields", None)
    if not isinstance(model_fields, dict):
        return None
    written: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        written.update(inspect.get_annotations(klass))
    out = []
    for name, field in model_fields.items():
        shown = field.alias or name
        required = "" if field.is_required() else " = ..."
        out.append(f"{shown}: {written.get(name, '?')}{required}")
    return out


def _members(cls: type) -> list[tuple[str, str]]:
    """Public methods, properties and attributes that Shoal's own classes define on ``cls``."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("shoal"):
            continue
        for name, raw in vars(klass).items():
            if name.startswith(("_", "model_")):  # pydantic's own
                continue
            if isinstance(raw, property):
                out[name] = "property"
            elif isinstance(raw, (staticmethod, classmethod)):
                out[name] = "def" + _signature(raw.__func__)
            elif inspect.isfunction(raw):
                out[name] = "def" + _signature(raw)
            else:
                out[name] = type(raw).__name__
    return sorted(out.items())


def _signature(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):  # a builtin or an exception without its own __init__
        return "(...)"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the snapshot is stale")
    args = ap.parse_args()
    text = json.dumps(public_api(), indent=1, sort_keys=True) + "\n"
    if not args.check:
        SNAPSHOT.write_text(text, encoding="utf-8")
        print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
        return
    old = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if old != text:
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True)))
        sys.exit(1)


if __name__ == "__main__":
    main()
