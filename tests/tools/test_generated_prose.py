"""No generated file's prose names the wrong twin or calls itself its own source.

Docstrings and comments of every generated file are searched for the async names (classes,
``a``-methods, ``await``/``async``/``asyncio``) and for self-referential sentences; the
DO-NOT-EDIT header, which names the source on purpose, is left out.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest
from gen_sync_support import ROOT, load_gen_sync

gen_sync = load_gen_sync()
CONFIG = gen_sync.Config(ROOT)
OUTPUTS = sorted(
    gen_sync.output_path(source)
    for folder in CONFIG.folders
    for source in (ROOT / folder.path).glob("*.py")
)
ASYNC_WORDS = [
    r"\bAsync[A-Z]\w*",
    r"\bawait\b",
    r"\basync\b",
    r"\basyncio\b",
    r"\bcoroutines?\b",
    r"\bevent loop\b",
    r"\baembed_\w+",
    r"\b_async\b",
    *(rf"\b{name}\b" for name in gen_sync.NAMES),
    *(rf"\b{name}\b" for name in sorted(gen_sync.a_methods(CONFIG))),
]
SELF_REFERENCES = [
    r"``(\w+)``[^.]*\bgenerated from\b[^.]*(this file|``\1``)",
    r"`(\w+)` is generated from `\1`",
    r"\b(\w+) is generated from (this file|\1)\b",
    r"\bthe one hand-written\b",
]


def prose_problems(text: str) -> list[str]:
    """The forbidden patterns ``text`` matches."""
    return [p for p in (*ASYNC_WORDS, *SELF_REFERENCES) if re.search(p, text, re.IGNORECASE)]


def prose(path: Path) -> list[str]:
    """Docstrings and comments of ``path``, without its two header lines."""
    source = path.read_text()
    assert source.startswith(gen_sync.HEADER_MARK)
    tree = ast.parse(source)
    found = [
        doc
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (doc := ast.get_docstring(node, clean=False))
    ]
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and token.start[0] > 2:
            found.append(token.string)
    return found


def test_every_generated_file_is_checked() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in OUTPUTS}
    assert "src/shoal/client/_sync/client.py" in names
    assert "src/shoal/integrations/langchain/_sync/store.py" in names
    assert "tests/integrations/_sync/test_langchain_store_sync.py" in names


@pytest.mark.parametrize("path", OUTPUTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_generated_prose_names_the_right_twin(path: Path) -> None:
    texts = prose(path)
    assert texts, "no prose found: the search is broken"
    wrong = {text: problems for text in texts if (problems := prose_problems(text))}
    assert wrong == {}


@pytest.mark.parametrize(
    "text",
    [
        "``Client``: the one hand-written client. ``Client`` is generated from this file.",
        "Client sources; `_sync` is generated from `_sync` by tools/gen_sync.py.",
        "Concurrent callers share calls of aembed_documents.",
        "Example: ``await store.aadd_texts(texts)``.",
        "Made by AsyncStoreIO's twin.",
        "# not here (a sync client's constructor runs on the event loop).",
    ],
)
def test_the_search_finds_wrong_prose(text: str) -> None:
    assert prose_problems(text)


def test_the_search_passes_right_prose() -> None:
    assert prose_problems("The sync Shoal client, ``Client``: ``client.upsert(...)``.") == []
