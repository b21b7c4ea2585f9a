"""Properties of parsing and of the algebra, on generated expressions and documents.

Internals reached: the mask's node type (``projection._mask.Node``), its hash made to collide.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import unittest.mock
from random import Random
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import projection
from projection import Projection, ProjectionError, _mask

from .oracle import reference
from .strategies import documents, expressions, item_lists, objects, texts

flags = st.booleans()


def ordered(value: Any) -> bytes:
    """A byte string that differs whenever values or key order differ."""
    return orjson.dumps(value)


def deep_merge(left: Any, right: Any) -> Any:
    """What keeping every path of either side gives: objects merged key by key, arrays by index."""
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = deep_merge(left[key], value) if key in left else value
        return merged
    if isinstance(left, list) and isinstance(right, list):
        assert len(left) == len(right)
        return [deep_merge(a, b) for a, b in zip(left, right, strict=True)]
    assert left == right
    return left


@given(expressions, flags)
def test_canonical_text_round_trips(text: str, case_insensitive: bool) -> None:
    parsed = projection.parse(text, case_insensitive=case_insensitive)
    again = projection.parse(str(parsed), case_insensitive=case_insensitive)
    assert again == parsed
    assert hash(again) == hash(parsed)
    assert str(again) == str(parsed)


@given(expressions, expressions, flags)
def test_equal_exactly_when_canonical_texts_are_equal(
    left: str, right: str, case_insensitive: bool
) -> None:
    p = projection.parse(left, case_insensitive=case_insensitive)
    q = projection.parse(right, case_insensitive=case_insensitive)
    assert (p == q) == (str(p) == str(q))


@given(expressions, expressions)
@example("a(-b)", "-a/b")  # the same entries under another default
def test_equality_rests_on_the_masks_not_on_their_hashes(left: str, right: str) -> None:
    """Where the hashes of every two masks collide, equality still tells them apart."""
    p, q = projection.parse(left), projection.parse(right)
    with unittest.mock.patch.object(_mask.Node, "__hash__", return_value=0):
        assert (p == q) == (str(p) == str(q))


@given(item_lists(), st.randoms(use_true_random=False), flags)
def test_reordering_items_keeps_equality_and_text_in_step(
    items: list[str], random: Random, case_insensitive: bool
) -> None:
    shuffled = random.sample(items, len(items))
    p = projection.parse(",".join(items), case_insensitive=case_insensitive)
    q = projection.parse(",".join(shuffled), case_insensitive=case_insensitive)
    assert (p == q) == (str(p) == str(q))
    # Only key order may depend on the order of items (rule 3).
    assert p.apply({"a": {"a": 1, "b": 2}, "b": [{"c": 3}], "c": 4}) == q.apply(
        {"a": {"a": 1, "b": 2}, "b": [{"c": 3}], "c": 4}
    )


@given(expressions, documents, flags)
def test_canonical_text_applies_like_the_original(
    text: str, document: Any, case_insensitive: bool
) -> None:
    parsed = projection.parse(text, case_insensitive=case_insensitive)
    canonical = projection.parse(str(parsed), case_insensitive=case_insensitive)
    assert ordered(reference(canonical, document)) == ordered(reference(parsed, document))


@given(expressions, expressions, objects, flags)
def test_composition_is_applying_one_after_the_other(
    left: str, right: str, document: dict[str, Any], case_insensitive: bool
) -> None:
    p = projection.parse(left, case_insensitive=case_insensitive)
    q = projection.parse(right, case_insensitive=case_insensitive)
    assert ordered(reference(p & q, document)) == ordered(reference(p, reference(q, document)))


@given(expressions, expressions, objects, flags)
def test_union_keeps_every_path_either_side_keeps(
    left: str, right: str, document: dict[str, Any], case_insensitive: bool
) -> None:
    p = projection.parse(left, case_insensitive=case_insensitive)
    q = projection.parse(right, case_insensitive=case_insensitive)
    assert reference(p | q, document) == deep_merge(reference(p, document), reference(q, document))


@given(expressions, expressions, expressions)
def test_union_and_composition_laws(left: str, middle: str, right: str) -> None:
    p, q, r = (projection.parse(text) for text in (left, middle, right))
    everything, nothing = projection.parse(""), projection.parse("-*")
    assert (p | q) | r == p | (q | r)
    assert p | p == p
    assert p | nothing == p == nothing | p
    assert p | everything == everything
    assert p & p == p
    assert p & everything == p == everything & p
    assert p & nothing == nothing == nothing & p


@given(expressions, objects)
def test_composition_is_associative_in_effect(text: str, document: dict[str, Any]) -> None:
    p = projection.parse(text)
    q = projection.parse("a,b(c),*(A)")
    r = projection.parse("-b/c/d")
    assert ordered(reference((p & q) & r, document)) == ordered(reference(p & (q & r), document))


@given(expressions, documents)
def test_applying_twice_changes_nothing(text: str, document: Any) -> None:
    parsed = projection.parse(text)
    once = reference(parsed, document)
    assert ordered(reference(parsed, once)) == ordered(once)


@given(expressions, flags)
def test_paths_say_the_projection_exactly_when_they_can(text: str, case_insensitive: bool) -> None:
    parsed = projection.parse(text, case_insensitive=case_insensitive)
    try:
        paths = parsed.paths()
    except ValueError:
        return
    assert Projection.from_paths(paths, case_insensitive=case_insensitive) == parsed


@given(texts)
def test_any_text_parses_or_raises_a_positioned_error(text: str) -> None:
    try:
        parsed = projection.parse(text)
    except ProjectionError as error:
        rejected = error
    else:
        assert projection.parse(str(parsed)) == parsed
        return
    assert isinstance(rejected, projection.ExpressionError)
    assert 0 <= rejected.pos <= len(text)
    assert rejected.expression == text


@pytest.mark.parametrize("case_insensitive", [False, True])
def test_mixing_case_sensitivity_is_refused(case_insensitive: bool) -> None:
    p = projection.parse("a", case_insensitive=case_insensitive)
    q = projection.parse("a", case_insensitive=not case_insensitive)
    with pytest.raises(ValueError, match="case-insensitive"):
        p | q
    with pytest.raises(ValueError, match="case-insensitive"):
        p & q


def test_projections_pickled_in_one_process_equal_those_parsed_in_another() -> None:
    # Hashes depend on the process's hash seed; a pickled projection must not carry its own.
    text = "a(b,c),-d/e,*(f),`g h`"
    script = (
        "import pickle, sys, projection\n"
        f"sys.stdout.buffer.write(pickle.dumps(projection.parse({text!r})))\n"
    )
    dumped = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONHASHSEED": "1"},
        capture_output=True,
        check=True,
    ).stdout
    loaded = pickle.loads(dumped)
    assert loaded == projection.parse(text)
    assert hash(loaded) == hash(projection.parse(text))
    assert loaded in {projection.parse(text)}
