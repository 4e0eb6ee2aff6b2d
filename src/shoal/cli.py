"""The ``shoal`` command: ``shoal demo``, ``shoal snapshot``, and ``shoal serve`` (with the
server extra)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence

from shoal import cli_snapshot
from shoal.errors import ShoalError, StorageLocked

DEMO_TEXTS = [
    "Shoal is an async-native vector database for Python.",
    "The cat sat on the warm windowsill all afternoon.",
    "FastAPI services can await the vector store without blocking the event loop.",
    "A recipe for sourdough bread needs flour, water, salt and patience.",
    "Embeddings map sentences with similar meaning to nearby vectors.",
    "The football match ended in a draw after extra time.",
]
DEMO_QUERIES = ["Which database works with asyncio?", "How do I bake bread?"]


async def demo(path: str | None) -> None:
    """Create a collection, embed sentences with the default MiniLM model, search by text.

    Args:
        path: the storage folder to use and keep; None uses a temporary folder, removed at
            the end.
    """
    if path is not None:
        await _demo(path)
        return
    with tempfile.TemporaryDirectory(prefix="shoal-demo-") as folder:
        await _demo(folder)


async def _demo(folder: str) -> None:
    from shoal import AsyncClient, models
    from shoal.embeddings import MiniLM

    embedder = MiniLM()
    print(f"Shoal demo: embedded database in {folder}")
    t0 = time.perf_counter()
    vectors = await embedder.aembed_documents(DEMO_TEXTS)
    print(f"Embedded {len(DEMO_TEXTS)} sentences with MiniLM ({time.perf_counter() - t0:.2f} s)")
    async with AsyncClient(path=folder) as client:
        if await client.collection_exists("demo"):
            await client.delete_collection("demo")
        await client.create_collection(
            "demo", models.VectorParams(size=embedder.dimension, distance=models.Distance.COSINE)
        )
        await client.upsert(
            "demo",
            [
                models.PointStruct(id=i, vector=v, payload={"text": t})
                for i, (t, v) in enumerate(zip(DEMO_TEXTS, vectors, strict=True))
            ],
        )
        for query in DEMO_QUERIES:
            qvec = await embedder.aembed_query(query)
            hits = await client.query_points("demo", query=qvec, limit=3)
            print(f"\nQuery: {query}")
            for rank, point in enumerate(hits.points, 1):
                text = (point.payload or {}).get("text")
                print(f"  {rank}. {point.score:.3f}  {text}")


def _add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a storage folder over Qdrant's REST API",
        description="Serve a storage folder over Qdrant's REST API (qdrant-client works "
        "against it unchanged). Binds 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument(
        "--path",
        default="./shoal_data",
        help="storage folder, created if missing, or :memory: (default ./shoal_data)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=6333, help="TCP port (default 6333)")
    p.add_argument(
        "--api-key",
        help="require this key in the api-key header or as a Bearer token "
        "(default: $SHOAL_API_KEY; unset means no authentication)",
    )
    p.add_argument(
        "--read-only-api-key",
        help="a second key that may only read (default: $SHOAL_READ_ONLY_API_KEY)",
    )
    p.add_argument(
        "--max-body-mb",
        type=float,
        default=32.0,
        help="refuse request bodies larger than this with 413 (default 32)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=60.0,
        help="seconds a query, scroll, count or delete by filter may run when the request "
        "has no timeout parameter (default 60, as Qdrant)",
    )
    p.add_argument(
        "--filter-max-conditions",
        type=int,
        help="refuse filters with more conditions (default: $SHOAL_FILTER_MAX_CONDITIONS or 1000)",
    )
    p.add_argument(
        "--condition-max-size",
        type=int,
        help="refuse conditions with more values, e.g. in a MatchAny "
        "(default: $SHOAL_CONDITION_MAX_SIZE or 100000)",
    )
    p.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="how much the server logs (default info)",
    )
    p.add_argument("--access-log", action="store_true", help="log every request")


def serve(args: argparse.Namespace) -> int:
    """Run ``shoal serve`` with the parsed arguments; the exit status."""
    try:
        from shoal.server import ServerConfig
        from shoal.server import serve as run_server
        from shoal.server.config import env_api_keys
    except ImportError as exc:
        from shoal.extras import install_hint

        print(f"shoal serve {install_hint('server', exc.name)}", file=sys.stderr)
        return 2

    env_key, env_ro_key = env_api_keys()
    try:
        config = ServerConfig(
            path=args.path,
            host=args.host,
            port=args.port,
            api_key=args.api_key or env_key,
            read_only_api_key=args.read_only_api_key or env_ro_key,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            request_timeout=args.request_timeout,
            filter_max_conditions=args.filter_max_conditions,
            condition_max_size=args.condition_max_size,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            log_level=args.log_level,
            access_log=args.access_log,
        )
        return run_server(config)
    except StorageLocked as exc:
        print(f"shoal serve: {_locked_advice(exc)}", file=sys.stderr)
        return 2
    except ShoalError as exc:  # it could not start: a bad option, a busy port, the disk
        print(f"shoal serve: {exc}", file=sys.stderr)
        return 2


def _locked_advice(exc: StorageLocked) -> str:
    who = "another process" if exc.pid is None else f"process {exc.pid}"
    if exc.served_at:
        return (
            f"{exc.path} is already served by `shoal serve` at {exc.served_at} ({who}); "
            f"connect to that server (Client('{exc.served_at}')), or stop it first"
        )
    return (
        f"{exc.path} is open in {who}, a program using it embedded; stop that program, "
        "run this command again, and connect the program to this server instead"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``shoal`` command's arguments: ``--version``, ``demo`` and ``serve``."""
    from shoal import __version__

    parser = argparse.ArgumentParser(prog="shoal", description="Shoal vector database")
    parser.add_argument("--version", action="version", version=f"shoal {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="embed a few sentences and search them (offline)")
    p_demo.add_argument(
        "--path", help="storage folder to keep (default: a temporary folder, removed after)"
    )
    _add_serve_parser(sub)
    cli_snapshot.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``shoal`` command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        asyncio.run(demo(args.path))
    elif args.command == "serve":
        return serve(args)
    elif args.command == "snapshot":
        return cli_snapshot.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
