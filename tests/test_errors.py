"""Errors (grammar/SEMANTICS.md, section 5): messages, positions, limits, no deep recursion."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import projection
from projection import (
    ExpressionError,
    ProjectionError,
    ProjectionLimitError,
    ProjectionSyntaxError,
)
from tests.strategies import NAME, keys, quote


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        (
            "a()",
            "unexpected ')' at column 3: expected a name, '*' or '-'\n  a()\n    ^",
        ),
        (
            "a(b",
            "unexpected end of the expression at column 4: expected '(', '/', ',' or ')'\n"
            "  a(b\n     ^",
        ),
        (
            "a(b)c",
            "unexpected name 'c' at column 5: expected ',' or the end of the expression\n"
            "  a(b)c\n      ^",
        ),
        (
            "-a(b)",
            "unexpected '(' at column 3: expected '/', ',' or the end of the expression\n"
            "  -a(b)\n    ^",
        ),
        (
            "items(`productCode, content)",
            "unterminated quoted name at column 7: expected a name, '*' or '-'\n"
            "  items(`productCode, content)\n        ^",
        ),
        (
            "a,\n\t,b",
            "unexpected ',' at column 5: expected a name, '*' or '-'\n  a,  ,b\n      ^",
        ),
        (
            "a//b",
            "unexpected '/' at column 3: expected a name or '*'\n  a//b\n    ^",
        ),
    ],
)
def test_syntax_errors_render_message_expression_and_caret(text: str, rendered: str) -> None:
    with pytest.raises(ProjectionSyntaxError) as caught:
        projection.parse(text)
    assert str(caught.value) == rendered
    assert caught.value.expression == text
    assert caught.value.column == caught.value.pos + 1


def test_syntax_error_lists_what_was_expected() -> None:
    with pytest.raises(ProjectionSyntaxError) as caught:
        projection.parse("a/")
    assert caught.value.pos == 2
    assert caught.value.expected == ("a name", "'*'")


def test_long_expressions_show_a_window_around_the_fault() -> None:
    text = ",".join(f"field{number}" for number in range(40)) + ",)"
    with pytest.raises(ProjectionSyntaxError) as caught:
        projection.parse(text)
    _, excerpt, caret = str(caught.value).split("\n")
    assert excerpt.startswith("  ...")
    assert excerpt.endswith(",)")
    assert len(excerpt) <= 2 + 72 + 3
    assert excerpt[caret.index("^")] == ")"


@pytest.mark.parametrize(
    ("text", "options", "pos", "message"),
    [
        ("a" * 4097, {}, 4096, "the expression is longer than 4096 characters"),
        ("a,b,c", {"max_length": 3}, 3, "the expression is longer than 3 characters"),
        ("a/b/c", {"max_depth": 2}, 4, "names are nested deeper than 2 levels"),
        ("a(b(c))", {"max_depth": 2}, 4, "names are nested deeper than 2 levels"),
        ("x,a(b,c/d)", {"max_depth": 2}, 8, "names are nested deeper than 2 levels"),
        ("a,b,*,c", {"max_items": 3}, 6, "the expression names more than 3 fields"),
        ("a/b,c(d)", {"max_items": 3}, 6, "the expression names more than 3 fields"),
        # Whichever limit is crossed first, left to right, wins.
        ("a/b/c,d,e", {"max_depth": 2, "max_items": 3}, 4, "names are nested deeper than 2 levels"),
        ("a,b,c,d/e/f", {"max_depth": 2, "max_items": 3}, 6, "the expression names more than"),
    ],
)
def test_limits(text: str, options: dict[str, Any], pos: int, message: str) -> None:
    with pytest.raises(ProjectionLimitError) as caught:
        projection.parse(text, **options)
    assert caught.value.pos == pos
    assert caught.value.message.startswith(message)


def test_length_is_checked_before_syntax_and_syntax_before_depth() -> None:
    with pytest.raises(ProjectionLimitError):
        projection.parse("((((", max_length=3)
    with pytest.raises(ProjectionSyntaxError):
        projection.parse("a/b/c/", max_depth=1)


@pytest.mark.parametrize("shape", ["groups", "paths", "unclosed"])
def test_nesting_ten_thousand_deep_is_a_limit_error_not_a_recursion_error(shape: str) -> None:
    depth = 10_000
    text = {
        "groups": "a(" * depth + "a" + ")" * depth,
        "paths": "/".join(["a"] * depth),
        "unclosed": "a(" * depth + "a",
    }[shape]
    assert depth > sys.getrecursionlimit()
    with pytest.raises(ProjectionLimitError) as caught:
        projection.parse(text)
    assert caught.value.pos == 4096
    if shape == "unclosed":
        # Syntax is checked before depth, and the parser holds 10,000 open groups without recursing.
        with pytest.raises(ProjectionSyntaxError) as unclosed:
            projection.parse(text, max_length=len(text))
        assert unclosed.value.pos == len(text)
        return
    with pytest.raises(ProjectionLimitError) as deeper:
        projection.parse(text, max_length=len(text))
    assert deeper.value.pos == 64  # the 33rd name: every name takes two characters


@pytest.mark.parametrize("value", [b"a", None, 3, ["a"]])
def test_the_expression_must_be_a_string(value: object) -> None:
    with pytest.raises(TypeError, match="must be str"):
        projection.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_depth", [0, 129])
def test_max_depth_has_a_ceiling(max_depth: int) -> None:
    with pytest.raises(ValueError, match="max_depth"):
        projection.parse("a", max_depth=max_depth)


def test_every_parse_error_is_an_expression_error() -> None:
    for error_type in (ProjectionSyntaxError, ProjectionLimitError, projection.UnknownFieldError):
        assert issubclass(error_type, ExpressionError)
        assert issubclass(error_type, ProjectionError)
    assert not issubclass(projection.PayloadError, ExpressionError)


def test_every_operation_works_at_the_deepest_nesting_allowed() -> None:
    depth = 128
    text = "/".join(["a"] * depth)
    parsed = projection.parse(text, max_depth=depth)
    document: Any = 1
    for _ in range(depth + 2):
        document = {"a": document, "b": 0}
    kept = parsed.apply(document)
    assert parsed.project(orjson.dumps(document)) == orjson.dumps(kept)
    assert projection.parse(str(parsed), max_depth=depth) == parsed
    assert parsed | parsed == parsed & parsed == parsed
    assert projection.Projection.from_paths(parsed.paths(), max_depth=depth) == parsed
    excluded = projection.parse("-" + text, max_depth=depth)
    assert excluded.project(orjson.dumps(document)) == orjson.dumps(excluded.apply(document))


def test_an_expression_whose_canonical_form_outgrows_the_limits_is_refused() -> None:
    # "-*/x" copies the exclusion into every entry: 600 names become 600 "k(-x)", 1200 names
    # and 5289 characters.
    text = ",".join(f"k{number}" for number in range(600)) + ",-*/x"
    with pytest.raises(ProjectionLimitError, match="more than 1024 names in canonical") as caught:
        projection.parse(text)
    assert caught.value.pos == text.index("*/x")
    with pytest.raises(ProjectionLimitError, match="more than 5288 characters in canonical"):
        projection.parse(text, max_length=5288, max_items=1200)
    with pytest.raises(ProjectionLimitError, match="more than 1199 names in canonical"):
        projection.parse(text, max_length=5289, max_items=1199)
    # Exactly at both limits: accepted, and its text parses back under them.
    parsed = projection.parse(text, max_length=5289, max_items=1200)
    assert len(str(parsed)) == 5289
    assert projection.parse(str(parsed), max_length=5289, max_items=1200) == parsed


def test_exclusions_deep_in_groups_print_their_whole_path_and_count_against_the_limits() -> None:
    # No "*" in any exclusion, yet every one prints as "-a1/a2/.../a8/cN": 9 names each.
    prefix = "*," + "".join(f"a{level}(*," for level in range(1, 9))
    text = prefix + ",".join(f"-c{number}" for number in range(120)) + ")" * 8
    assert len(text) < 1024
    with pytest.raises(ProjectionLimitError, match="more than 1024 names") as caught:
        projection.parse(text)
    assert caught.value.pos == text.index("-c0") + 1
    parsed = projection.parse(text, max_items=9 * 120, max_length=4096 * 4)
    assert str(parsed).count(",") == 119


# Expressions without "-" or "*": parse measures their canonical text only when its bound passes.
_plain_names = keys.filter(lambda key: "-" not in key and "*" not in key).map(quote)
_plain_paths = st.lists(
    st.tuples(st.sampled_from(["", " "]), _plain_names).map("".join), min_size=1, max_size=3
).map("/".join)
_plain_items = st.recursive(
    st.lists(_plain_paths, min_size=1, max_size=4).map(",".join),
    lambda inner: st.lists(
        st.one_of(_plain_paths, st.tuples(_plain_paths, inner).map("{0[0]}({0[1]})".format)),
        min_size=1,
        max_size=4,
    ).map(",".join),
    max_leaves=12,
)


@given(_plain_items, st.booleans())
def test_without_exclusions_or_wildcards_the_canonical_text_grows_only_by_its_slashes(
    text: str, case_insensitive: bool
) -> None:
    canonical = str(projection.parse(text, case_insensitive=case_insensitive))
    assert len(canonical) <= len(text.casefold() if case_insensitive else text) + text.count("/")
    assert len(NAME.findall(canonical)) <= len(NAME.findall(text))


def test_a_canonical_text_that_outgrows_the_length_by_slashes_or_folding_is_measured() -> None:
    text = "/".join(["a"] * 30)  # 59 characters; "a(a(...))" takes 88
    projection.parse(text, max_length=88)
    with pytest.raises(ProjectionLimitError, match="more than 87 characters in canonical"):
        projection.parse(text, max_length=87)
    text = "ß" * 10  # one name, "ss" * 10 folded
    projection.parse(text, case_insensitive=True, max_length=20)
    with pytest.raises(ProjectionLimitError, match="more than 19 characters in canonical"):
        projection.parse(text, case_insensitive=True, max_length=19)
    projection.parse(text, max_length=10)


def parse_calls(text: str) -> int:
    """How many function calls (Python and C) ``parse(text)`` makes, accepted or refused: its
    work, counted the same on any machine under any load."""
    projection.parse("a(b),*(c),-*/d")  # what a process sets up once is not counted
    calls = 0

    def count(frame: object, event: str, argument: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        projection.parse(text)
    except ProjectionLimitError:
        pass
    finally:
        sys.setprofile(None)
    return calls


def test_refusing_many_wildcard_exclusions_costs_no_more_than_accepting_as_many() -> None:
    names = ",".join(f"k{number}" for number in range(330))
    copying = names + "," + ",".join(f"-*/x{number}" for number in range(330))
    plain = names + "," + ",".join(f"-k/x{number}" for number in range(330))
    assert len(copying) == len(plain)
    with pytest.raises(ProjectionLimitError, match="canonical form"):
        projection.parse(copying)
    projection.parse(plain)
    # SEMANTICS.md section 6: a rejected input costs no more than an accepted one. Built whole
    # (330 keys times 330 copies) and measured only then, refusing took thirty times the work.
    assert parse_calls(copying) < 2 * parse_calls(plain)


@pytest.mark.parametrize(
    "options", [{"max_length": -1}, {"max_items": -5}, {"max_depth": 0}, {"max_depth": 129}]
)
def test_limits_out_of_range_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        projection.parse("a", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["a(", "-a(b)", "a" * 5000])
def test_errors_survive_pickling(text: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        projection.parse(text)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is type(caught.value)
    assert (again.pos, again.expression, str(again)) == (
        caught.value.pos,
        caught.value.expression,
        str(caught.value),
    )


def test_many_includes_of_one_key_are_one_union() -> None:
    paths = ",".join(f"a/b/x{number}" for number in range(300))
    grouped = "a(b(" + ",".join(f"x{number}" for number in range(300)) + "))"
    assert projection.parse(paths) == projection.parse(grouped)
    assert str(projection.parse(paths)) == grouped


def test_wildcard_groups_that_copy_into_every_key_are_refused_while_built() -> None:
    # Each "*(yN)" goes to every other key beside it: 200 keys get 199 names each.
    text = ",".join(f"a(*(y{number}),x{number}(z))" for number in range(200))
    with pytest.raises(ProjectionLimitError, match="more than 1024 names") as caught:
        projection.parse(text)
    assert caught.value.pos == text.index("*")
    small = ",".join(f"a(*(y{number}),x{number}(z))" for number in range(3))
    assert str(projection.parse(small)) == ("a(*(y0,y1,y2),x0(z,y1,y2),x1(y0,z,y2),x2(y0,y1,z))")
