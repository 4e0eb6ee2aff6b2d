"""The storage folder: a process lock and one sub-folder per collection.

Layout::

    <path>/.lock                         held (flock) while a process has the folder open
    <path>/collections/<dir>/points.sqlite3

Collections are created in a temporary folder and renamed into place, and deleted by renaming
to a trash name before removal, so a crash never leaves a half-made collection visible. A
collection is replaced (a snapshot recovered) by staging the new folder completely, writing
a journal (``collections/.replace``) that names the old and new folders, and only then
renaming; the sweep at the next open finishes an interrupted replacement forwards or
backwards, so after a crash the collection is either the old one or the new one, whole.

A collection's name lives in its store's meta, not in the folder name: folders are opened
whatever they are called. The folder name is only for people looking at the disk: the name
itself when it is short and plain, else ``x-`` and a digest of it. Names starting with
``x-`` are always digested (so a name never takes a digest's folder), and a new collection
never goes into a folder that exists, whatever made it (a data folder from an older
version, or a case-insensitive file system where ``Docs`` is ``docs``): the next free
``x-<digest>-<n>`` is taken instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from shoal.errors import StorageError, StorageLocked
from shoal.storage.sqlite import FILE_NAME, CollectionStore, create_store

_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Catalog:
    """Owns the storage folder for the lifetime of one Database.

    Args:
        path: the storage folder (created if missing).
        served_at: the URL of the server serving this folder, if one does: written into the
            lock file with the process id, so a process that finds the folder locked can say
            where to connect instead.

    Raises:
        StorageLocked: another process holds the folder.
        StorageError: the folder cannot be created or opened.
    """

    def __init__(self, path: str | os.PathLike[str], served_at: str | None = None) -> None:
        self.root = Path(path).absolute()
        try:
            (self.root / "collections").mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open storage folder {self.root}: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, holder_url = _read_holder(self._lock_fd)
            os.close(self._lock_fd)
            raise StorageLocked(str(self.root), pid, holder_url) from None
        _write_holder(self._lock_fd, served_at)
        self._sweep()

    def _sweep(self) -> None:
        # Leftovers of a crash during create, delete or replace: never valid collections
        # (an interrupted replacement is finished first, from its journal).
        self._finish_replacement()
        for child in (self.root / "collections").iterdir():
            if child.name.startswith("."):
                shutil.rmtree(child, ignore_errors=True)

    def staging(self) -> Path:
        """A new, empty private folder under ``collections/`` to build a collection in; the
        sweep removes it if it is never put in place."""
        folder = self.root / "collections" / f".stage-{uuid.uuid4().hex}"
        folder.mkdir()
        return folder

    def replace(self, staged: Path, current: Path | None, name: str) -> CollectionStore:
        """Put the collection built in ``staged`` in place of the one at ``current`` (None:
        a new collection called ``name``), atomically as far as a crash can tell.

        The caller has closed the current collection's store.

        Args:
            staged: a folder from ``staging`` holding a complete store.
            current: the replaced collection's folder, or None.
            name: the collection's name (for a new folder).

        Returns:
            The new collection's store, opened.

        Raises:
            StorageError: the folders cannot be renamed (nothing is replaced then).
        """
        target = current if current is not None else self.folder_for(name)
        journal = self.root / "collections" / _JOURNAL
        old = self.root / "collections" / f".old-{uuid.uuid4().hex}"
        try:
            _fsync_tree(staged)
            _write_synced(journal, f"{staged.name}\n{target.name}\n")
            if current is not None:
                os.rename(current, old)
            os.rename(staged, target)
            _fsync_dir(target.parent)
            journal.unlink()
            _fsync_dir(target.parent)
        except OSError as exc:
            self._finish_replacement()
            raise StorageError(f"cannot put the recovered collection in place: {exc}") from exc
        shutil.rmtree(old, ignore_errors=True)
        return CollectionStore(target)

    def _finish_replacement(self) -> None:
        """Roll an interrupted ``replace`` forwards (the new folder was complete and the old
        one moved aside) or backwards (nothing was renamed yet), then forget its journal."""
        collections = self.root / "collections"
        journal = collections / _JOURNAL
        try:
            staged, target = journal.read_text().split()
        except (OSError, ValueError):  # no journal, or one torn before it was synced
            journal.unlink(missing_ok=True)
            return
        staged_path, target_path = collections / staged, collections / target
        if staged_path.exists() and not target_path.exists():
            os.rename(staged_path, target_path)  # the old one was moved aside: go forward
        _fsync_dir(collections)
        journal.unlink()
        _fsync_dir(collections)

    def folder_for(self, name: str) -> Path:
        """The folder a new collection called ``name`` goes into: the first free candidate.

        Args:
            name: the collection's name.

        Returns:
            A path under ``collections/`` where nothing exists yet.
        """
        folders = (self.root / "collections" / c for c in folder_names(name))
        return next(f for f in folders if not os.path.lexists(f))

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
        target = self.folder_for(name)
        try:
            tmp.mkdir()
            create_store(tmp, {"name": name, "config": config})
            # The caller (Database) serialises creates, so the folder is still free here.
            os.rename(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StorageError(f"cannot create collection {name!r} in {target}: {exc}") from exc
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


def _write_holder(fd: int, served_at: str | None) -> None:
    # Informational only (the flock is the lock): not synced, and a failure is harmless.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{served_at or ''}\n".encode(), 0)


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    """The pid and server URL the holder wrote (None for what is missing or unreadable)."""
    try:
        lines = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
    except OSError:
        return None, None
    pid = int(lines[0]) if lines and lines[0].isdigit() else None
    url = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return pid, url


def folder_names(name: str) -> Iterator[str]:
    """Candidate folder names for a collection, best first (see the module docstring).

    Args:
        name: the collection's name.

    Returns:
        An endless iterator: the name itself if plain, then ``x-<digest>``, then
        ``x-<digest>-2``, ``x-<digest>-3``, ...
    """
    if _PLAIN.fullmatch(name) and not name.startswith("x-"):
        yield name
    # surrogatepass: any str hashes; the name's own validity is the engine's business.
    digest = "x-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    yield digest
    for n in itertools.count(2):
        yield f"{digest}-{n}"


_JOURNAL = ".replace"


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(path.parent)


def _fsync_tree(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_file():
            fd = os.open(child, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once the directory entry is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
