"""Clients: ``AsyncClient`` (the source) and ``Client`` (generated from it)."""

from shoal.client._async.client import AsyncClient
from shoal.client._sync.client import Client

__all__ = ["AsyncClient", "Client"]
