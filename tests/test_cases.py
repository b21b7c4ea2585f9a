"""The shared case tables of ``tests/cases/*.json``, run through every applier.

The tables were derived from grammar/SEMANTICS.md by hand, independently of the code: they are the
contract in executable form. Each applier below must give the expected value, key order included.

Internals reached: each way of the fast path alone (``tests/internals.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import projection
from projection import ExpressionError, Projection, ProjectionLimitError, ProjectionSyntaxError

from . import internals
from .oracle import reference
from .schemas import SCHEMAS

CASES = Path(__file__).resolve().parent / "cases"

Applier = Callable[[Projection, Any], Any]

# Every way of applying a projection; each must agree with the tables.
APPLIERS: dict[str, Applier] = {
    "reference": reference,
    "bytes": lambda parsed, document: orjson.loads(parsed.project(orjson.dumps(document))),
    # A projection's first document takes the generic path; this one the compiled (typed) path.
    "compiled": lambda parsed, document: orjson.loads(
        internals.project_compiled(parsed, orjson.dumps(document))
    ),
    "generic": lambda parsed, document: orjson.loads(
        internals.project_generic(parsed, orjson.dumps(document))
    ),
}


def load(name: str) -> list[dict[str, Any]]:
    table = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    documents = table.get("documents", {})
    cases: list[dict[str, Any]] = table["cases"]
    for case in cases:
        if "document_ref" in case:
            case["document"] = documents[case["document_ref"]]
    return cases


def cases(name: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in load(name)]


def options(case: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"case_insensitive": case.get("case_insensitive", False)}
    if "schema" in case:
        found["schema"] = SCHEMAS[case["schema"]]
    return found


@pytest.mark.parametrize("applier", APPLIERS)
@pytest.mark.parametrize("case", cases("apply") + cases("schema_order"))
def test_apply(case: dict[str, Any], applier: str) -> None:
    parsed = projection.parse(case["expression"], **options(case))
    result = APPLIERS[applier](parsed, case["document"])
    # Serialised, so that key order counts (rule 8).
    assert orjson.dumps(result) == orjson.dumps(case["expected"])


@pytest.mark.parametrize("case", cases("canonical") + cases("kibo_expressions"))
def test_canonical_text(case: dict[str, Any]) -> None:
    parsed = projection.parse(case["expression"], **options(case))
    assert str(parsed) == case["canonical"]
    assert projection.parse(case["canonical"], **options(case)) == parsed
    for other in case.get("equal", []):
        assert projection.parse(other, **options(case)) == parsed, other
    for other in case.get("not_equal", []):
        assert projection.parse(other, **options(case)) != parsed, other
    if "paths" in case:
        assert parsed.paths() == case["paths"]
        assert Projection.from_paths(case["paths"], **options(case)) == parsed
    if case.get("paths_error"):
        with pytest.raises(ValueError, match="paths cannot say"):
            parsed.paths()


@pytest.mark.parametrize("case", cases("algebra"))
def test_algebra(case: dict[str, Any]) -> None:
    left, right = projection.parse(case["left"]), projection.parse(case["right"])
    assert str(left | right) == case["union"]
    assert str(left & right) == case["composition"]


@pytest.mark.parametrize("case", cases("errors"))
def test_errors(case: dict[str, Any]) -> None:
    errors: dict[str, type[ExpressionError]] = {
        "syntax": ProjectionSyntaxError,
        "limit": ProjectionLimitError,
    }
    expected = errors[case["error"]]
    with pytest.raises(expected) as caught:
        projection.parse(case["expression"], **case.get("options", {}))
    assert caught.value.pos == case["pos"]
    assert caught.value.expression == case["expression"]


def test_tables_are_as_large_as_promised() -> None:
    counts = {name: len(load(name)) for name in ("apply", "canonical", "algebra", "errors")}
    assert counts["apply"] + counts["canonical"] >= 150
    assert sum(case["error"] == "syntax" for case in load("errors")) >= 30
    assert len(load("kibo_expressions")) >= 25
