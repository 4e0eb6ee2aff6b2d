"""The arithmetic of Qdrant's score formulas: 64-bit floats, with Qdrant's rules for numbers
that are not finite and its messages.

Qdrant (``lib/segment/src/index/query_optimization/rescore_formula/formula_scorer.rs``)
computes in ``f64``; ``div``, ``sqrt``, ``pow``, ``exp``, ``log10`` and ``ln`` fail the whole
request when their result is not finite ("The expression 1/0 = inf produced a non-finite
number"), and the final score is cast to ``f32`` and fails the same way if that is not
finite. Request numbers (constants, ``by_zero_default``, a decay's ``scale`` and
``midpoint``) are ``f32`` in Qdrant's REST schema, so they are rounded to ``f32`` first.
Python's math functions raise where Rust's return an infinity or NaN; the helpers here turn
that back into Rust's answer, so every check sees what Qdrant's sees.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal

from shoal.errors import InvalidQuery

_F32 = struct.Struct("<f")
_F32_MAX = 3.4028234663852886e38


def rust_float(x: float) -> str:
    """``x`` as Rust's ``{}`` prints an ``f64``: shortest digits, never an exponent, no
    ``.0`` on whole numbers, ``inf`` and ``NaN``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def non_finite(expression: str) -> InvalidQuery:
    """Qdrant's error for an expression whose value is not finite."""
    return InvalidQuery(f"The expression {expression} produced a non-finite number")


def to_f32(x: float) -> float:
    """``x as f32`` (back as a Python float): round to nearest; too large is an infinity."""
    try:
        return float(_F32.unpack(_F32.pack(x))[0])
    except OverflowError:
        return math.copysign(math.inf, x)


def final_score(score: float) -> float:
    """The score a formula returns: its ``f32`` value.

    Raises:
        InvalidQuery: that value is not finite.
    """
    as_f32 = to_f32(score)
    if not math.isfinite(as_f32):
        raise non_finite(f"{rust_float(score)} as f32 = {rust_float(as_f32)}")
    return as_f32


def _finite(value: float, expression: str) -> float:
    if math.isfinite(value):
        return value
    raise non_finite(f"{expression} = {rust_float(value)}")


def divide(left: float, right: float, by_zero_default: float | None) -> float:
    """``div``: 0 when ``left`` is 0 (``right`` unused), ``by_zero_default`` when ``right``
    is 0 and one is given.

    Raises:
        InvalidQuery: the quotient is not finite.
    """
    if right == 0.0:
        if by_zero_default is not None:
            return by_zero_default
        quotient = math.nan if math.isnan(left) else math.copysign(math.inf, left)
        quotient *= math.copysign(1.0, right)
    else:
        quotient = left / right
    return _finite(quotient, f"{rust_float(left)}/{rust_float(right)}")


def sqrt(value: float) -> float:
    """``sqrt``.

    Raises:
        InvalidQuery: a negative, infinite or NaN operand.
    """
    root = math.sqrt(value) if value >= 0.0 else math.nan
    return _finite(root, f"√{rust_float(value)}")


def power(base: float, exponent: float) -> float:
    """``pow`` (Rust's ``powf``).

    Raises:
        InvalidQuery: the power is not finite (a negative base with a fractional exponent,
            0 to a negative power, an overflow).
    """
    try:
        result = math.pow(base, exponent)
    except OverflowError:
        result = math.inf
    except ValueError:  # Rust gives inf for 0 to a negative power, NaN otherwise
        result = math.inf if base == 0.0 else math.nan
    return _finite(result, f"{rust_float(base)}^{rust_float(exponent)}")


def exp(value: float) -> float:
    """``exp``.

    Raises:
        InvalidQuery: the result overflows (or the operand is NaN).
    """
    try:
        result = math.exp(value)
    except OverflowError:
        result = math.inf
    return _finite(result, f"exp({rust_float(value)})")


def _log(value: float, log: str) -> float:
    if value > 0.0:
        result = math.log10(value) if log == "log10" else math.log(value)
    else:
        result = -math.inf if value == 0.0 else math.nan
    return _finite(result, f"{log}({rust_float(value)})")


def log10(value: float) -> float:
    """``log10``.

    Raises:
        InvalidQuery: a zero, negative, infinite or NaN operand.
    """
    return _log(value, "log10")


def ln(value: float) -> float:
    """``ln``.

    Raises:
        InvalidQuery: a zero, negative, infinite or NaN operand.
    """
    return _log(value, "ln")


def acosh(value: float) -> float:
    """``acosh`` (qdrant-client 1.20's expression).

    Raises:
        InvalidQuery: an operand below 1, infinite or NaN.
    """
    result = math.acosh(value) if value >= 1.0 else math.nan
    return _finite(result, f"acosh({rust_float(value)})")


def decay_lambda(kind: str, midpoint: float | None, scale: float | None) -> float:
    """The constant of a decay (``ParsedExpression::decay_params_to_lambda``).

    Args:
        kind: ``lin``, ``exp`` or ``gauss``.
        midpoint: the value at ``|x - target| == scale`` (default 0.5), as given.
        scale: default 1.0, as given.

    Returns:
        lambda.

    Raises:
        InvalidQuery: a midpoint outside [0, 1] (``lin``) or (0, 1), or a scale that is not
            positive.
    """
    mid = to_f32(0.5 if midpoint is None else midpoint)
    sc = to_f32(1.0 if scale is None else scale)
    if kind == "lin":
        if not 0.0 <= mid <= 1.0:
            raise InvalidQuery(
                f"Linear decay midpoint should be in the range [0.0, 1.0], got {rust_float(mid)}."
            )
    elif not 0.0 < mid < 1.0:
        raise InvalidQuery(
            f"Decay midpoint should be in the range (0.0, 1.0), got {rust_float(mid)}."
        )
    if not sc > 0.0:
        raise InvalidQuery(f"Decay scale should be non-zero positive, got {rust_float(sc)}.")
    if kind == "lin":
        return (1.0 - mid) / sc
    if kind == "exp":
        return math.log(mid) / sc
    return math.log(mid) / (sc * sc)


def decay(kind: str, x: float, target: float, lam: float) -> float:
    """A decay's value for ``x`` (``exp_decay``, ``gauss_decay``, ``linear_decay`` in
    Qdrant's scorer)."""
    if kind == "lin":
        value = -lam * abs(x - target) + 1.0
        return value if value > 0.0 else 0.0  # f64::max(0.0) also maps NaN to 0
    diff = abs(x - target) if kind == "exp" else x - target
    exponent = lam * diff if kind == "exp" else lam * diff * diff
    try:
        return math.exp(exponent)
    except OverflowError:
        return math.inf


__all__ = [
    "acosh",
    "decay",
    "decay_lambda",
    "divide",
    "exp",
    "final_score",
    "ln",
    "log10",
    "non_finite",
    "power",
    "rust_float",
    "sqrt",
    "to_f32",
]
