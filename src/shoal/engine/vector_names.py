"""Named vectors added to and removed from an existing collection (Qdrant's
``create_vector_name`` / ``delete_vector_name``): the new configuration, and every point's
vectors repacked for it.

Design: a point keeps its vectors in one blob laid out by the configuration
(``shoal.codec.StoredLayout``: the dense vectors in configuration order, then the sparse
ones), so a changed set of names is a changed layout. The change is made as the new
configuration plus every point's blob rewritten for it, in one SQLite transaction
(``CollectionStore.relayout``): a crash leaves the old configuration with the old blobs or
the new with the new, and every blob always has its collection's one layout. Appending the
new vector to existing blobs, read as "absent" when short, was the alternative: but a dense
vector sits before the sparse ones, so appending would need a second layout per collection,
and a deleted vector would leave holes to remember or reclaim later. The rewrite costs one
pass over the points (what ``update_collection``'s index rebuild reads anyway) and leaves
the codec as it is. A deleted vector's data is gone with that transaction, not kept
unreachable.

The blobs are packed from the collection's state in memory (``CollectionState.vectors_of``:
every kind of vector a point has), which equals storage once the collection's writes are
flushed: the caller closes the collection first.
"""

from __future__ import annotations

from collections.abc import Iterator

from shoal import models as m
from shoal.codec import DEFAULT_VECTOR, StoredLayout, VectorSpace
from shoal.engine.state import CollectionState
from shoal.errors import InvalidConfig
from shoal.storage import StoredColumns, encode_id

# Qdrant's rule (it keeps a vector's files in a folder named after it), as qdrant-client's
# local mode checks it.
MAX_NAME_BYTES = 200
_FORBIDDEN = ("<", ">", ":", '"', "/", "\\", "|", "?", "*", "\0", "\x1f")
BATCH = 2048  # points per batch of repacked blobs


def vector_space(config: m.CreateCollection) -> VectorSpace:
    """A collection's vectors: its dense ones (one unnamed, or named), its sparse ones, and
    its multivectors (dense ones with ``multivector_config``)."""
    vectors = config.vectors
    sparse = tuple(config.sparse_vectors or {})
    if vectors is None:
        return VectorSpace({}, sparse, named=True)
    named = isinstance(vectors, dict)
    given = dict(vectors) if isinstance(vectors, dict) else {DEFAULT_VECTOR: vectors}
    dense = {n: p for n, p in given.items() if p.multivector_config is None}
    multi = {n: p for n, p in given.items() if p.multivector_config is not None}
    return VectorSpace(dense, sparse, named=named, multi=multi)


def check_vector_name(name: str) -> None:
    """Refuse a name Qdrant does not take for a new vector.

    Raises:
        InvalidConfig: longer than 200 bytes, ``.`` or ``..``, or with a character a file
            name cannot have (``/``, ``:``, ...).
    """
    if not isinstance(name, str):
        raise InvalidConfig(f"Wrong input: vector name {name!r:.80} must be a string")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise InvalidConfig(
            f"Wrong input: vector name {name[:40]!r}... is {size} bytes long; at most "
            f"{MAX_NAME_BYTES}"
        )
    bad = next((c for c in _FORBIDDEN if c in name), None)
    if bad is not None or name in (".", ".."):
        why = f"contains {bad!r}" if bad is not None else "is not a valid name"
        raise InvalidConfig(f"Wrong input: vector name {name!r} {why}")


def with_vector(
    config: m.CreateCollection, name: str, spec: m.VectorNameConfig
) -> m.CreateCollection | None:
    """``config`` with vector ``name`` added as ``spec`` says (not checked yet).

    An unnamed collection becomes a named one with ``""`` beside the new name, as in Qdrant
    (a point then gives its vectors by name).

    Returns:
        The new configuration, or None when the collection has that vector with that
        configuration already (Qdrant then changes nothing and answers success).

    Raises:
        InvalidConfig: a bad name, or the name taken by a vector of another kind or
            another configuration.
    """
    check_vector_name(name)
    space = vector_space(config)
    dense = {**space.dense, **space.multi}  # every vector given as VectorParams
    sparse = dict(config.sparse_vectors or {})
    if isinstance(spec, m.DenseVectorNameConfig):
        given = spec.dense
        params = m.VectorParams.model_validate(given.model_dump(exclude_none=True))
        if name in sparse:
            raise InvalidConfig(f"Wrong input: vector {name!r} already exists as a sparse vector")
        old = dense.get(name)
        if old is not None:
            if (old.size, old.distance, old.multivector_config) == (
                given.size,
                given.distance,
                given.multivector_config,
            ):
                return None
            raise InvalidConfig(
                f"Wrong input: vector {name!r} already exists with another configuration "
                f"(size {old.size}, {old.distance.value})"
            )
        dense[name] = params
    else:
        if name in dense:
            raise InvalidConfig(f"Wrong input: vector {name!r} already exists as a dense vector")
        wanted = spec.sparse.modifier or "none"
        if name in sparse:
            if (sparse[name].modifier or m.Modifier.NONE).value == wanted:
                return None
            raise InvalidConfig(
                f"Wrong input: sparse vector {name!r} already exists with another modifier"
            )
        index = None if spec.sparse.datatype is None else {"datatype": spec.sparse.datatype}
        sparse[name] = m.SparseVectorParams.model_validate(
            {"modifier": spec.sparse.modifier, "index": index}
        )
    return config.model_copy(update={"vectors": dense, "sparse_vectors": sparse or None})


def without_vector(config: m.CreateCollection, name: str) -> m.CreateCollection | None:
    """``config`` without vector ``name``.

    Returns:
        The new configuration, or None when there is no such vector (Qdrant then changes
        nothing and answers success).

    Raises:
        InvalidConfig: ``name`` is the unnamed vector of an unnamed collection (Qdrant
            refuses to delete it).
    """
    space = vector_space(config)
    if not space.has(name):
        return None
    if not space.named and name == DEFAULT_VECTOR:
        raise InvalidConfig(
            "Wrong input: cannot delete the unnamed vector of a collection that has no "
            "named vectors; delete the collection instead"
        )
    dense = {k: v for k, v in {**space.dense, **space.multi}.items() if k != name}
    sparse = {k: v for k, v in (config.sparse_vectors or {}).items() if k != name}
    vectors = dense if space.named else config.vectors
    return config.model_copy(update={"vectors": vectors, "sparse_vectors": sparse or None})


def repacked(state: CollectionState, layout: StoredLayout) -> Iterator[StoredColumns]:
    """Every point of ``state`` with its vectors packed by ``layout``, in batches (a
    vector the layout has and the point lacks is packed as absent; one the layout lacks is
    dropped).

    Args:
        state: a collection's state; nothing may write to it meanwhile.
        layout: the new layout.

    Returns:
        Batches of points as storage keeps them.
    """
    rows = state.live_rows().tolist()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        keys = [encode_id(state.keys[r]) for r in chunk]
        yield StoredColumns(
            keys,
            [int(state.versions[r]) for r in chunk],
            [int(state.serial[r]) for r in chunk],
            [state.payloads[r] for r in chunk],
            [layout.pack(state.vectors_of(r)) for r in chunk],
            [0] * len(chunk),
        )
