"""Shared benchmark data: ../shared/reference/vectors.py, imported from where it lives."""

from __future__ import annotations

import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
if not (REFERENCE / "vectors.py").exists():
    raise SystemExit(f"benchmark data generator not found at {REFERENCE}/vectors.py")
sys.path.insert(0, str(REFERENCE))

from vectors import Mixture, exact_top_k  # type: ignore[import-not-found]  # noqa: E402

__all__ = ["Mixture", "exact_top_k"]
