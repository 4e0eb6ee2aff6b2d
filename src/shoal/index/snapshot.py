"""Crash-safe snapshot files for the ANN index: atomic writes, a manifest, a checksum.

A snapshot is two files: the usearch index at ``path`` and a JSON manifest at
``path + ".json"`` describing it (configuration, vector count, the caller's watermark, the
keys the index had not caught up with when it was saved, the index file's size and CRC-32).
Each is written to a temporary file in the same directory, fsynced, and renamed over the old
one; the directory is fsynced last so the renames survive a power cut. A crash between the
two renames leaves a new index file beside the old manifest: its size or checksum then
disagrees and ``load`` reports ``SnapshotCorrupt``. The index is derived data, so the
engine's answer to any snapshot error is a rebuild.

CRC-32 (zlib, ~1 GB/s) rather than a cryptographic hash: it only has to catch torn writes
and bit rot, not adversaries, and it runs on every start.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from shoal.index.errors import SnapshotCorrupt, SnapshotMissing

# 2 added ``pending`` and 3 ``replaced``: an older manifest reads as one with nothing pending
# and nothing replaced.
FORMAT = 3
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SnapshotManifest:
    """What a snapshot holds and how to verify it.

    Attributes:
        format: manifest layout version (``FORMAT``).
        dim, metric, dtype, m, ef_construct: the index configuration.
        count: number of vectors in the index.
        watermark: the caller's marker of the data the index reflects (a generation or the
            highest applied version); the engine compares it with storage to detect staleness.
        size: byte length of the index file.
        crc32: CRC-32 of the index file.
        quantizer: the int8 quantizer's parameters (``Int8Quantizer.to_json``), or None.
        usearch_version: the usearch that wrote the file.
        pending: keys whose vectors the index had not caught up with at ``watermark``
            (``encode_keys``): a snapshot taken in the middle of a build.
        replaced: keys replaced in or removed from the index since it was built fresh (the
            engine rebuilds an index once they are a share of it: a restart must not forget
            them).
    """

    format: int
    dim: int
    metric: str
    dtype: str
    m: int
    ef_construct: int
    count: int
    watermark: int
    size: int
    crc32: int
    quantizer: dict[str, Any] | None
    usearch_version: str
    pending: str = ""
    replaced: int = 0

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> SnapshotManifest:
        """Parse a manifest dict, checking every field's presence and type.

        Args:
            data: the decoded JSON document.

        Returns:
            The manifest.

        Raises:
            SnapshotCorrupt: on a missing, extra or ill-typed field or an unknown format.
        """
        if not isinstance(data, dict):
            raise SnapshotCorrupt("index manifest is not a JSON object")
        names = {f.name for f in fields(cls)}
        upgrade: dict[int, dict[str, Any]] = {1: {"pending": "", "replaced": 0}, 2: {"replaced": 0}}
        if data.get("format") in upgrade:
            data = {**upgrade[data["format"]], **data, "format": FORMAT}
        if set(data) != names:
            raise SnapshotCorrupt(
                f"index manifest fields {sorted(data)} differ from the expected {sorted(names)}"
            )
        if data["format"] != FORMAT:
            raise SnapshotCorrupt(f"index manifest format {data['format']!r}; expected {FORMAT}")
        for name in ("dim", "m", "ef_construct", "count", "watermark", "size", "crc32", "replaced"):
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise SnapshotCorrupt(f"index manifest field {name!r} is not an integer")
        for name in ("metric", "dtype", "usearch_version", "pending"):
            if not isinstance(data[name], str):
                raise SnapshotCorrupt(f"index manifest field {name!r} is not a string")
        if data["quantizer"] is not None and not isinstance(data["quantizer"], dict):
            raise SnapshotCorrupt("index manifest field 'quantizer' is not an object")
        return cls(**data)


def encode_keys(keys: np.ndarray) -> str:
    """Int64 keys as compact text for the manifest: sorted, delta-coded, zlib, base64."""
    ordered = np.sort(np.asarray(keys, dtype=np.int64))
    deltas = np.diff(ordered, prepend=np.int64(0))
    return base64.b64encode(zlib.compress(deltas.astype("<i8").tobytes(), 6)).decode()


def decode_keys(text: str) -> np.ndarray:
    """The keys ``encode_keys`` wrote (sorted).

    Raises:
        SnapshotCorrupt: the text is not what ``encode_keys`` writes.
    """
    if not text:
        return np.zeros(0, dtype=np.int64)
    try:
        raw = zlib.decompress(base64.b64decode(text, validate=True))
        deltas = np.frombuffer(raw, dtype="<i8")
    except (ValueError, zlib.error) as exc:
        raise SnapshotCorrupt(f"index manifest field 'pending' is unreadable: {exc}") from None
    return np.cumsum(deltas).astype(np.int64)


def manifest_path(path: str | os.PathLike[str]) -> Path:
    """Where the manifest of the snapshot at ``path`` lives."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def crc32_of(path: Path) -> tuple[int, int]:
    """(size, CRC-32) of a file, read in 1 MiB chunks."""
    crc, size = 0, 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return size, crc


