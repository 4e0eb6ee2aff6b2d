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
    return _attach(node, indexes, ())


def _attach(node: t.Node, indexes: Mapping[str, TextIndex], prefix: t.Path) -> t.Node:
    if isinstance(node, t.FullText):
        index = indexes.get(t.format_key(prefix + node.path))
        return node if index == node.index else replace(node, index=index)
    if isinstance(node, (t.And, t.Or, t.MinShould)):
        items = tuple(_attach(item, indexes, prefix) for item in node.items)
        if all(a is b for a, b in zip(items, node.items, strict=True)):
            return node
        return replace(node, items=items)
    if isinstance(node, t.Not):
        item = _attach(node.item, indexes, prefix)
        return node if item is node.item else t.Not(item)
    if isinstance(node, t.NestedMatch):
        # Inside `nested`, keys are relative to the objects of the array at its key.
        inner = node.path if node.path[-1:] == (t.FLATTEN,) else (*node.path, t.FLATTEN)
        item = _attach(node.item, indexes, prefix + inner)
        return node if item is node.item else replace(node, item=item)
    return node
