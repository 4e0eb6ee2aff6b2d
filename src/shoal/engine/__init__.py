"""The engine: synchronous, thread-safe collections over durable storage."""

from shoal.engine.collection import Collection
from shoal.engine.database import Database

__all__ = ["Collection", "Database"]
