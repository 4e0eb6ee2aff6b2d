"""Limits on the work one request may cause: the one place the engine keeps them.

``filter_max_conditions`` and ``condition_max_size`` are Qdrant's strict-mode settings of the
same names and meaning (``shoal.filters.size`` counts as Qdrant counts). Qdrant leaves them
unset unless a collection enables strict mode; Shoal always applies them, with defaults far
above what an application writes by hand or generates (a filter of a few dozen conditions,
an ``in`` list of a few thousand ids) and far below what makes one request expensive: each
condition costs ~1 µs per point a filter is tested on, so 100,000 of them made a single
query over 1,000 points run for over a minute. Nesting is bounded too (``MAX_DEPTH``, the
expression parser's limit), before Python's recursion limit could be reached.

The defaults can be changed for a process with environment variables (read when a
``Database`` is created), for ``shoal serve`` with its options, and for a ``Database`` made
directly with its ``limits`` argument.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from shoal import models as m
from shoal.errors import FilterTooLarge, InvalidConfig, InvalidFilter
from shoal.filters.expression import MAX_DEPTH
from shoal.filters.size import FilterSize, expression_size, measure_filter

DEFAULT_FILTER_MAX_CONDITIONS = 1_000
DEFAULT_CONDITION_MAX_SIZE = 100_000
FILTER_MAX_CONDITIONS_ENV = "SHOAL_FILTER_MAX_CONDITIONS"
# Qdrant's advice, word for word, in its strict-mode errors.
_FEWER = "Reduce the amount of conditions of your filter."
_SMALLER = "Reduce the size of your condition."
CONDITION_MAX_SIZE_ENV = "SHOAL_CONDITION_MAX_SIZE"


@dataclass(frozen=True)
class Limits:
    """Limits on one request's filter.

    Args:
        filter_max_conditions: most conditions a filter may have (all levels together).
        condition_max_size: most values one condition may hold (``MatchAny``, ``in``).

    Raises:
        InvalidConfig: a limit below 1.
    """

    filter_max_conditions: int = DEFAULT_FILTER_MAX_CONDITIONS
    condition_max_size: int = DEFAULT_CONDITION_MAX_SIZE

    def __post_init__(self) -> None:
        for name in ("filter_max_conditions", "condition_max_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidConfig(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, overridden by ``SHOAL_FILTER_MAX_CONDITIONS`` and
        ``SHOAL_CONDITION_MAX_SIZE`` where set.

        Raises:
            InvalidConfig: a variable that is not a positive integer.
        """
        values: dict[str, int] = {}
        for name, env in (
            ("filter_max_conditions", FILTER_MAX_CONDITIONS_ENV),
            ("condition_max_size", CONDITION_MAX_SIZE_ENV),
        ):
            raw = os.environ.get(env)
            if raw:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise InvalidConfig(f"${env} must be a positive integer, got {raw!r}") from None
        return cls(**values)

    def check(self, size: FilterSize) -> None:
        """Refuse a filter over the limits.

        Raises:
            FilterTooLarge: too many conditions, or a condition with too many values; the
                message names the limit and both numbers.
            InvalidFilter: nested deeper than ``MAX_DEPTH`` levels.
        """
        for limit, value, maximum, advice in (
            ("filter_max_conditions", size.conditions, self.filter_max_conditions, _FEWER),
            ("condition_max_size", size.largest, self.condition_max_size, _SMALLER),
        ):
            if value > maximum:
                raise FilterTooLarge(limit, value, maximum, advice)
        if size.depth > MAX_DEPTH:
            raise InvalidFilter(f"filter nested {size.depth} levels deep; at most {MAX_DEPTH}")

    def check_filter(self, flt: m.Filter | str | dict[str, Any]) -> None:
        """``check`` a filter: structured, its JSON before validation, or an expression.

        Raises:
            FilterTooLarge, InvalidFilter: as ``check``; InvalidFilter also for a malformed
                expression.
        """
        size = expression_size(flt) if isinstance(flt, str) else measure_filter(flt)
        self.check(size)


__all__ = [
    "CONDITION_MAX_SIZE_ENV",
    "DEFAULT_CONDITION_MAX_SIZE",
    "DEFAULT_FILTER_MAX_CONDITIONS",
    "FILTER_MAX_CONDITIONS_ENV",
    "Limits",
]
