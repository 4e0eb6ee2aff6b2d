"""The public API matches its committed snapshot, tests/data/public_api.json (issue 17).

A deliberate change: keep a deprecation alias for any name that goes, then regenerate
the snapshot with ``python tools/api_snapshot.py`` and commit it with the change.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import shoal

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    """tools/api_snapshot.py, imported from its file (tools/ is not a package)."""
    if "api_snapshot" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "api_snapshot", ROOT / "tools" / "api_snapshot.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["api_snapshot"] = module
        spec.loader.exec_module(module)
    return sys.modules["api_snapshot"]


def _snapshot() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(_tool().SNAPSHOT.read_text(encoding="utf-8"))
    return loaded


def _gone(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> list[str]:
    return [f"{mod}.{name}" for mod, names in old.items() for name in names if name not in new[mod]]


def test_public_api_matches_the_snapshot() -> None:
    snapshot, current = _snapshot(), _tool().public_api()
    assert sorted(current) == sorted(snapshot)
    assert _gone(snapshot, current) == [], "public names gone: keep a deprecation alias"
    changed = [
        f"{mod}.{name}: {snapshot[mod].get(name)} -> {text}"
        for mod, names in current.items()
        for name, text in names.items()
        if snapshot[mod].get(name) != text
    ]
    assert changed == [], "changed or new: python tools/api_snapshot.py regenerates it"


def test_the_snapshot_sees_a_changed_signature_and_a_removed_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def query_points(self: Any, collection_name: str) -> None: ...

    monkeypatch.setattr(shoal.AsyncClient, "query_points", query_points)
    monkeypatch.delattr(shoal.errors, "CollectionNotFound")
    snapshot, current = _snapshot(), _tool().public_api()
    assert (
        current["shoal"]["AsyncClient.query_points"]
        == "def(self: 'Any', collection_name: 'str') -> 'None'"
    )
    assert (
        snapshot["shoal"]["AsyncClient.query_points"]
        != current["shoal"]["AsyncClient.query_points"]
    )
    gone = _gone(snapshot, current)  # the class, and with it its members
    assert "shoal.errors.CollectionNotFound" in gone
    assert all(name.startswith("shoal.errors.CollectionNotFound") for name in gone)
