"""Collection aliases, snapshots and named-vector creation: Qdrant's request and response
models (re-exported by ``shoal.models``)."""

from __future__ import annotations

from typing import Any, Literal, Union

from shoal.models._base import Datatype, Distance, _Model

__all__ = [
    "AliasDescription",
    "AliasOperations",
    "ChangeAliasesOperation",
    "CollectionsAliasesResponse",
    "CreateAlias",
    "CreateAliasOperation",
    "DeleteAlias",
    "DeleteAliasOperation",
    "DenseVectorConfig",
    "DenseVectorNameConfig",
    "RenameAlias",
    "RenameAliasOperation",
    "SnapshotDescription",
    "SnapshotPriority",
    "SnapshotRecover",
    "SparseVectorConfig",
    "SparseVectorNameConfig",
    "VectorNameConfig",
]


class CreateAlias(_Model):
    collection_name: str
    alias_name: str


class DeleteAlias(_Model):
    alias_name: str


class RenameAlias(_Model):
    old_alias_name: str
    new_alias_name: str


class CreateAliasOperation(_Model):
    create_alias: CreateAlias


class DeleteAliasOperation(_Model):
    delete_alias: DeleteAlias


class RenameAliasOperation(_Model):
    rename_alias: RenameAlias


AliasOperations = Union[CreateAliasOperation, DeleteAliasOperation, RenameAliasOperation]


class ChangeAliasesOperation(_Model):
    actions: list[AliasOperations]


class AliasDescription(_Model):
    alias_name: str
    collection_name: str


class CollectionsAliasesResponse(_Model):
    aliases: list[AliasDescription]


class SnapshotDescription(_Model):
    name: str
    creation_time: str | None = None
    size: int
    checksum: str | None = None


SnapshotPriority = Literal["no_sync", "snapshot", "replica"]


class SnapshotRecover(_Model):
    location: str
    priority: SnapshotPriority | None = None
    checksum: str | None = None
    api_key: str | None = None


class DenseVectorConfig(_Model):
    size: int
    distance: Distance
    multivector_config: dict[str, Any] | None = None
    datatype: Datatype | None = None


class SparseVectorConfig(_Model):
    modifier: Literal["none", "idf"] | None = None
    datatype: Datatype | None = None


class DenseVectorNameConfig(_Model):
    dense: DenseVectorConfig


class SparseVectorNameConfig(_Model):
    sparse: SparseVectorConfig


# The body of ``PUT /collections/{name}/vectors/{vector_name}``.
VectorNameConfig = Union[DenseVectorNameConfig, SparseVectorNameConfig]
