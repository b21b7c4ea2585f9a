"""The reference applier on Python values: what the case tables cannot show."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest

import projection


def test_arrays_nested_deeper_than_the_recursion_limit() -> None:
    depth = 10 * sys.getrecursionlimit()
    document: list[Any] = [{"a": 1, "b": 2}]
    for _ in range(depth):
        document = [document, 3]
    projected = projection.parse("a").apply(document)
    for _ in range(depth):
        assert projected[1] == 3
        projected = projected[0]
    assert projected == [{"a": 1}]


def test_the_input_is_never_modified() -> None:
    document = {"a": {"b": [1, {"c": 2, "d": 3}]}, "e": 4}
    before = copy.deepcopy(document)
    for text in ("a/b/c", "-a/b/d", "*(b)", "-*"):
        projection.parse(text).apply(document)
    assert document == before


def test_kept_values_are_shared_not_copied() -> None:
    inner = {"x": [1, 2]}
    assert projection.parse("a").apply({"a": inner, "b": 0})["a"] is inner


@pytest.mark.parametrize("raw", ['{"a": 1}', b'{"a": 1}', bytearray(b"{}"), memoryview(b"{}")])
def test_apply_refuses_raw_json_and_points_to_project(raw: object) -> None:
    with pytest.raises(TypeError, match=r"project\(\)"):
        projection.parse("-a").apply(raw)
    # Inside a value, a string is a string like any other.
    assert projection.parse("-a").apply({"b": "{}"}) == {"b": "{}"}
