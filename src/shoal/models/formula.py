"""The expressions of a ``FormulaQuery`` (Qdrant's ``Expression``), re-exported by
``shoal.models``; ``shoal.filters.formula`` compiles them."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, Discriminator, StrictFloat, StrictStr, Tag

from shoal.models._base import _Model
from shoal.models.filters import (
    FieldCondition,
    Filter,
    GeoPoint,
    HasIdCondition,
    HasVectorCondition,
    IsEmptyCondition,
    IsNullCondition,
    NestedCondition,
)

__all__ = [
    "AbsExpression",
    "AcoshExpression",
    "DatetimeExpression",
    "DatetimeKeyExpression",
    "DecayParamsExpression",
    "DivExpression",
    "DivParams",
    "ExpDecayExpression",
    "ExpExpression",
    "Expression",
    "GaussDecayExpression",
    "GeoDistance",
    "GeoDistanceParams",
    "LinDecayExpression",
    "LnExpression",
    "Log10Expression",
    "MaxExpression",
    "MinExpression",
    "MultExpression",
    "NegExpression",
    "PowExpression",
    "PowParams",
    "SqrtExpression",
    "SumExpression",
]


# ---------------------------------------------------------------------------- formulas

# The expressions of a FormulaQuery (Qdrant's ``Expression``). A JSON object is told by its
# key; shoal.filters.formula compiles them. Max, min and acosh are qdrant-client 1.20's.


class GeoDistanceParams(_Model):
    origin: GeoPoint
    to: str


class GeoDistance(_Model):
    geo_distance: GeoDistanceParams


class DatetimeExpression(_Model):
    datetime: str


class DatetimeKeyExpression(_Model):
    datetime_key: str


class MultExpression(_Model):
    mult: list[Expression]


class SumExpression(_Model):
    sum: list[Expression]


class MaxExpression(_Model):
    max: list[Expression]


class MinExpression(_Model):
    min: list[Expression]


class NegExpression(_Model):
    neg: Expression


class AbsExpression(_Model):
    abs: Expression


class DivParams(_Model):
    left: Expression
    right: Expression
    by_zero_default: StrictFloat | None = None


class DivExpression(_Model):
    div: DivParams


class SqrtExpression(_Model):
    sqrt: Expression


class PowParams(_Model):
    base: Expression
    exponent: Expression


class PowExpression(_Model):
    pow: PowParams


class ExpExpression(_Model):
    exp: Expression


class Log10Expression(_Model):
    log10: Expression


class LnExpression(_Model):
    ln: Expression


class AcoshExpression(_Model):
    acosh: Expression


class DecayParamsExpression(_Model):
    x: Expression
    target: Expression | None = None
    scale: StrictFloat | None = None
    midpoint: StrictFloat | None = None


class LinDecayExpression(_Model):
    lin_decay: DecayParamsExpression


class ExpDecayExpression(_Model):
    exp_decay: DecayParamsExpression


class GaussDecayExpression(_Model):
    gauss_decay: DecayParamsExpression


# Each expression model has one field, named by its key in JSON.
_EXPRESSION_MODELS: tuple[type[_Model], ...] = (
    GeoDistance, DatetimeExpression, DatetimeKeyExpression, MultExpression, SumExpression,
    MaxExpression, MinExpression, NegExpression, AbsExpression, DivExpression, SqrtExpression,
    PowExpression, ExpExpression, Log10Expression, LnExpression, AcoshExpression,
    LinDecayExpression, ExpDecayExpression, GaussDecayExpression,
)  # fmt: skip
_EXPRESSION_KEYS: dict[type[BaseModel], str] = {
    model: next(iter(model.model_fields)) for model in _EXPRESSION_MODELS
}
# A JSON condition has one of these keys, or only a filter's keys ({} is the empty filter).
_CONDITION_KEYS = frozenset({"key", "has_id", "nested", "is_empty", "is_null", "has_vector"})
_FILTER_KEYS = frozenset({"must", "should", "must_not", "min_should"})


def _expression_kind(value: Any) -> str | None:
    # Chosen by type and key, so that an error points into the expression that was meant.
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return "constant"
    if isinstance(value, str):
        return "variable"
    if isinstance(value, dict):
        kind = next((k for k in value if k in _EXPRESSION_KEYS.values()), None)
        if kind is None and (_CONDITION_KEYS.intersection(value) or set(value) <= _FILTER_KEYS):
            kind = "condition"
        return kind
    if isinstance(value, BaseModel):
        return _EXPRESSION_KEYS.get(type(value), "condition")
    return None


# ``Condition`` with its forward reference to ``Filter`` resolved: a TypeAdapter made in
# another module resolves names there, where ``Filter`` is not defined.
_ResolvedCondition = Union[
    FieldCondition,
    IsEmptyCondition,
    IsNullCondition,
    HasIdCondition,
    HasVectorCondition,
    NestedCondition,
    Filter,
]

Expression = Annotated[
    Union[
        Annotated[StrictFloat, Tag("constant")],
        Annotated[StrictStr, Tag("variable")],
        Annotated[_ResolvedCondition, Tag("condition")],
        Annotated[GeoDistance, Tag("geo_distance")],
        Annotated[DatetimeExpression, Tag("datetime")],
        Annotated[DatetimeKeyExpression, Tag("datetime_key")],
        Annotated[MultExpression, Tag("mult")],
        Annotated[SumExpression, Tag("sum")],
        Annotated[MaxExpression, Tag("max")],
        Annotated[MinExpression, Tag("min")],
        Annotated[NegExpression, Tag("neg")],
        Annotated[AbsExpression, Tag("abs")],
        Annotated[DivExpression, Tag("div")],
        Annotated[SqrtExpression, Tag("sqrt")],
        Annotated[PowExpression, Tag("pow")],
        Annotated[ExpExpression, Tag("exp")],
        Annotated[Log10Expression, Tag("log10")],
        Annotated[LnExpression, Tag("ln")],
        Annotated[AcoshExpression, Tag("acosh")],
        Annotated[LinDecayExpression, Tag("lin_decay")],
        Annotated[ExpDecayExpression, Tag("exp_decay")],
        Annotated[GaussDecayExpression, Tag("gauss_decay")],
    ],
    Discriminator(
        _expression_kind,
        custom_error_type="expression_kind",
        custom_error_message="expected a number, a variable name ('$score', '$score[1]' or a "
        "payload key), a condition, or an expression object such as {'mult': [...]}",
    ),
]

_RECURSIVE: tuple[type[_Model], ...] = (DivParams, PowParams, DecayParamsExpression)
for _expression_model in _EXPRESSION_MODELS + _RECURSIVE:
    _expression_model.model_rebuild()
