"""Shoal's BM25 produces Qdrant's ``qdrant/bm25`` sparse vectors, and ranks as BM25 does.

qdrant-client's own ``qdrant/bm25`` inference needs fastembed and files from a model hub,
which this machine cannot reach; so the vectors are checked against a reference written
here from Qdrant's source (``src/common/inference/bm25_inference.rs``, ``lib/bm25/src/``
``lib.rs``, ``lib/segment/src/index/field_index/full_text_index/tokenizers/``): its own
character-by-character splitting, its own MurmurHash3 and its own fused multiply-add.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path

import bm25s
import numpy as np
import pytest
import regex
from bm25_corpus import corpus
from hypothesis import given, settings
from hypothesis import strategies as st
from py_rust_stemmers import SnowballStemmer

import shoal.text
from shoal.embeddings import BM25, is_bm25_model
from shoal.embeddings.bm25 import token_id
from shoal.errors import InvalidConfig, NotSupported
from shoal.text import Analyzer

STOPWORDS_FILE = Path(shoal.text.__file__).with_name("english_stopwords.txt")
STOPWORDS_SHA256 = "019f104ba2ed07436d05f9cdd3383034ad66014edc27fc651f837e1a038b6451"

# --------------------------------------------------------------------- the reference


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86 32-bit (Austin Appleby's reference), unsigned."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed
    rounded = len(data) - len(data) % 4
    for i in range(0, rounded, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = 0
    tail = data[rounded:]
    for shift, byte in enumerate(tail):
        k |= byte << (8 * shift)
    if tail:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


def ref_token_id(token: str) -> int:
    # Rust: (Murmur3::hash(0, bytes) as i32).unsigned_abs()
    h = murmur3_32(token.encode("utf-8"))
    signed = h - (1 << 32) if h >= 1 << 31 else h
    return abs(signed)


_ALNUM = regex.compile(r"[\p{Alphabetic}\p{Nd}\p{Nl}\p{No}]")


def ref_words(text: str) -> list[str]:
    # Rust: text.split(|c| !char::is_alphanumeric(c)), one character at a time.
    words, current = [], []
    for ch in text:
        if _ALNUM.fullmatch(ch):
            current.append(ch)
        else:
            words.append("".join(current))
            current = []
    words.append("".join(current))
    return words


STEMMER = SnowballStemmer("english")
STOPWORDS = set(STOPWORDS_FILE.read_text(encoding="utf-8").split("\n")) - {""}


def ref_tokens(text: str) -> list[str]:
    # TokensProcessor::process_token: empty -> skip, lowercase, stop word, stem.
    out = []
    for word in ref_words(text):
        if not word:
            continue
        low = word.lower()
        if low in STOPWORDS:
            continue
        out.append(STEMMER.stem_word(low))
    return out


def fma(x: float, y: float, z: float) -> float:
    if hasattr(math, "fma"):
        return float(math.fma(x, y, z))
    return float(Fraction(x) * Fraction(y) + Fraction(z))


def ref_document(text: str, k: float = 1.2, b: float = 0.75, avg: float = 256.0) -> dict:
    tokens = ref_tokens(text)
    out = {}
    for token, n in Counter(tokens).items():
        tf = n * (k + 1.0) / fma(k, 1.0 - b + b * len(tokens) / avg, float(n))
        out[ref_token_id(token)] = float(np.float32(tf))
    return out


def ref_query(text: str) -> dict:
    return {ref_token_id(t): 1.0 for t in ref_tokens(text)}


def as_dict(vec) -> dict:
    return dict(zip(vec.indices, vec.values, strict=True))


# --------------------------------------------------------------------- vectors


def test_stop_word_list_is_qdrants() -> None:
    assert hashlib.sha256(STOPWORDS_FILE.read_bytes()).hexdigest() == STOPWORDS_SHA256
    assert len(STOPWORDS) == 179 and {"the", "and", "of", "wouldn't", "t"} <= STOPWORDS


def test_reference_hash_matches_mmh3() -> None:
    # The reference is independent of the library; both must agree (empty, tails, UTF-8).
    for token in ["", "a", "ab", "abc", "abcd", "hello", "straße", "日本語", "🙂", "x" * 41]:
        assert token_id(token) == ref_token_id(token), token


def test_documents_equal_the_reference() -> None:
    texts = corpus()
    vectors = BM25().embed_documents(texts)
    assert len(vectors) == len(texts)
    for text, vec in zip(texts, vectors, strict=True):
        assert vec.indices == sorted(set(vec.indices)), text
        assert as_dict(vec) == ref_document(text), text


def test_queries_equal_the_reference() -> None:
    encoder = BM25()
    for text in corpus():
        vec = encoder.embed_query(text)
        assert vec.indices == sorted(set(vec.indices)), text
        assert as_dict(vec) == ref_query(text), text


def test_options_change_the_vectors_as_in_qdrant() -> None:
    # lib/bm25/src/lib.rs document_tf_formula_matches_reference: 5 tokens, "the" twice,
    # avg_len 5 -> 1.375.
    raw = {"avg_len": 5, "tokenizer": "whitespace", "stopwords": {"custom": []}}
    vec = BM25(options={**raw, "stemmer": {"type": "none"}}).embed_documents(
        ["the cat sat on the"]
    )[0]
    assert as_dict(vec)[token_id("the")] == 1.375
    # bm25_inference.rs disabled_stemmer_suppresses_language_default.
    assert len(BM25().embed_documents(["running run"])[0].indices) == 1
    off = {"stemmer": {"type": "none"}, "stopwords": {"custom": []}}
    assert len(BM25(options=off).embed_documents(["running run"])[0].indices) == 2
    # The deprecated language "none": neither stop words nor stemming.
    assert BM25(options={"language": "none"}).embed_query("The runs") == BM25(
        options=off
    ).embed_query("the runs")
    # k, b and avg_len.
    a = as_dict(BM25(options={"k": 2.0, "b": 0.5, "avg_len": 10}).embed_documents(["x y x"])[0])
    assert a == ref_document("x y x", k=2.0, b=0.5, avg=10.0)


def test_stemmer_is_the_one_qdrant_runs() -> None:
    # Words (with their stems from rust-stemmers' test vocabulary) where the Snowball
    # stemmers of snowballstemmer / PyStemmer 3.x answer differently.
    expected = {"added": "ad", "evening": "even", "emergency": "emerg", "ebbed": "eb"}
    encoder = BM25()
    for word, stem in expected.items():
        assert encoder.embed_query(word).indices == [token_id(stem)], word


def test_empty_text_is_an_empty_vector() -> None:
    encoder = BM25()
    for text in ["", "   ", "the and of", "!!! ---"]:
        assert encoder.embed_documents([text])[0].indices == []
        assert encoder.embed_query(text).values == []


def test_model_names() -> None:
    for name in ["qdrant/bm25", "Qdrant/bm25", "BM25", "bm25"]:
        assert is_bm25_model(name)
        BM25(name)
    for name in ["Qdrant/bm42-all-minilm-l6-v2-attentions", "bm25x", "prithivida/splade"]:
        assert not is_bm25_model(name)
        with pytest.raises(NotSupported, match=regex.escape(repr(name))):
            BM25(name)


@pytest.mark.parametrize(
    ("options", "error", "needle"),
    [
        ({"k": -1}, InvalidConfig, "k must be"),
        ({"b": 1.5}, InvalidConfig, "b must be"),
        ({"avg_len": 0}, InvalidConfig, "avg_len must be"),
        ({"k": float("nan")}, InvalidConfig, "finite"),
        ({"k": "1"}, InvalidConfig, "must be a number"),
        ({"kk": 1}, InvalidConfig, "unknown BM25 options ['kk']"),
        ({"tokenizer": "multilingual"}, NotSupported, "multilingual"),
        ({"tokenizer": "ngram"}, InvalidConfig, "tokenizer"),
        ({"ascii_folding": True}, NotSupported, "ascii_folding"),
        ({"lowercase": "yes"}, InvalidConfig, "lowercase"),
        ({"language": "german"}, NotSupported, "stop words for 'german'"),
        ({"stopwords": "klingon"}, InvalidConfig, "klingon"),
        ({"stemmer": {"type": "snowball", "language": "armenian"}}, NotSupported, "armenian"),
        ({"stemmer": {"type": "porter"}}, InvalidConfig, "stemmer"),
        ({"min_token_len": -1}, InvalidConfig, "min_token_len"),
    ],
)
def test_bad_options_are_refused(options: dict, error: type, needle: str) -> None:
    with pytest.raises(error, match=regex.escape(needle)):
        BM25(options=options)


def test_other_languages_with_explicit_stop_words() -> None:
    # German stemming works when the stop words are given explicitly.
    options = {"language": "de", "stopwords": {"custom": ["Der"]}}
    vec = BM25(options=options).embed_query("der Häuser")
    assert vec.indices == [token_id(SnowballStemmer("german").stem_word("häuser"))]


def test_bad_texts_are_refused() -> None:
    encoder = BM25()
    with pytest.raises(TypeError, match="single str"):
        encoder.embed_documents("a text")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        encoder.embed_documents(["a", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="expected str"):
        encoder.embed_query(None)  # type: ignore[arg-type]


async def test_async_twins_equal_sync() -> None:
    encoder = BM25()
    texts = corpus(60)
    docs, query = await asyncio.gather(
        encoder.aembed_documents(texts), encoder.aembed_query("quick brown foxes")
    )
    assert docs == encoder.embed_documents(texts)
    assert query == encoder.embed_query("quick brown foxes")


# --------------------------------------------------------------------- ranking


def qdrant_idf(n: int, df: int) -> float:
    # lib/segment/src/data_types/query_context.rs fancy_idf, in f32 as there.
    return float(np.float32(math.log((n - df + 0.5) / (df + 0.5) + 1.0)))


def test_ranking_equals_bm25s() -> None:
    texts = corpus()
    analyzer = Analyzer(BM25().config.analyzer)
    tokens = [analyzer.document_tokens(t) for t in texts]
    vocabulary = {t for doc in tokens for t in doc}
    assert len({token_id(t) for t in vocabulary}) == len(vocabulary)  # no hash collision
    avg = sum(map(len, tokens)) / len(tokens)
    encoder = BM25(options={"avg_len": avg})
    docs = encoder.embed_documents(texts)
    df = Counter(i for d in docs for i in d.indices)
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75, dtype="float64")
    retriever.index(tokens, show_progress=False)
    for query in ["quick brown fox", "machine learning", "sea shells", "HELLO world", "2023"]:
        q = encoder.embed_query(query)
        weights = {
            i: w * qdrant_idf(len(docs), df[i]) for i, w in zip(q.indices, q.values, strict=True)
        }
        ours = np.array([sum(weights.get(i, 0.0) * v for i, v in as_dict(d).items()) for d in docs])
        # bm25s (Lucene's BM25) leaves out the constant factor k + 1 of the tf part.
        theirs = retriever.get_scores(sorted(set(analyzer.query_tokens(query)))) * 2.2
        assert ours.max() > 0, query
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
        assert list(np.argsort(-ours, kind="stable")[:10]) == list(
            np.argsort(-theirs, kind="stable")[:10]
        )


# --------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_encodes_deterministically(text: str) -> None:
    encoder = BM25()
    doc = encoder.embed_documents([text])[0]
    assert doc == BM25().embed_documents([text])[0]
    assert doc.indices == sorted(set(doc.indices)) and len(doc.indices) == len(doc.values)
    assert all(0 <= i < 2**32 for i in doc.indices)
    assert all(v > 0 and float(np.float32(v)) == v for v in doc.values)
    query = encoder.embed_query(text)
    assert query.indices == sorted(set(query.indices)) and set(query.values) <= {1.0}
    assert set(query.indices) == set(doc.indices)
    assert as_dict(doc) == ref_document(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.sampled_from(["word", "whitespace", "prefix"]))
def test_tokenizers_never_fail(text: str, tokenizer: str) -> None:
    params = shoal.text.AnalyzerParams(tokenizer=tokenizer, min_token_len=2, max_token_len=6)
    analyzer = Analyzer(params)
    doc = analyzer.document_tokens(text)
    assert doc == Analyzer(params).document_tokens(text)
    assert all(isinstance(t, str) and t for t in doc)
    query = analyzer.query_tokens(text)
    if tokenizer != "prefix":
        assert query == doc
        assert all(2 <= len(t) <= 6 for t in doc)
    else:
        assert all(2 <= len(t) <= 6 for t in doc + query)


def test_whitespace_tokenizer_splits_where_rust_does() -> None:
    analyzer = Analyzer(shoal.text.AnalyzerParams(tokenizer="whitespace"))
    # U+001C is whitespace to Python's str.split, not to Rust's split_whitespace.
    assert analyzer.document_tokens("a\x1cb c\u00a0d\u3000E") == ["a\x1cb", "c", "d", "e"]


def test_prefix_tokenizer_as_qdrant() -> None:
    # tokenizers/mod.rs test_prefix_tokenizer / test_prefix_query_tokenizer.
    doc = Analyzer(shoal.text.AnalyzerParams(tokenizer="prefix", min_token_len=1, max_token_len=4))
    assert doc.document_tokens("hello, мир!") == ["h", "he", "hel", "hell", "м", "ми", "мир"]
    query = Analyzer(shoal.text.AnalyzerParams(tokenizer="prefix", max_token_len=4))
    assert query.query_tokens("hello, мир!") == ["hell", "мир"]


def test_word_tokenizer_keeps_marks_inside_words() -> None:
    # Devanagari vowel signs are Alphabetic (Rust keeps the word whole) though not
    # str.isalnum; the virama is neither, so Rust splits at it too.
    analyzer = Analyzer(shoal.text.AnalyzerParams())
    assert analyzer.document_tokens("भाषा हिन्दी") == ["भाषा", "हिन", "दी"]
    assert not "भाषा".isalnum()
