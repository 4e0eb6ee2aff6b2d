"""The base of Shoal's wire models: the model classes, point ids and enums (re-exported
by ``shoal.models``)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    StrictInt,
    StrictStr,
)

__all__ = [
    "CollectionStatus",
    "Datatype",
    "Direction",
    "Distance",
    "ExtendedPointId",
    "Payload",
    "PayloadSchemaType",
    "UpdateMode",
    "UpdateStatus",
]


# A point id: an unsigned 64-bit integer or a UUID string. Range and format are checked by
# the engine (shoal.engine.ids) so that the error names the offending id.
ExtendedPointId = Union[StrictInt, StrictStr]
Payload = dict[str, Any]


class _Model(BaseModel):
    # Unknown fields are an error: a typo such as `paylaod=` must not be silently dropped.
    # A NaN or an infinity is written as JavaScript's NaN / Infinity, not as null: JSON has
    # no spelling for them, and null would turn a bad vector into another error (or a NaN
    # payload value into a null); `shoal serve` reads these tokens so that the engine
    # refuses them with the error embedded mode gives (server/wire.py, parse_json).
    model_config = ConfigDict(extra="forbid", populate_by_name=True, ser_json_inf_nan="constants")


class _Response(BaseModel):
    # Responses from a newer server may carry fields this version does not know.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------------------- enums


class Distance(str, Enum):
    COSINE = "Cosine"
    EUCLID = "Euclid"
    DOT = "Dot"
    MANHATTAN = "Manhattan"


class Datatype(str, Enum):
    FLOAT32 = "float32"
    UINT8 = "uint8"
    FLOAT16 = "float16"
    TURBO4 = "turbo4"


class PayloadSchemaType(str, Enum):
    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    GEO = "geo"
    TEXT = "text"
    BOOL = "bool"
    DATETIME = "datetime"
    UUID = "uuid"


class UpdateStatus(str, Enum):
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    WAIT_TIMEOUT = "wait_timeout"


class CollectionStatus(str, Enum):
    GREEN = "green"
    YELLOW = "yellow"
    GREY = "grey"
    RED = "red"


class Direction(str, Enum):
    ASC = "asc"
    DESC = "desc"


class UpdateMode(str, Enum):
    UPSERT = "upsert"
    INSERT_ONLY = "insert_only"
    UPDATE_ONLY = "update_only"
