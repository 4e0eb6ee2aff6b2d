"""Document ids: any string a LangChain user gives maps to one Shoal point id.

Shoal point ids are unsigned integers or UUIDs; LangChain ids are arbitrary strings
("1", "doc_42", a URL). A string that is a UUID is its own point id; any other string maps
to a UUID derived from it (uuid5 under a fixed namespace), so the same string always names
the same point, in every process and every version. The original string is stored in the
payload and handed back as ``Document.id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from langchain_core.documents import Document

#: Namespace of the uuid5 mapping. Fixed forever: changing it would orphan every stored
#: point whose id is not a UUID.
ID_NAMESPACE = uuid.UUID("4f1f6d9e-3b0c-5a57-9a8e-5c2b7d0e6a11")


def point_id(doc_id: str) -> str:
    """The point id that stores the document ``doc_id``.

    Args:
        doc_id: any string.

    Returns:
        ``doc_id`` in canonical form if it is a UUID (hyphenated or not, any case),
        otherwise ``uuid5(ID_NAMESPACE, doc_id)``; always a lowercase hyphenated UUID.
    """
    try:
        parsed = uuid.UUID(doc_id)
    except ValueError:
        return str(uuid.uuid5(ID_NAMESPACE, doc_id))
    # uuid.UUID also accepts "{...}" and "urn:uuid:..." forms; those are still one point.
    return str(parsed)


def new_id() -> str:
    """A fresh random id (UUID4 string) for a document that has none."""
    return str(uuid.uuid4())


def resolve_ids(
    count: int, ids: Sequence[str | None] | None, documents: Sequence[Document] | None = None
) -> list[str]:
    """Choose each document's id: the ``ids`` argument, then ``Document.id``, then a new one.

    Args:
        count: number of documents.
        ids: ids given by the caller (entries may be None), or None.
        documents: the documents, whose ``id`` is used where ``ids`` gives none.

    Returns:
        ``count`` id strings; non-string ids (ints) are turned into strings.

    Raises:
        ValueError: ``ids`` or ``documents`` has a length other than ``count``.
    """
    if ids is not None and len(ids) != count:
        raise ValueError(f"got {len(ids)} ids for {count} texts; give one id per text")
    if documents is not None and len(documents) != count:
        raise ValueError(f"got {len(documents)} documents for {count} texts")
    out: list[str] = []
    for i in range(count):
        chosen: object = ids[i] if ids is not None else None
        if chosen is None and documents is not None:
            chosen = documents[i].id
        # An empty string is no id at all, as in LangChain's own stores.
        out.append(new_id() if chosen is None or chosen == "" else str(chosen))
    return out
