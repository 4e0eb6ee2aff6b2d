"""tools/gen_sync.py, imported from its file (tools/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_gen_sync():  # type: ignore[no-untyped-def]
    """The generator module (registered in sys.modules: its dataclasses look it up)."""
    if "gen_sync" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gen_sync", ROOT / "tools" / "gen_sync.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["gen_sync"] = module
        spec.loader.exec_module(module)
    return sys.modules["gen_sync"]
