"""Collection aliases: other names for collections, changed atomically, kept durably.

Qdrant's rules: an alias points at a collection (never at another alias) and never takes a
collection's name; creating an alias that exists moves it; deleting a missing alias does
nothing; renaming needs the old alias. A request's actions are applied to a copy and take
effect together or not at all. Deleting a collection deletes its aliases.

A database with a storage folder keeps the aliases in ``<path>/aliases.json``, replaced
atomically (a temporary file, fsync, rename, fsync of the folder) before the new mapping is
used, so what a call returned is what the next open finds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterable
from pathlib import Path

import orjson

from shoal import models as m
from shoal.errors import (
    AliasNotFound,
    BadRequest,
    CollectionAlreadyExists,
    CollectionNotFound,
    StorageError,
)

FILE_NAME = "aliases.json"


class Aliases:
    """The aliases of one database.

    Args:
        folder: the storage folder (aliases are kept in it), or None: in memory only.

    Raises:
        StorageError: the stored aliases cannot be read.
    """

    def __init__(self, folder: Path | None) -> None:
        self._path = None if folder is None else folder / FILE_NAME
        self._lock = threading.Lock()
        self.mapping: dict[str, str] = self._load()  # alias -> collection; read without lock

    def _load(self) -> dict[str, str]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            data = orjson.loads(self._path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StorageError(f"cannot read the aliases ({exc})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StorageError("the stored aliases are malformed")
        return data

    def resolve(self, name: str) -> str | None:
        """The collection an alias points at, or None when ``name`` is no alias."""
        return self.mapping.get(name)

    def of(self, collection: str | None) -> list[m.AliasDescription]:
        """The aliases of one collection (every alias with None), sorted by name."""
        return [
            m.AliasDescription(alias_name=alias, collection_name=target)
            for alias, target in sorted(self.mapping.items())
            if collection is None or target == collection
        ]

    def apply(self, actions: Iterable[m.AliasOperations], collections: Collection[str]) -> None:
        """Apply alias actions together, or (if one is refused) none of them.

        Args:
            actions: create, delete and rename actions, in order.
            collections: the names of the existing collections.

        Raises:
            CollectionNotFound: an alias for a collection that does not exist.
            CollectionAlreadyExists: an alias named like a collection.
            AliasNotFound: renaming an alias that does not exist.
            StorageError: the aliases cannot be stored (nothing changes then).
        """
        with self._lock:
            mapping = dict(self.mapping)
            for action in actions:
                _apply(mapping, action, collections)
            self._store(mapping)
            self.mapping = mapping

    def drop_collection(self, collection: str) -> None:
        """Forget the aliases of a deleted collection."""
        with self._lock:
            mapping = {a: c for a, c in self.mapping.items() if c != collection}
            if len(mapping) != len(self.mapping):
                self._store(mapping)
                self.mapping = mapping

    def _store(self, mapping: dict[str, str]) -> None:
        if self._path is None:
            return
        tmp = self._path.with_name(f".{FILE_NAME}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(orjson.dumps(mapping, option=orjson.OPT_SORT_KEYS))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)
            fd = os.open(self._path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot store the aliases: {exc.strerror or exc}") from None


def _apply(
    mapping: dict[str, str], action: m.AliasOperations, collections: Collection[str]
) -> None:
    if isinstance(action, m.CreateAliasOperation):
        alias, target = action.create_alias.alias_name, action.create_alias.collection_name
        if target not in collections:
            raise CollectionNotFound(target)
        _not_a_collection(alias, collections)
        mapping[alias] = target
    elif isinstance(action, m.DeleteAliasOperation):
        mapping.pop(action.delete_alias.alias_name, None)
    elif isinstance(action, m.RenameAliasOperation):
        old, new = action.rename_alias.old_alias_name, action.rename_alias.new_alias_name
        if old not in mapping:
            raise AliasNotFound(old)
        _not_a_collection(new, collections)
        mapping[new] = mapping.pop(old)
    else:  # the union is closed: a new kind must be handled above
        raise BadRequest(f"Wrong input: unknown alias action {action!r:.80}")


def _not_a_collection(alias: str, collections: Collection[str]) -> None:
    if alias in collections:
        raise CollectionAlreadyExists(alias)
    if not alias:
        raise BadRequest("Wrong input: an alias name must not be empty")
