"""Collection folders: no two collections ever share one, old data folders keep opening."""

from __future__ import annotations

import hashlib
import itertools
import os
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal import models as m
from shoal.engine import Database
from shoal.errors import InvalidCollectionName, StorageError
from shoal.storage.catalog import folder_names
from shoal.storage.sqlite import create_store

HASHED = "a b"  # not plain: its folder is x-<digest>
DIGEST_NAME = "x-" + hashlib.sha256(HASHED.encode()).hexdigest()[:24]
CONFIG = m.CreateCollection(vectors=m.VectorParams(size=2, distance=m.Distance.DOT))


def _fill(db: Database, name: str, pid: int) -> None:
    db.create_collection(name, CONFIG)
    db.collection(name).upsert([m.PointStruct(id=pid, vector=[1.0, 0.0])])


def _ids(db: Database, name: str) -> list[object]:
    return [r.id for r in db.collection(name).scroll(m.ScrollRequest()).points]


def _assert_both(path: Path, first: str, second: str) -> None:
    with closing(Database(path)) as db:
        assert sorted(db.collection_names()) == sorted([first, second])
        assert _ids(db, first) == [1] and _ids(db, second) == [2]


@pytest.mark.parametrize("order", [(HASHED, DIGEST_NAME), (DIGEST_NAME, HASHED)])
def test_a_name_and_its_digest_are_two_collections(tmp_path: Path, order: tuple[str, str]) -> None:
    first, second = order
    with closing(Database(tmp_path)) as db:
        _fill(db, first, 1)
        _fill(db, second, 2)
        assert _ids(db, first) == [1] and _ids(db, second) == [2]
    _assert_both(tmp_path, first, second)
    assert len(list((tmp_path / "collections").iterdir())) == 2


def test_folder_of_an_older_version_is_opened_and_never_reused(tmp_path: Path) -> None:
    # An older Shoal stored a collection literally named x-<digest> in the folder of that
    # name, which is the folder "a b" hashes to: both must live, in separate folders.
    old = tmp_path / "collections" / DIGEST_NAME
    old.mkdir(parents=True)
    stored = CONFIG.model_dump(mode="json", exclude_none=True, by_alias=True)
    create_store(old, {"name": DIGEST_NAME, "config": stored})
    with closing(Database(tmp_path)) as db:
        assert db.collection_names() == [DIGEST_NAME]
        db.collection(DIGEST_NAME).upsert([m.PointStruct(id=1, vector=[1.0, 0.0])])
        _fill(db, HASHED, 2)
    _assert_both(tmp_path, DIGEST_NAME, HASHED)
    assert sorted(p.name for p in (tmp_path / "collections").iterdir()) == [
        DIGEST_NAME,
        DIGEST_NAME + "-2",
    ]


def test_a_failed_create_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device", str(dst))

    with closing(Database(tmp_path)) as db:
        monkeypatch.setattr(os, "rename", refuse)
        with pytest.raises(StorageError, match="No space left"):
            db.create_collection("c", CONFIG)
        monkeypatch.undo()
        assert db.collection_names() == []
        assert list((tmp_path / "collections").iterdir()) == []
        _fill(db, "c", 1)


def test_a_name_that_cannot_be_stored_is_refused(tmp_path: Path) -> None:
    with closing(Database(tmp_path)) as db, pytest.raises(InvalidCollectionName, match="forbidden"):
        db.create_collection("bad\ud800", CONFIG)


@given(st.text(min_size=1, max_size=70), st.text(min_size=1, max_size=70))
def test_different_names_get_different_first_folders(a: str, b: str) -> None:
    if a != b:
        assert next(folder_names(a)) != next(folder_names(b))


@given(st.text(min_size=1, max_size=70))
def test_candidate_folders_are_distinct_and_tame(name: str) -> None:
    candidates = list(itertools.islice(folder_names(name), 4))
    assert len(set(candidates)) == 4
    for c in candidates:
        assert c.isascii() and "/" not in c and not c.startswith(".")
        assert c == name or c.startswith("x-")
