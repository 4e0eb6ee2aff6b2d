"""Durable storage: SQLite files in a locked folder."""

from shoal.storage.catalog import Catalog
from shoal.storage.sqlite import CollectionStore, StoredPoint, decode_id, encode_id

__all__ = ["Catalog", "CollectionStore", "StoredPoint", "decode_id", "encode_id"]
