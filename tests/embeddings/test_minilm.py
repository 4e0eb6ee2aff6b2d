"""Tests of the default offline embedding, shoal.embeddings.MiniLM."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from itertools import cycle, islice
from pathlib import Path

import numpy as np
import pytest

import shoal.embeddings.minilm as minilm_module
from shoal.embeddings import MiniLM
from shoal.embeddings.minilm import MODEL_SHA256, default_model_path, verify_sha256
from shoal.errors import EmbeddingError

# Lengths differ a lot so the short texts are mostly padding when batched with the long one.
TEXTS = [
    "A man is playing a guitar.",
    "Hi",
    "",
    "The committee postponed its decision on the new budget until the next quarterly "
    "meeting, citing incomplete revenue forecasts and an unresolved dispute over how much "
    "should go to road maintenance versus public transport in the northern districts.",
    "Ünïcödé and emoji 🙂 survive tokenisation.",
]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    # One session for the whole module: loading costs ~0.4 s.
    m = MiniLM()
    m.embed_query("warm up")
    return m


def _words(vocab: list[str], n: int) -> list[str]:
    # Every word in these vocabularies is one WordPiece token, so n words are n tokens.
    return list(islice(cycle(vocab), n))


def test_paraphrases_score_clearly_higher_than_unrelated(model: MiniLM) -> None:
    def cos(a: str, b: str) -> float:
        va, vb = model.embed_array([a, b])
        return float(va @ vb)

    # Measured: 0.846 / -0.050 and 0.823 / -0.041.
    guitar = cos("A man is playing a guitar.", "Someone plays a guitar.")
    market = cos("A man is playing a guitar.", "The stock market fell sharply today.")
    onion = cos("A woman is slicing an onion.", "Someone is cutting an onion.")
    train = cos("A woman is slicing an onion.", "The train leaves at noon.")
    assert guitar > 0.7 and onion > 0.7
    assert market < 0.2 and train < 0.2
    assert guitar > market + 0.5
    assert onion > train + 0.5


def test_shape_norm_dtype_and_determinism(model: MiniLM) -> None:
    arr = model.embed_array(TEXTS)
    assert arr.shape == (len(TEXTS), 384)
    assert arr.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(model.embed_array(TEXTS), arr, atol=1e-6)
    assert model.dim == model.dimension == 384
    assert MiniLM.query_equals_document is True


def test_padding_and_batching_do_not_change_vectors(
    model: MiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = model.embed_array(TEXTS)
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(model.embed_array([text])[0], together[i], atol=1e-5)
    # Chunks of 2 split the list across several onnxruntime calls of different padding.
    monkeypatch.setattr(model, "batch_size", 2)
    np.testing.assert_allclose(model.embed_array(TEXTS), together, atol=1e-5)


def test_list_api_matches_array_and_query_equals_document(model: MiniLM) -> None:
    docs = model.embed_documents(TEXTS)
    assert isinstance(docs, list) and all(isinstance(x, float) for x in docs[0])
    np.testing.assert_allclose(np.array(docs), model.embed_array(TEXTS), atol=1e-6)
    np.testing.assert_allclose(model.embed_query(TEXTS[0]), docs[0], atol=1e-5)


def test_empty_input(model: MiniLM) -> None:
    assert model.embed_documents([]) == []
    assert model.embed_array([]).shape == (0, 384)


def test_bad_input_types(model: MiniLM) -> None:
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        model.embed_documents(["fine", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        model.embed_documents("not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected str"):
        model.embed_query(b"bytes")  # type: ignore[arg-type]


async def test_async_twins_match_sync_and_run_off_the_loop(
    model: MiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = model.embed_array

    def spy(texts: list[str]) -> minilm_module.Float32Array:
        seen.append(threading.get_ident())
        return original(texts)

    monkeypatch.setattr(model, "embed_array", spy)
    docs = await model.aembed_documents(TEXTS)
    query = await model.aembed_query(TEXTS[0])
    assert len(seen) == 2
    assert loop_thread not in seen
    np.testing.assert_allclose(docs, model.embed_documents(TEXTS), atol=1e-6)
    np.testing.assert_allclose(query, model.embed_query(TEXTS[0]), atol=1e-6)
    assert await model.aembed_documents([]) == []
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType"):
        await model.aembed_documents([None])  # type: ignore[list-item]


def test_long_text_is_truncated_at_256_tokens(model: MiniLM) -> None:
    head = ["cat", "dog", "house", "tree", "river", "apple"]
    tail = ["green", "blue", "moon", "sun", "bird", "stone"]
    long_text = " ".join(_words(head, 1000))
    same_first_300 = " ".join(_words(head, 300) + _words(tail, 700))
    same_first_200 = " ".join(_words(head, 200) + _words(tail, 800))
    full, cut300, cut200 = model.embed_array([long_text, same_first_300, same_first_200])
    assert full.shape == (384,)
    # Words past token 256 are never seen...
    np.testing.assert_allclose(cut300, full, atol=1e-5)
    # ...but the window is wider than the 128 the upstream tokenizer.json asks for.
    assert float(cut200 @ full) < 0.999


def test_concurrent_first_use_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    real_build = minilm_module._build_session

    def counting_build(path: Path) -> object:
        calls.append(path)
        return real_build(path)

    monkeypatch.setattr(minilm_module, "_build_session", counting_build)
    fresh = MiniLM()
    barrier = threading.Barrier(4)
    results: list[list[float]] = []

    def worker() -> None:
        barrier.wait()
        results.append(fresh.embed_query("same text from every thread"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 4
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)


def test_installed_model_matches_pinned_hash() -> None:
    verify_sha256(default_model_path(), MODEL_SHA256)


def test_sha256_mismatch_raises(tmp_path: Path) -> None:
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not an onnx model")
    actual = hashlib.sha256(b"not an onnx model").hexdigest()
    verify_sha256(fake, actual)
    with pytest.raises(EmbeddingError) as info:
        verify_sha256(fake, MODEL_SHA256)
    assert MODEL_SHA256 in str(info.value) and actual in str(info.value)
    # The same check guards loading, before onnxruntime ever parses the file.
    with pytest.raises(EmbeddingError, match=actual):
        MiniLM(model_path=fake).embed_query("x")
    with pytest.raises(EmbeddingError, match="cannot read"):
        verify_sha256(tmp_path / "missing.onnx", MODEL_SHA256)


_OFFLINE_PROBE = """
import socket

def _refuse(*args, **kwargs):
    raise OSError("network access attempted during offline embedding")

socket.socket.__init__ = _refuse
socket.socket.connect = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse

from shoal.embeddings import MiniLM

vec = MiniLM().embed_query("offline embedding works")
assert len(vec) == 384, len(vec)
print("ok")
"""


def test_embeds_offline_without_writing_to_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    probe = tmp_path / "probe.py"
    probe.write_text(_OFFLINE_PROBE)
    src_dir = Path(minilm_module.__file__).resolve().parents[2]
    env = dict(os.environ)
    env["HOME"] = str(home)
    # Let the module under test be the only thing that disables onnxruntime's telemetry,
    # and make onnxruntime fall back to $HOME/.cache for its device id.
    for var in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME"):
        env.pop(var, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(probe)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    # onnxruntime keeps its telemetry device id here when telemetry is on; its uploader
    # is native code the socket patch above cannot see, so this folder is the witness.
    assert not (home / ".cache" / "Microsoft").exists()
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
