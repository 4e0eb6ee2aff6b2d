"""Argument checks shared by the embedding classes."""

from __future__ import annotations

from collections.abc import Sequence


def check_texts(texts: Sequence[str]) -> list[str]:
    """A copy of ``texts`` as a list, after checking that every item is a str.

    Args:
        texts: the texts to embed.

    Returns:
        The texts, in a new list (a caller mutating its own list later changes nothing).

    Raises:
        TypeError: ``texts`` is a single str or bytes, or an item is not a str (names its
            index).
    """
    if isinstance(texts, (str, bytes)):
        # A bare string is a Sequence[str] too and would be embedded one character apiece.
        raise TypeError(f"texts must be a sequence of str, not a single {type(texts).__name__}")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    return out
