"""Settings of ``shoal serve``: where the data lives, where to listen, who may call."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from shoal.engine.limits import Limits
from shoal.errors import InvalidConfig

MEMORY = ":memory:"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6333
DEFAULT_MAX_BODY_MB = 32.0
# Qdrant's default search timeout (storage.performance.search_timeout): a query, scroll,
# count or delete by filter without a `timeout` parameter gets this many seconds.
DEFAULT_REQUEST_TIMEOUT = 60.0
API_KEY_ENV = "SHOAL_API_KEY"
READ_ONLY_API_KEY_ENV = "SHOAL_READ_ONLY_API_KEY"


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``shoal serve`` needs to know.

    Args:
        path: the storage folder, or ``":memory:"`` for a database that lives only as long
            as the server.
        host: the address to bind. Loopback by default: exposing the database to a network
            is a decision the operator makes explicitly.
        port: the TCP port (6333 is Qdrant's REST port, so Qdrant clients find it).
        api_key: when set, every request except the health probes needs it in the
            ``api-key`` header (or ``Authorization: Bearer``).
        read_only_api_key: a second key that may read but not write.
        max_body_bytes: request bodies larger than this are refused with 413.
        ssl_certfile, ssl_keyfile: serve HTTPS with this certificate and key.
        log_level: uvicorn's log level.
        access_log: log every request (off by default: it costs throughput).
        request_timeout: seconds a query, scroll, count or delete by filter may run when
            the request has no ``timeout`` parameter.
        filter_max_conditions, condition_max_size: the filter limits (Qdrant's strict-mode
            names); None keeps the default, or the ``SHOAL_*`` environment variable.
    """

    path: str = MEMORY
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_key: str | None = None
    read_only_api_key: str | None = None
    max_body_bytes: int = int(DEFAULT_MAX_BODY_MB * 1024 * 1024)
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    log_level: str = "info"
    access_log: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    filter_max_conditions: int | None = None
    condition_max_size: int | None = None

    def __post_init__(self) -> None:
        if self.read_only_api_key and not self.api_key:
            # A read-only key alone would leave no key that may write, which is never intended.
            raise InvalidConfig("--read-only-api-key needs --api-key as well")
        if self.api_key and self.api_key == self.read_only_api_key:
            raise InvalidConfig("the api key and the read-only api key must differ")
        if self.max_body_bytes <= 0:
            raise InvalidConfig(f"max body size must be positive, got {self.max_body_bytes}")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise InvalidConfig("TLS needs both --ssl-certfile and --ssl-keyfile")
        if not 0 <= self.port <= 65535:
            raise InvalidConfig(f"port {self.port} is out of range 0..65535")
        if not self.request_timeout > 0:
            raise InvalidConfig(f"request timeout must be positive, got {self.request_timeout}")
        self.limits  # noqa: B018  (a bad limit fails here, before anything is opened)

    @property
    def limits(self) -> Limits:
        """The filter limits the database is opened with.

        Raises:
            InvalidConfig: a limit that is not a positive integer.
        """
        base = Limits.from_env()
        given = {
            name: value
            for name, value in (
                ("filter_max_conditions", self.filter_max_conditions),
                ("condition_max_size", self.condition_max_size),
            )
            if value is not None
        }
        return dataclasses.replace(base, **given)

    @property
    def storage_path(self) -> str | None:
        """The folder for ``Database``, or None for an in-memory database."""
        return None if self.path == MEMORY else self.path

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_certfile else "http"


def env_api_keys() -> tuple[str | None, str | None]:
    """The api keys given in the environment (empty values count as unset).

    Returns:
        (api_key, read_only_api_key) from ``SHOAL_API_KEY`` and ``SHOAL_READ_ONLY_API_KEY``.
    """
    return (
        os.environ.get(API_KEY_ENV) or None,
        os.environ.get(READ_ONLY_API_KEY_ENV) or None,
    )
