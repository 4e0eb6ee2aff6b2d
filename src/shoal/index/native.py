"""Loading usearch, on first use, in an order that keeps onnxruntime working.

usearch 2.26.6 loads NumKong's extension with ``RTLD_GLOBAL``, and that extension links
libstdc++ statically and exports its symbols. A C++ library loaded *afterwards* can bind
to those copies: onnxruntime 1.31.1 (the default embedding's runtime) then segfaults in its
static initialisers (in ``std::codecvt``). Loaded the other way round, both work. So usearch
is imported only when an index is first created or loaded — ``import shoal`` stays light —
and onnxruntime, when installed, is imported just before it, with its telemetry off (as
``shoal.embeddings`` does; it reads the variable once, at import).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from types import ModuleType

_lock = threading.Lock()
_usearch: ModuleType | None = None


def usearch_index() -> ModuleType:
    """The ``usearch.index`` module, imported safely (see the module docstring).

    Returns:
        The module.

    Raises:
        ImportError: usearch is not installed.
    """
    global _usearch
    if _usearch is None:
        with _lock:
            if _usearch is None:
                if "onnxruntime" not in sys.modules and importlib.util.find_spec("onnxruntime"):
                    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
                    importlib.import_module("onnxruntime")
                _usearch = importlib.import_module("usearch.index")
    return _usearch


def usearch_version() -> str:
    """The installed usearch version (written into snapshot manifests)."""
    return str(importlib.import_module("usearch").__version__)
