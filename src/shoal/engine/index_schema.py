"""A payload index's declaration: its type and the parameters it was created with.

``create_payload_index`` takes Qdrant's ``field_schema`` (a type name, or an
``*IndexParams`` object); ``IndexSchema.parse`` refuses what Shoal does not honour
(``shoal.engine.support``) and, for a ``text`` index, reads the settings that decide
full-text matching (``shoal.filters.text``). The declaration is what the store keeps
(its ``payload_indexes`` meta: a type name, or the parameters object; stores written
before parameters were kept hold names only) and what ``get_collection`` reports: as
Qdrant's server does, ``params`` is the parameters object when one was given (a text
index's ``tokenizer`` always shown, ``word`` by default), None for a bare type name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, Union

from shoal import models as m
from shoal.engine.support import field_index_type, schema_type
from shoal.errors import ShoalError
from shoal.filters.text import TextIndex, text_index_params
from shoal.payloads import json_copy

#: What a stored declaration may be: a type name or a parameters object.
Stored: TypeAlias = Union[str, dict[str, Any]]


@dataclass(frozen=True)
class IndexSchema:
    """A payload index as declared.

    Attributes:
        type: the index type.
        params: Qdrant's ``*IndexParams`` as given (null fields left out), or None when
            the index was declared by its type name.
        text: for a ``text`` index, its matching settings (defaults for a bare ``text``).
    """

    type: m.PayloadSchemaType
    params: Mapping[str, Any] | None = None
    text: TextIndex | None = None

    @classmethod
    def parse(
        cls, field_schema: m.PayloadSchemaType | str | Mapping[str, Any] | None
    ) -> IndexSchema:
        """Read a ``field_schema`` as ``create_payload_index`` receives it.

        Args:
            field_schema: a type (or its name), an ``*IndexParams`` object, or None
                (keyword).

        Returns:
            The declaration.

        Raises:
            InvalidConfig: an unknown type, field or value.
            NotSupported: naming the first parameter Shoal does not honour.
        """
        if isinstance(field_schema, str):
            field_schema = schema_type(field_schema)
        kind = field_index_type(field_schema)
        if not isinstance(field_schema, Mapping):
            return cls.of_type(kind)
        params = {str(k): json_copy(v) for k, v in field_schema.items() if v is not None}
        if kind is not m.PayloadSchemaType.TEXT:
            return cls(kind, params)
        try:
            text = text_index_params(params)
        except ShoalError as exc:  # name where the bad value is, as support's refusals do
            raise type(exc)(f"Wrong input: field_schema: {exc.message}") from None
        return cls(kind, {"type": "text", "tokenizer": "word", **params}, text)

    @classmethod
    def of_type(cls, kind: m.PayloadSchemaType | str) -> IndexSchema:
        """An index declared by its type name alone (a text index gets default settings).

        Raises:
            ValueError: an unknown type name.
        """
        kind = m.PayloadSchemaType(kind)
        return cls(kind, None, TextIndex() if kind is m.PayloadSchemaType.TEXT else None)

    @classmethod
    def load(cls, stored: Stored) -> IndexSchema:
        """A declaration as the store keeps it (see ``stored``).

        Raises:
            InvalidConfig, NotSupported: a parameters object this version cannot honour.
            ValueError: an unknown type name.
        """
        return cls.of_type(stored) if isinstance(stored, str) else cls.parse(stored)

    def stored(self) -> Stored:
        """The JSON the store keeps for this declaration."""
        return self.type.value if self.params is None else dict(self.params)

    def info(self, points: int) -> m.PayloadIndexInfo:
        """``get_collection``'s entry for this index.

        Args:
            points: the points with a value the index holds.

        Returns:
            The entry.
        """
        params = None if self.params is None else json_copy(dict(self.params))
        return m.PayloadIndexInfo(data_type=self.type, params=params, points=points)


def text_indexes(schemas: Mapping[str, IndexSchema]) -> dict[str, TextIndex]:
    """The text index settings among a collection's payload indexes, by payload key."""
    return {key: s.text for key, s in schemas.items() if s.text is not None}
