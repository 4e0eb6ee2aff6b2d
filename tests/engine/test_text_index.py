"""Text payload indexes in the engine: their settings decide how full-text conditions match
(the table in tests/text_index_table.py), they are shown in ``payload_schema`` as Qdrant
shows them, survive reopening, and settings Shoal cannot reproduce are refused by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from text_index_table import INDEXES, STEM, TABLE, condition, create, mismatches, run_table

from shoal import Client
from shoal import models as m
from shoal.engine import Database
from shoal.errors import InvalidConfig, NotSupported
from shoal.storage import CollectionStore


def test_table_of_matches_embedded() -> None:
    with Client(":memory:") as client:
        assert run_table(client, "t") == []


def test_the_table_covers_every_index_and_condition() -> None:
    assert {row[0] for row in TABLE} == set(INDEXES)
    assert {row[2] for row in TABLE} == {"text", "text_any", "phrase"}


def test_milvus_expressions_use_the_index_settings() -> None:
    with Client(":memory:") as client:
        create(client, "c", "stem")
        stemmed = [i for i, row in enumerate(TABLE) if row[0] == "stem"]
        assert client.count("c", count_filter="text_match(t, 'cat')").count == len(stemmed)
        assert client.count("c", count_filter="text_match(t, 'dog')").count == 0
        client.create_payload_index("c", "t", {"type": "text", "phrase_matching": True, **STEM})
        assert client.count("c", count_filter="phrase_match(t, 'run cat')").count == len(stemmed)


def test_payload_schema_shows_the_settings_as_qdrant_does() -> None:
    with Client(":memory:") as client:
        client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        client.upsert("c", [m.PointStruct(id=1, vector=[1, 0], payload={"t": "a", "u": "b"})])
        client.create_payload_index("c", "t", {"type": "text", "lowercase": False, **STEM})
        client.create_payload_index("c", "u", "text")
        schema = client.get_collection("c").payload_schema
        # Qdrant's server always writes the tokenizer, and the other fields as given.
        assert schema["t"].params == {
            "type": "text",
            "tokenizer": "word",
            "lowercase": False,
            "stemmer": {"type": "snowball", "language": "english"},
        }
        assert (schema["t"].data_type, schema["t"].points) == (m.PayloadSchemaType.TEXT, 1)
        assert schema["u"].params is None  # declared by its type name


def test_deleting_the_index_returns_to_default_tokenization() -> None:
    with Client(":memory:") as client:
        create(client, "c", "stem")
        stemmed = sum(1 for row in TABLE if row[0] == "stem")
        cats = condition("text", "cat")
        assert client.count("c", count_filter=cats).count == stemmed
        client.delete_payload_index("c", "t")
        assert client.count("c", count_filter=cats).count == 0  # "cats" is not "cat"
        client.create_payload_index("c", "t", INDEXES["stem"])  # and back
        assert client.count("c", count_filter=cats).count == stemmed


def test_settings_survive_reopening(tmp_path: Path) -> None:
    with Client(path=str(tmp_path)) as client:
        for index in ("stem", "phrase"):
            create(client, index, index)
        shown = {i: client.get_collection(i).payload_schema["t"] for i in ("stem", "phrase")}
    with Client(path=str(tmp_path)) as client:
        for index in ("stem", "phrase"):
            assert client.get_collection(index).payload_schema["t"] == shown[index]
            assert mismatches(client, index, index) == []


def test_stores_with_index_names_only_still_load(tmp_path: Path) -> None:
    # Stores written before index parameters were kept hold {"key": "type name"}.
    db = Database(tmp_path)
    db.create_collection("c", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot")))
    db.collection("c").upsert([m.PointStruct(id=1, vector=[1, 0], payload={"t": ["x", "y"]})])
    db.close()
    (directory,) = {f.parent for f in tmp_path.glob("collections/*/points.sqlite3")}
    store = CollectionStore(directory)
    store.set_meta("payload_indexes", {"t": "text", "k": "keyword"})
    store.close()
    db = Database(tmp_path)
    try:
        schema = db.collection("c").info().payload_schema
        assert {k: (v.data_type.value, v.params) for k, v in schema.items()} == {
            "t": ("text", None),
            "k": ("keyword", None),
        }
        # A text index pools the array's strings: both tokens are found.
        flt = condition("text", "x y")
        assert db.collection("c").count(m.CountRequest(filter=flt)).count == 1
    finally:
        db.close()


@pytest.mark.parametrize(
    ("params", "error", "names"),
    [
        ({"ascii_folding": True}, NotSupported, "field_schema.ascii_folding"),
        ({"tokenizer": "multilingual"}, NotSupported, "field_schema.tokenizer"),
        ({"stopwords": "french"}, NotSupported, "'french'"),
        ({"stopwords": {"languages": ["english", "french"]}}, NotSupported, "'french'"),
        ({"stemmer": {"type": "snowball", "language": "armenian"}}, NotSupported, "armenian"),
        ({"min_token_len": "3"}, InvalidConfig, "min_token_len"),
        ({"phrase_matching": "yes"}, InvalidConfig, "phrase_matching"),
        ({"on_disk": True}, NotSupported, "field_schema.on_disk"),
    ],
)
def test_unsupported_settings_are_refused_by_name(
    params: dict[str, Any], error: type[Exception], names: str
) -> None:
    with Client(":memory:") as client:
        client.create_collection("c", m.VectorParams(size=2, distance="Dot"))
        with pytest.raises(error, match=re.escape(names)) as caught:
            client.create_payload_index("c", "t", {"type": "text", **params})
        if error is NotSupported:
            assert "not supported" in str(caught.value)
        assert client.get_collection("c").payload_schema == {}  # nothing was created


WORDS = ["cat", "Cats", "the", "dog", "running", "a-b", "good", "goodness"]
texts = st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join)


@pytest.fixture(scope="module")
def db() -> Any:
    database = Database(None)
    database.create_collection(
        "p", m.CreateCollection(vectors=m.VectorParams(size=2, distance="Dot"))
    )
    yield database
    database.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(texts, min_size=1, max_size=8),
    st.sampled_from(["text", "text_any", "phrase"]),
    texts,
)
def test_a_default_text_index_answers_like_no_index_on_single_strings(
    db: Database, docs: list[str], kind: str, query: str
) -> None:
    # With one string per point (no array to pool) and a phrase-capable index, the
    # default settings tokenize as the unindexed path does.
    col = db.collection("p")
    col.delete(m.FilterSelector(filter=m.Filter()))
    col.upsert([m.PointStruct(id=i, vector=[1, 0], payload={"t": d}) for i, d in enumerate(docs)])
    request = m.ScrollRequest(filter=condition(kind, query), limit=100)
    without = [p.id for p in col.scroll(request).points]
    col.create_payload_index("t", {"type": "text", "phrase_matching": True})
    try:
        assert [p.id for p in col.scroll(request).points] == without
    finally:
        col.set_payload_index("t", None)


def test_qdrant_client_index_params_models_are_accepted() -> None:
    from qdrant_client import models as qm

    params = qm.TextIndexParams(
        type=qm.TextIndexType.TEXT,
        tokenizer=qm.TokenizerType.WORD,
        stemmer=qm.SnowballParams(type=qm.Snowball.SNOWBALL, language=qm.SnowballLanguage.ENGLISH),
    )
    with Client(":memory:") as client:
        create(client, "c", "none")
        cat = condition("text", "cat")
        assert client.count("c", count_filter=cat).count == 1  # "the cat"
        client.create_payload_index("c", "t", params)
        assert client.get_collection("c").payload_schema["t"].params == INDEXES["stem"] | {
            "tokenizer": "word"
        }
        assert client.count("c", count_filter=cat).count == 3  # and "Running cats" twice
