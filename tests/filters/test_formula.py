"""Score formulas (``shoal.filters.formula``) with Qdrant's server semantics.

Many rows are Qdrant's own (``test_evaluation`` and ``test_default_values`` in
``lib/segment/src/index/query_optimization/rescore_formula/formula_scorer.rs``), with the
numbers a REST request gives: request numbers are ``f32`` there, and a score is the ``f32``
value of the result.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from shoal import models as m
from shoal.errors import InvalidFilter, InvalidQuery
from shoal.filters import tree as t
from shoal.filters.formula import candidates, compile_formula, parse_variable, rescore
from shoal.filters.formula_math import rust_float, to_f32

PAYLOAD: dict[str, Any] = {
    "number": 85.0,
    "array_of_one": [1.2],
    "array": [1.2, 2.3],
    "geo_point": {"lat": 25.628482424190565, "lon": -100.23881855976},
    "tag": "a",
    "nothing": None,
    "items": [{"price": 2}, {"price": 3}],
    "one_item": [{"price": 2}],
    "nested": [[1, 2]],
    "single": [5],
    "wrapped": [[5]],
    "when": "2025-03-18T12:00:00Z",
}
SCORES = [1.0, 2.0]
DEFAULTS = {
    "$score[3]": 1.5,
    "no_number": 85.0,
    "no_value_geo_point": {"lat": 25.0, "lon": -100.0},
    "no_value_datetime": "2025-03-19T12:00:00",
}
ORIGIN = {"lon": -100.43383200156751, "lat": 25.717877679163667}
MATCH_ALL = {"must": []}
MATCH_NONE = {"must_not": [{"must": []}]}


def score(formula: Any, defaults: dict[str, Any] | None = None, point_id: int = 1) -> float:
    return compile_formula(formula, DEFAULTS if defaults is None else defaults)(
        SCORES, PAYLOAD, point_id
    )


def epoch_seconds(text: str) -> float:
    dt = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    return dt.timestamp()


ROWS: list[tuple[Any, float]] = [
    (5, 5.0),
    ("$score", 1.0),
    ("$score[0]", 1.0),
    ("$score[1]", 2.0),
    ("number", 85.0),
    (MATCH_ALL, 1.0),
    (MATCH_NONE, 0.0),
    ({"sum": [1, "$score", "number", MATCH_ALL]}, 1 + 1 + 85 + 1),
    ({"mult": [2, "$score", "number", MATCH_ALL]}, 2 * 1 * 85 * 1),
    ({"div": {"left": 10, "right": "$score"}}, 10.0),
    ({"neg": 10}, -10.0),
    ({"geo_distance": {"origin": ORIGIN, "to": "geo_point"}}, to_f32(21926.494151786308)),
    # defaults
    ("$score[3]", 1.5),
    ("$score[10]", 0.0),
    ("array_of_one", to_f32(1.2)),
    ("no_number", 85.0),
    ({"geo_distance": {"origin": ORIGIN, "to": "no_value_geo_point"}}, to_f32(90951.29600298218)),
    ({"datetime": "2025-03-18"}, to_f32(epoch_seconds("2025-03-18"))),
    ({"datetime_key": "no_value_datetime"}, to_f32(epoch_seconds("2025-03-19T12:00:00"))),
    ({"datetime_key": "when"}, to_f32(epoch_seconds("2025-03-18T12:00:00"))),
    # paths: one value through an array, and a trailing [] keeps arrays whole
    ("one_item[].price", 2.0),
    ("single[]", 5.0),
    ({"abs": -3}, 3.0),
    ({"sqrt": 16}, 4.0),
    ({"pow": {"base": 2, "exponent": 10}}, 1024.0),
    ({"exp": 0}, 1.0),
    ({"log10": 1000}, 3.0),
    ({"ln": 1}, 0.0),
    ({"max": [1, "number", -3]}, 85.0),
    ({"min": [1, "number", -3]}, -3.0),
    ({"acosh": 1}, 0.0),
    # request numbers are f32: 16777217 is 16777216 there
    ({"sum": [16777217, -16777216]}, 0.0),
    # mult and div stop at 0 without evaluating the rest, which would fail
    ({"mult": [0, "missing"]}, 0.0),
    ({"mult": ["$score[9]", {"div": {"left": 1, "right": 0}}]}, 0.0),
    ({"div": {"left": 0, "right": "missing"}}, 0.0),
    ({"div": {"left": 1, "right": 0, "by_zero_default": 7.5}}, 7.5),
    ({"div": {"left": 1, "right": {"neg": 0}, "by_zero_default": -1}}, -1.0),
    # a condition sees the point id
    ({"has_id": [1]}, 1.0),
    ({"key": "tag", "match": {"value": "a"}}, 1.0),
    ({"key": "tag", "match": {"value": "b"}}, 0.0),
]


@pytest.mark.parametrize(("formula", "expected"), ROWS)
def test_formula_values(formula: Any, expected: float) -> None:
    assert score(formula) == expected


@pytest.mark.parametrize("kind", ["lin_decay", "exp_decay", "gauss_decay"])
def test_decays_give_midpoint_at_scale(kind: str) -> None:
    params = {"x": "number", "target": 80, "scale": 5, "midpoint": 0.25}
    assert score({kind: params}) == 0.25
    assert score({kind: {**params, "x": 80}}) == 1.0
    # defaults: target 0, scale 1, midpoint 0.5
    assert score({kind: {"x": 1}}) == 0.5
    assert score({kind: {"x": -1}}) == 0.5


def test_decay_shapes_beyond_the_scale() -> None:
    assert score({"lin_decay": {"x": 3}}) == 0.0  # 1 - 0.5 * 3 < 0
    assert score({"exp_decay": {"x": 2}}) == 0.25  # 0.5 ** 2
    assert score({"gauss_decay": {"x": 2}}) == 0.0625  # 0.5 ** (2 ** 2)
    assert score({"lin_decay": {"x": 1, "midpoint": 0}}) == 0.0
    assert score({"lin_decay": {"x": 1, "midpoint": 1}}) == 1.0


FAILURES: list[tuple[Any, str]] = [
    ({"div": {"left": 1, "right": 0}}, "The expression 1/0 = inf produced a non-finite number"),
    ({"div": {"left": -2, "right": 0}}, "The expression -2/0 = -inf produced a non-finite number"),
    ({"log10": 0}, "The expression log10(0) = -inf produced a non-finite number"),
    ({"ln": 0}, "The expression ln(0) = -inf produced a non-finite number"),
    ({"ln": -1}, "The expression ln(-1) = NaN produced a non-finite number"),
    ({"sqrt": -3}, "The expression √-3 = NaN produced a non-finite number"),
    ({"pow": {"base": -1, "exponent": 0.5}}, "The expression -1^0.5 = NaN produced"),
    ({"pow": {"base": 0, "exponent": -1}}, "The expression 0^-1 = inf produced"),
    ({"pow": {"base": 10, "exponent": 400}}, "The expression 10^400 = inf produced"),
    ({"exp": 1000}, "The expression exp(1000) = inf produced"),
    ({"acosh": 0.5}, "The expression acosh(0.5) = NaN produced"),
    ({"mult": [1e30, 1e30]}, "as f32 = inf produced a non-finite number"),
    ({"sum": [3e38, 3e38]}, "as f32 = inf produced a non-finite number"),
    (
        "missing_field",
        "Expected number value for missing_field in the payload and/or in the formula "
        "defaults. Error: No value found in a payload nor defaults",
    ),
    ("array", "Expected number value for array in the payload and/or in the formula defaults. "
     "Error: Value is not a number"),
    ("items[].price", "Error: Value is not a number"),  # two values
    ("nested[]", "Error: Value is not a number"),  # one value, an array
    ("wrapped[]", "Error: Value is not a number"),  # local mode opens it: 5
    ("tag", "Error: Value is not a number"),
    ("nothing", "Error: Value is not a number"),  # null is a value: no default for it
    ({"geo_distance": {"origin": ORIGIN, "to": "number"}}, "Expected geo point value for number"),
    ({"datetime_key": "number"}, "Expected datetime value for number in the payload and/or "
     "in the formula defaults. Error: Value is not a string"),
    ({"datetime_key": "tag"}, "Expected datetime value for tag"),
]  # fmt: skip


@pytest.mark.parametrize(("formula", "message"), FAILURES)
def test_evaluation_failures(formula: Any, message: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        score(formula)
    assert message in str(info.value)


def test_null_payload_value_does_not_take_the_default() -> None:
    with pytest.raises(InvalidQuery, match="Value is not a number"):
        score("nothing", {"nothing": 3})
    assert score("missing", {"missing": 3}) == 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"lon": -100.0, "lat": 25.0}, to_f32(90951.29600298218)),
        ([{"lon": -100.0, "lat": 25.0}], to_f32(90951.29600298218)),
        ([-100.0, 25.0], to_f32(90951.29600298218)),  # serde reads a 2-array as a struct
        ({"lon": -100.0, "lat": 95.0}, "expected `lat` = 95.0 within [-90;90]"),
        ({"lon": -100.0}, "missing field `lat`"),
        ({"lon": "x", "lat": 1}, "`lon` is 'x'"),
        ([{"lon": 1, "lat": 2}, {"lon": 3, "lat": 4}], "is {.*}, expected f64"),  # two values
    ],
)
def test_geo_distance_payload_forms(value: Any, expected: float | str) -> None:
    formula = compile_formula({"geo_distance": {"origin": ORIGIN, "to": "p"}})
    if isinstance(expected, float):
        assert formula([], {"p": value}, 1) == expected
    else:
        with pytest.raises(InvalidQuery, match=expected.replace("[", r"\[")):
            formula([], {"p": value}, 1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("$score", 0),
        ("$score[0]", 0),
        ("$score[12]", 12),
        ("price", ("price",)),
        ("a.b[1].c[]", ("a", "b", 1, "c", t.FLATTEN)),
        ('a."b.c"', ("a", "b.c")),
        ("été-1_x", ("été-1_x",)),
    ],
)
def test_variables(name: str, expected: object) -> None:
    assert parse_variable(name) == expected


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("$foo", "Invalid reserved word: $foo"),
        ("$", "Invalid reserved variable: $"),
        ("$score.x", "Invalid reserved variable"),
        ("$score[1][2]", "Invalid reserved variable"),
        ("$score[]", "Invalid reserved variable"),
        ("", "Invalid payload variable"),
        ("a..b", "Invalid payload variable"),
        ("a b", "Invalid payload variable"),
        ("a[x]", "Invalid payload variable"),
    ],
)
def test_unknown_variables_are_refused_naming_them(name: str, reason: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        compile_formula({"sum": [1, name]})
    assert f"failed to parse variable ID {name!r}" in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize(
    ("formula", "defaults", "message"),
    [
        ({"foo": 1}, None, "invalid formula: formula: expected a number, a variable name"),
        (True, None, "(got True)"),
        ({"sum": [{"div": {"left": 1}}]}, None, "sum.0.div.right: Field required"),
        ({"mult": "x"}, None, "mult: Input should be a valid list"),
        ({"neg": 1, "extra": 2}, None, "extra: Extra inputs are not permitted"),
        ({"datetime": "yesterday"}, None, "failed to parse date-time 'yesterday'"),
        ({"datetime_key": "a b"}, None, "failed to parse datetime_key 'a b'"),
        ({"geo_distance": {"origin": {"lon": 0, "lat": 99}, "to": "p"}}, None,
         "geo_distance origin: wrong format of GeoPoint"),
        ({"max": []}, None, "`max` needs at least one operand"),
        ({"lin_decay": {"x": 1, "midpoint": 1.2}}, None,
         "Linear decay midpoint should be in the range [0.0, 1.0], got 1.2000000476837158."),
        ({"exp_decay": {"x": 1, "midpoint": 1}}, None,
         "Decay midpoint should be in the range (0.0, 1.0), got 1."),
        ({"gauss_decay": {"x": 1, "midpoint": 0}}, None, "got 0."),
        ({"gauss_decay": {"x": 1, "scale": 0}}, None,
         "Decay scale should be non-zero positive, got 0."),
        (float("nan"), None, "formula constant nan is not a finite number"),
        ("$score", {"$unknown": 1.0}, "Invalid reserved word: $unknown"),
        ("$score", {"$score": "not-a-number"}, "Score default must be a number"),
        ("$score", {"$score[1]": True}, "Score default must be a number"),
        ("$score", [1], "formula defaults must be an object"),
    ],
)  # fmt: skip
def test_malformed_formulas_are_refused(formula: Any, defaults: Any, message: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        compile_formula(formula, defaults)
    assert message in str(info.value)


def test_bad_conditions_are_filter_errors() -> None:
    with pytest.raises(InvalidFilter, match="at least 4"):
        compile_formula({"key": "p", "geo_polygon": {"exterior": {"points": []}}})


def test_models_and_json_mix() -> None:
    formula = m.SumExpression(
        sum=[
            "$score",
            m.MultExpression(
                mult=[0.5, m.FieldCondition(key="tag", match=m.MatchValue(value="a"))]
            ),
            {"neg": {"abs": -2}},
            m.Filter(must=[m.HasIdCondition(has_id=[7])]),
        ]
    )
    compiled = compile_formula(formula, {"$score": 0.25})
    assert compiled([None], {"tag": "a"}, 7) == 0.25 + 0.5 - 2 + 1
    assert compiled([3.0], {}, 8) == 3.0 - 2
    assert compiled.payload_keys == frozenset() and compiled.prefetches == 1
    assert compile_formula({"sum": ["$score[2]", "a.b", {"datetime_key": "d"}]}).payload_keys == {
        "a.b",
        "d",
    }


def test_prepare_sees_each_condition_tree() -> None:
    seen: list[t.Node] = []

    def prepare(node: t.Node) -> t.Node:
        seen.append(node)
        return t.Const(True)

    compiled = compile_formula({"key": "tag", "match": {"value": "zzz"}}, prepare=prepare)
    assert compiled([], {}, 1) == 1.0
    assert seen == [t.Cmp(("tag",), "eq", "zzz", any_element=True)]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.5, "0.5"), (-3.0, "-3"), (1e20, "100000000000000000000"), (1e-7, "0.0000001"),
     (float("inf"), "inf"), (float("-inf"), "-inf"), (float("nan"), "NaN"), (-0.0, "-0")],
)  # fmt: skip
def test_numbers_in_messages_are_printed_as_rust_prints_them(value: float, text: str) -> None:
    assert rust_float(value) == text


def test_rescore_scores_every_candidate_and_fails_for_one() -> None:
    prefetches = [[(1, 0.5), (2, 0.25)], [(2, 4.0), (3, 1.0)]]
    assert candidates(prefetches) == [1, 2, 3]
    summed = compile_formula({"sum": ["$score", "$score[1]"]}, {"$score[1]": 10})
    assert rescore(summed, prefetches, {}, limit=2) == [(1, 10.5), (2, 4.25)]
    priced = compile_formula({"mult": ["$score[1]", "price"]})
    payloads = {2: {"price": 2}, 3: {"price": 3}}  # 1 has no price but $score[1] is 0 for it
    assert rescore(priced, prefetches, payloads, limit=5) == [(2, 8.0), (3, 3.0), (1, 0.0)]
    with pytest.raises(InvalidQuery, match="Expected number value for price"):
        rescore(compile_formula("price"), prefetches, payloads, limit=1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2023-12-31T23:59:59.5+01:00", 1704063599.5),
        ("2023-12-31T23:59:59.12Z", 1704067199.12),
        ("2023-12-31T23:59:59.123456789+00:00", 1704067199.123456),
    ],
)
def test_datetimes_with_any_fraction_parse_on_every_python(text: str, seconds: float) -> None:
    # Found on Python 3.10, whose fromisoformat takes fractions of 3 or 6 digits only.
    from shoal.filters.evaluate import parse_datetime

    parsed = parse_datetime(text)
    assert parsed is not None and abs(parsed.timestamp() - seconds) < 1e-6
