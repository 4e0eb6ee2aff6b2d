"""Shoal: an async-native vector database for Python.

from shoal import AsyncClient, models
client = AsyncClient(path="./data")
"""

from __future__ import annotations

from shoal import errors, models
from shoal.client import AsyncClient, Client
from shoal.version import __version__

__all__ = ["AsyncClient", "Client", "__version__", "errors", "models"]
