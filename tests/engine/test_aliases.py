"""Aliases in the engine: Qdrant's rules, atomic changes, durable across a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal import models as m
from shoal.engine import Database
from shoal.errors import (
    AliasNotFound,
    BadRequest,
    CollectionAlreadyExists,
    CollectionNotFound,
)

CONFIG = m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))


def create(alias: str, collection: str) -> m.CreateAliasOperation:
    return m.CreateAliasOperation(
        create_alias=m.CreateAlias(alias_name=alias, collection_name=collection)
    )


def rename(old: str, new: str) -> m.RenameAliasOperation:
    return m.RenameAliasOperation(
        rename_alias=m.RenameAlias(old_alias_name=old, new_alias_name=new)
    )


def delete(alias: str) -> m.DeleteAliasOperation:
    return m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=alias))


def pairs(db: Database, name: str | None = None) -> set[tuple[str, str]]:
    return {(a.alias_name, a.collection_name) for a in db.list_aliases(name).aliases}


@pytest.mark.parametrize("where", ["memory", "path"])
def test_aliases_follow_qdrants_rules(tmp_path: Path, where: str) -> None:
    db = Database(None if where == "memory" else tmp_path)
    for name in ("a", "b"):
        db.create_collection(name, CONFIG)
    db.collection("a").upsert([m.PointStruct(id=1, vector=[1.0, 0.0])])
    db.update_aliases([create("prod", "a"), create("old", "a")])
    assert db.collection("prod").count(m.CountRequest()).count == 1  # resolves
    assert db.collection_exists("prod")
    assert pairs(db) == {("prod", "a"), ("old", "a")} == pairs(db, "a")
    assert pairs(db, "missing") == set()
    db.update_aliases([create("prod", "b")])  # creating an existing alias moves it
    assert db.collection("prod").name == "b"
    with pytest.raises(CollectionAlreadyExists):
        db.update_aliases([create("b", "a")])  # an alias never takes a collection's name
    with pytest.raises(CollectionNotFound):
        db.update_aliases([create("x", "missing")])
    with pytest.raises(BadRequest, match="Alias `prod` already exists"):
        db.create_collection("prod", CONFIG)
    # All or nothing: the rename is refused, so the delete before it is not applied.
    with pytest.raises(AliasNotFound):
        db.update_aliases([delete("old"), rename("nope", "new")])
    assert pairs(db) == {("prod", "b"), ("old", "a")}
    db.update_aliases([rename("old", "older"), delete("never-existed")])
    assert pairs(db) == {("prod", "b"), ("older", "a")}
    db.delete_collection("a")  # its aliases go with it
    assert pairs(db) == {("prod", "b")}
    with pytest.raises(CollectionNotFound):
        db.collection("older")
    db.close()


def test_aliases_survive_a_reopen(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.create_collection("a", CONFIG)
    db.update_aliases([create("prod", "a")])
    db.close()
    reopened = Database(tmp_path)
    assert reopened.collection("prod").name == "a"
    reopened.close()
