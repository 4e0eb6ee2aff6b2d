"""``shoal snapshot create | list | restore``: snapshots of a storage folder or of a server.

With ``--path`` the command opens the folder itself (no server may be serving it: the folder
is locked while open); with ``--url`` it asks a running ``shoal serve`` (or Qdrant). A
snapshot is written to the ``snapshots`` folder inside the storage folder.

``restore`` takes any snapshot file with ``--path`` (a collection snapshot replaces the
collection, or creates it; a full snapshot restores every collection in it, each replaced
atomically). With ``--url``, a collection snapshot file on this machine is uploaded (up to
the server's body limit); a name that is no file here is a location under the server's
snapshots folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

from shoal import models as m
from shoal.client import Client
from shoal.engine import Database
from shoal.errors import BadRequest, ShoalError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``shoal snapshot`` and its three commands."""
    p = sub.add_parser(
        "snapshot",
        help="create, list or restore snapshots of a storage folder or a server",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    actions = p.add_subparsers(dest="action", required=True)
    for action, text in [
        ("create", "snapshot one collection, or (without --collection) all of them"),
        ("list", "the snapshots of a collection, or (without --collection) the full ones"),
        ("restore", "recover a collection, or every collection of a full snapshot"),
    ]:
        a = actions.add_parser(action, help=text, description=text)
        where = a.add_mutually_exclusive_group(required=True)
        where.add_argument("--path", help="a storage folder (not served meanwhile)")
        where.add_argument("--url", help="a server, e.g. http://localhost:6333")
        a.add_argument("--api-key", help="the server's api key (with --url)")
        a.add_argument("--collection", help="the collection (restore: the one to replace)")
        if action == "restore":
            a.add_argument("file", help="the snapshot file (with --url: its location)")


def run(args: argparse.Namespace) -> int:
    """Run ``shoal snapshot``; prints what it made or found. Returns the exit status."""
    try:
        if args.action == "restore":
            restored = _restore(args)
            print("restored: " + ", ".join(restored))
            return 0
        with _client(args) as client:
            for snap in _create(client, args) if args.action == "create" else _list(client, args):
                print(f"{snap.name}\t{snap.size} bytes\tsha256 {snap.checksum}")
        return 0
    except ShoalError as exc:
        print(f"shoal snapshot {args.action}: {exc}", file=sys.stderr)
        return 1


def _client(args: argparse.Namespace) -> Client:
    if args.url is not None:
        return Client(args.url, api_key=args.api_key)
    if args.api_key is not None:
        raise BadRequest("--api-key is for a server (--url), not a folder")
    return Client(path=args.path)


def _create(client: Client, args: argparse.Namespace) -> list[m.SnapshotDescription]:
    if args.collection is None:
        made = client.create_full_snapshot()
    else:
        made = client.create_snapshot(args.collection)
    assert made is not None, "waited for"
    return [made]


def _list(client: Client, args: argparse.Namespace) -> list[m.SnapshotDescription]:
    if args.collection is None:
        return client.list_full_snapshots()
    return client.list_snapshots(args.collection)


def _restore(args: argparse.Namespace) -> list[str]:
    if args.url is not None:
        if args.collection is None:
            raise BadRequest("restoring on a server needs --collection")
        if Path(args.file).is_file():  # a file here: uploaded
            _upload(args.url, args.api_key, args.collection, Path(args.file))
        else:  # a location under the server's snapshots folder
            with Client(args.url, api_key=args.api_key) as client:
                client.recover_snapshot(args.collection, args.file)
        return [args.collection]
    file = Path(args.file)
    if not file.is_file():
        raise BadRequest(f"no snapshot file {args.file!r}")
    db = Database(args.path)
    try:
        return db.restore(file.resolve(), args.collection)
    finally:
        db.close()


def _upload(url: str, api_key: str | None, collection: str, file: Path) -> None:
    """Send a snapshot file to ``POST /collections/{name}/snapshots/upload``."""
    import httpx  # the server extra's; only this command needs it

    headers = {"api-key": api_key} if api_key else {}
    target = f"{url.rstrip('/')}/collections/{quote(collection, safe='')}/snapshots/upload"
    with file.open("rb") as data:
        response = httpx.post(
            target, files={"snapshot": (file.name, data)}, headers=headers, timeout=None
        )
    if response.status_code >= 400:
        try:
            message = response.json()["status"]["error"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise BadRequest(f"the server refused the upload ({response.status_code}): {message}")
