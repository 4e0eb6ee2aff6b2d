"""Durable storage: SQLite files in a locked folder."""

from shoal.storage.catalog import Catalog
from shoal.storage.sqlite import (
    COMMIT_SEQ,
    NEXT_SERIAL,
    VSEQ_SINCE,
    CollectionStore,
    StoredColumns,
    decode_id,
    encode_id,
)

__all__ = [
    "COMMIT_SEQ",
    "NEXT_SERIAL",
    "VSEQ_SINCE",
    "Catalog",
    "CollectionStore",
    "StoredColumns",
    "decode_id",
    "encode_id",
]
