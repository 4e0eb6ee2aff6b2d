"""``shoal serve``: the engine over Qdrant's REST protocol (needs the ``server`` extra).

Example::

    from shoal.server import ServerConfig, create_app, serve
    serve(ServerConfig(path="./data", port=6333))
"""

from __future__ import annotations

from shoal.server.app import QDRANT_VERSION, create_app
from shoal.server.config import ServerConfig
from shoal.server.run import serve

__all__ = ["QDRANT_VERSION", "ServerConfig", "create_app", "serve"]
