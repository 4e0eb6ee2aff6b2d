"""The rest of Qdrant's routes: what a single node answers, and what Shoal refuses.

Every operation of Qdrant's REST spec is routed (``routes.OPERATIONS`` and this table), so a
client never meets the generic unknown-endpoint 404: cluster and shard endpoints get the
answer of a Qdrant node without cluster mode whose collections have one shard (shard 0), and
features Shoal lacks get ``NotSupported`` (400) naming the feature. A client that retries on
a 404 or 405 (qdrant-client does for some calls) stops at once.
"""

from __future__ import annotations

from typing import Any

from shoal import models as m
from shoal.engine import Collection
from shoal.errors import BadRequest, NotSupported
from shoal.server import routes
from shoal.server.routes import Call, Handler, Operation
from shoal.version import __version__

PEER_ID = 1  # a node without cluster mode still names itself in shard descriptions


async def telemetry(call: Call) -> dict[str, Any]:
    """GET /telemetry: what this node is, and how many collections it holds."""
    names = await call.run(call.db.collection_names)
    return {
        "id": str(PEER_ID),
        "app": {"name": "shoal", "version": __version__},
        "collections": {"number_of_collections": len(names)},
    }


async def issues(call: Call) -> dict[str, Any]:
    """GET /issues: Shoal reports problems as errors and in logs, never as issues."""
    return {"issues": []}


async def clear_issues(call: Call) -> bool:
    """DELETE /issues: there are none to clear."""
    return True


async def cluster_status(call: Call) -> dict[str, str]:
    """GET /cluster: one node, cluster mode disabled."""
    return {"status": "disabled"}


async def collection_cluster(call: Call) -> dict[str, Any]:
    """GET /collections/{name}/cluster: the one local shard and its point count."""
    counted = await call.on_collection(Collection.count, m.CountRequest(exact=True))
    shard = {"shard_id": 0, "points_count": counted.count, "state": "Active"}
    return {
        "peer_id": PEER_ID,
        "shard_count": 1,
        "local_shards": [shard],
        "remote_shards": [],
        "shard_transfers": [],
    }


async def shard_keys(call: Call) -> dict[str, Any]:
    """GET /collections/{name}/shards: no custom sharding, so no shard keys."""
    await call.run(call.db.collection, call.name)  # 404 for a missing collection
    return {"shard_keys": None}


def _shard_zero(handler: Handler) -> Handler:
    """A collection snapshot handler for the one shard of a collection (shard 0)."""

    async def on_shard(call: Call) -> Any:
        shard = call.request.path_params["shard_id"]
        if shard != "0":
            raise BadRequest(
                f"Wrong input: shard {shard} does not exist: a Shoal collection has one shard, 0"
            )
        return await handler(call)

    on_shard.__doc__ = f"Shard 0: {handler.__doc__}"
    return on_shard


_refusals: set[Handler] = set()


def _refused(feature: str) -> Handler:
    async def refuse(call: Call) -> None:
        raise NotSupported(f"Wrong input: {feature} is not supported by Shoal")

    refuse.__doc__ = f"Refused: {feature}."
    _refusals.add(refuse)
    return refuse


def refuses(operation: Operation) -> bool:
    """Whether an operation is routed only to answer ``NotSupported``."""
    return operation.handler in _refusals


_C = "/collections/{collection_name}"
_S = _C + "/shards/{shard_id}/snapshots"
_CLUSTER = "cluster operations (one node, cluster mode disabled)"

SINGLE_NODE: tuple[Operation, ...] = (
    Operation("GET", "/telemetry", telemetry, write=False),
    Operation("GET", "/issues", issues, write=False),
    Operation("DELETE", "/issues", clear_issues, write=True),
    Operation("GET", "/cluster", cluster_status, write=False),
    Operation("GET", "/cluster/telemetry", _refused(_CLUSTER), write=False),
    Operation("POST", "/cluster/recover", _refused(_CLUSTER), write=True),
    Operation("DELETE", "/cluster/peer/{peer_id}", _refused(_CLUSTER), write=True),
    Operation("GET", "/quotas", _refused("quotas"), write=False),
    Operation("PUT", "/quotas", _refused("quotas"), write=True),
    Operation("GET", _C + "/cluster", collection_cluster, write=False),
    Operation("POST", _C + "/cluster", _refused(_CLUSTER), write=True),
    Operation("GET", _C + "/shards", shard_keys, write=False),
    Operation("PUT", _C + "/shards", _refused("custom sharding (shard keys)"), write=True),
    Operation("POST", _C + "/shards/delete", _refused("custom sharding"), write=True),
    Operation("PUT", _S + "/recover", _shard_zero(routes.recover_snapshot), write=True),
    Operation("POST", _S, _shard_zero(routes.create_snapshot), write=True),
    Operation("GET", _S, _shard_zero(routes.list_snapshots), write=False),
    Operation("DELETE", _S + "/{snapshot_name}", _shard_zero(routes.delete_snapshot), write=True),
    Operation("GET", _S + "/{snapshot_name}", _shard_zero(routes.download_snapshot), write=False),
    Operation("POST", _S + "/upload", _shard_zero(routes.upload_snapshot), write=True),
    Operation(
        "GET", _C + "/shards/{shard_id}/snapshot", _refused("streaming a snapshot"), write=False
    ),
    Operation("GET", _C + "/optimizations", _refused("the optimizations report"), write=False),
)
