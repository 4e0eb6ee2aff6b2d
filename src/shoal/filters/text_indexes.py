"""Attach a collection's text payload indexes to the full-text leaves of a filter tree.

A full-text condition matches differently on a key with a text index (its tokenizer, stop
words and stemmer; a point's strings pooled; see ``shoal.filters.text``), so the engine
calls ``attach_text_indexes`` with its ``text`` indexes before compiling a filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from shoal.filters import tree as t
from shoal.filters.text import TextIndex


def attach_text_indexes(node: t.Node, indexes: Mapping[str, TextIndex]) -> t.Node:
    """The tree with each full-text leaf carrying the text index of its key, if any.

    Args:
        node: a filter tree.
        indexes: text index settings by payload key (``"a.b"``, ``"items[].name"``).

    Returns:
        The same tree object when nothing changes, else a new tree.
    """
    if not indexes:
        return node

    def attach(leaf: t.Node, prefix: t.Path) -> t.Node:
        if not isinstance(leaf, t.FullText):
            return leaf
        index = indexes.get(t.format_key(prefix + leaf.path))
        return leaf if index == leaf.index else replace(leaf, index=index)

    return t.map_leaves(node, attach)
