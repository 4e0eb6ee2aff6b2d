"""Child process of ``test_crash.py``: upsert points (a dense and a sparse vector each, or
only the dense one) with ``wait=True`` until killed.

Usage: ``python crash_child.py PATH FIRST_ID SEED``. Prints ``ready`` once the collection is
open, then, after each upsert returns, one line per acknowledged id. Imports stay minimal:
the parent starts this process many times.
"""

from __future__ import annotations

import random
import sys
import uuid

COLLECTION = "crash"
DIM = 4


def point_id(n: int) -> int | str:
    """Every fifth point has a UUID id, so both id kinds go through recovery."""
    return str(uuid.UUID(int=n)) if n % 5 == 0 else n


def vector(n: int) -> list[float]:
    """Deterministic and non-zero, derived from the point's number."""
    return [float(k) + ((n * (k + 3)) % 97) / 97.0 for k in range(DIM)]


def sparse(n: int) -> dict[str, list[object]] | None:
    """Every third point has no sparse vector; the others 1 to 4 indices from its number."""
    if n % 3 == 0:
        return None
    indices = sorted({(n * (k + 7)) % 50 for k in range(1 + n % 4)})
    return {"indices": indices, "values": [1.0 + i / 64 for i in indices]}


def vectors(n: int) -> dict[str, object]:
    """The point's vectors: the unnamed dense one, and sparse ``s`` if it has one."""
    out: dict[str, object] = {"": vector(n)}
    found = sparse(n)
    if found is not None:
        out["s"] = found
    return out


def payload(n: int) -> dict[str, object]:
    return {"n": n, "tag": f"p{n}", "nested": {"even": n % 2 == 0}}


def main() -> None:
    from shoal import Client
    from shoal import models as m

    path, first, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    client = Client(path=path)
    if not client.collection_exists(COLLECTION):
        client.create_collection(
            COLLECTION,
            m.VectorParams(size=DIM, distance="Dot"),
            sparse_vectors_config={"s": m.SparseVectorParams(modifier=m.Modifier.IDF)},
        )
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    n = first
    while True:
        numbers = list(range(n, n + rng.randint(1, 3)))
        n += len(numbers)
        client.upsert(
            COLLECTION,
            [m.PointStruct(id=point_id(i), vector=vectors(i), payload=payload(i)) for i in numbers],
            wait=True,
        )
        # Only now, after upsert returned, is the write acknowledged.
        out.write("".join(f"{i}\n" for i in numbers))
        out.flush()


if __name__ == "__main__":
    main()
