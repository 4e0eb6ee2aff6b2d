"""The storage folder: a process lock and one sub-folder per collection.

Layout::

    <path>/.lock                         held (flock) while a process has the folder open
    <path>/collections/<dir>/points.sqlite3

Collections are created in a temporary folder and renamed into place, and deleted by renaming
to a trash name before removal, so a crash never leaves a half-made collection visible.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import uuid
from pathlib import Path

from shoal.errors import StorageError, StorageLocked
from shoal.storage.sqlite import FILE_NAME, CollectionStore, create_store

_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Catalog:
    """Owns the storage folder for the lifetime of one Database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path).absolute()
        try:
            (self.root / "collections").mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open storage folder {self.root}: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StorageLocked(str(self.root)) from None
        self._sweep()

    def _sweep(self) -> None:
        # Leftovers of a crash during create or delete: never valid collections.
        for child in (self.root / "collections").iterdir():
            if child.name.startswith("."):
                shutil.rmtree(child, ignore_errors=True)

    def folder_for(self, name: str) -> Path:
        safe = (
            name if _SAFE.fullmatch(name) else "x-" + hashlib.sha256(name.encode()).hexdigest()[:24]
        )
        return self.root / "collections" / safe

    def open_all(self) -> list[CollectionStore]:
        """Open every collection's store (a folder without a store file is skipped)."""
        stores = []
        for child in sorted((self.root / "collections").iterdir()):
            if (child / FILE_NAME).exists():
                stores.append(CollectionStore(child))
        return stores

    def create(self, name: str, config: dict[str, object]) -> CollectionStore:
        """Create the store of a new collection atomically."""
        tmp = self.root / "collections" / f".new-{uuid.uuid4().hex}"
        tmp.mkdir()
        create_store(tmp, {"name": name, "config": config})
        target = self.folder_for(name)
        os.rename(tmp, target)
        _fsync_dir(target.parent)
        return CollectionStore(target)

    def drop(self, store: CollectionStore) -> None:
        """Remove a collection's folder; after a crash midway the sweep finishes the job."""
        folder = store.path.parent
        store.close()
        trash = folder.parent / f".trash-{uuid.uuid4().hex}"
        os.rename(folder, trash)
        _fsync_dir(folder.parent)
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