def write_snapshot(
    path: str | os.PathLike[str], blob: bytes | bytearray, **meta: Any
) -> SnapshotManifest:
    """Atomically replace the snapshot at ``path`` with ``blob`` and its manifest.

    Args:
        path: the index file; the manifest goes to ``path + ".json"``.
        blob: the serialized usearch index.
        **meta: every ``SnapshotManifest`` field except format, size and crc32.

    Returns:
        The manifest written.

    Raises:
        OSError: when the directory is not writable or the disk is full (the old snapshot,
            if any, is left as it was).
    """
    target = Path(path)
    manifest = SnapshotManifest(format=FORMAT, size=len(blob), crc32=zlib.crc32(blob), **meta)
    text = json.dumps(manifest.to_json(), indent=1).encode()
    data_tmp = _write_temp(target, blob)
    try:
        meta_tmp = _write_temp(manifest_path(target), text)
    except BaseException:
        data_tmp.unlink(missing_ok=True)
        raise
    os.replace(data_tmp, target)
    os.replace(meta_tmp, manifest_path(target))
    _fsync_dir(target.parent)
    return manifest


def read_manifest(path: str | os.PathLike[str]) -> SnapshotManifest:
    """Read and validate the manifest of the snapshot at ``path`` (not the index file).

    Cheap: lets the engine compare the watermark with storage before loading anything.

    Args:
        path: the index file path given to ``save``.

    Returns:
        The manifest.

    Raises:
        SnapshotMissing: when the manifest or the index file does not exist.
        SnapshotCorrupt: when the manifest is not valid JSON of the expected shape.
    """
    target = Path(path)
    mpath = manifest_path(target)
    if not mpath.exists() or not target.exists():
        raise SnapshotMissing(f"no index snapshot at {target}")
    try:
        data = json.loads(mpath.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SnapshotCorrupt(f"index manifest {mpath} is not valid JSON: {exc}") from None
    return SnapshotManifest.from_json(data)


def verify_file(path: str | os.PathLike[str], manifest: SnapshotManifest) -> None:
    """Check the index file's size and CRC-32 against its manifest.

    Args:
        path: the index file.
        manifest: its manifest.

    Raises:
        SnapshotMissing: when the file vanished.
        SnapshotCorrupt: on a size or checksum mismatch (a torn or damaged file).
    """
    target = Path(path)
    try:
        if target.stat().st_size != manifest.size:
            raise SnapshotCorrupt(
                f"index file {target} has {target.stat().st_size} bytes; "
                f"its manifest says {manifest.size}"
            )
        size, crc = crc32_of(target)
    except FileNotFoundError:
        raise SnapshotMissing(f"no index snapshot at {target}") from None
    if size != manifest.size or crc != manifest.crc32:
        raise SnapshotCorrupt(f"index file {target} fails its checksum (torn or damaged)")


def _write_temp(target: Path, data: bytes | bytearray) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fsync_dir(directory: Path) -> None:
    # Directory fsync makes the renames durable on POSIX; Windows cannot open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
