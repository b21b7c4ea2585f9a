"""Schemas at their edges: tagged Structs through ``typed()``, and what lies below a field typed
``Any``, where the schema says nothing at any depth, and below a Struct or anything (rule 8).
"""

from __future__ import annotations

import itertools
import typing
from typing import Any, Literal

import msgspec
import orjson
import pytest
from msgspec import UNSET, UnsetType

import projection

from .oracle import reference

# -- tagged Structs -------------------------------------------------------------------------------


class Cat(msgspec.Struct, kw_only=True, tag="cat"):
    name: str | UnsetType = UNSET
    lives: int | UnsetType = UNSET


class Dog(msgspec.Struct, kw_only=True, tag="dog", tag_field="kind"):
    name: str | UnsetType = UNSET
    good: bool | UnsetType = UNSET


class Bird(msgspec.Struct, kw_only=True, tag="bird", tag_field="kind"):
    name: str | UnsetType = UNSET
    wings: int | UnsetType = UNSET


class Home(msgspec.Struct, kw_only=True):
    owner: str | UnsetType = UNSET
    cat: Cat | UnsetType = UNSET
    pets: list[Dog | Bird] | UnsetType = UNSET


HOME = {
    "pets": [
        {"kind": "bird", "wings": 2, "name": "Kiwi"},
        {"name": "Rex", "good": True, "kind": "dog"},
    ],
    "owner": "Ana",
    "cat": {"lives": 9, "type": "cat", "name": "Tom"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pets(kind,name),cat(type,name)",
            {
                "cat": {"type": "cat", "name": "Tom"},
                "pets": [{"kind": "bird", "name": "Kiwi"}, {"kind": "dog", "name": "Rex"}],
            },
        ),
        (
            "-owner,-cat/lives,-pets/good",
            {
                "cat": {"type": "cat", "name": "Tom"},
                "pets": [
                    {"kind": "bird", "name": "Kiwi", "wings": 2},
                    {"kind": "dog", "name": "Rex"},
                ],
            },
        ),
    ],
)
def test_typed_keeps_the_tags_of_tagged_structs(text: str, expected: dict[str, Any]) -> None:
    parsed = projection.parse(text, schema=Home, strict=True)
    projected = parsed.project(orjson.dumps(HOME))
    # Each object's keys in its Struct's order, the tag first (rule 8).
    assert projected == orjson.dumps(expected)
    # A union of Structs decodes only if they are tagged: the derived ones keep their tags.
    decoded: Any = msgspec.json.decode(projected, type=parsed.typed())
    assert [type(pet).__name__ for pet in decoded.pets] == ["Bird", "Dog"]
    assert type(decoded.cat).__name__ == "Cat"
    # Encoded, the tags come back first, as msgspec writes them: the projected bytes again.
    assert msgspec.json.encode(decoded) == projected


def test_typed_of_a_tagged_struct_checks_and_writes_its_tag() -> None:
    parsed = projection.parse("NAME", schema=Cat)
    struct = parsed.typed()
    assert msgspec.json.encode(struct(name="Tom")) == b'{"type":"cat","name":"Tom"}'
    decoded = msgspec.json.decode(b'{"type":"cat","name":"Tom","lives":9}', type=struct)
    assert decoded == struct(name="Tom")
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"type":"dog","name":"Rex"}', type=struct)


# -- below a field typed Any ----------------------------------------------------------------------


class Inner(msgspec.Struct, kw_only=True):
    x: int | UnsetType = UNSET
    y: int | UnsetType = UNSET


class Loose(msgspec.Struct, kw_only=True):
    a: int | UnsetType = UNSET
    e: Any = UNSET
    m: dict[str, Any] | UnsetType = UNSET
    s: list[Any] | UnsetType = UNSET
    i: Inner | UnsetType = UNSET
    u: Inner | Any = UNSET


# Objects below ``Any`` whose keys the expressions name in another order than the document's.
LOOSE = {
    "e": {"k": {"z": 1, "y": 2, "x": 3, "l": {"n": 4, "m": 5}}, "j": 6},
    "m": {"q": {"k": {"y": 7, "x": 8}}, "r": 9},
    "s": [{"k": {"y": 10, "x": 11}}, 12, {"j": 13}],
    "i": {"y": 14, "x": 15},
    "a": 16,
    "u": {"y": 17, "w": 18, "x": 19},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Named keys below Any, at every depth: the expression's order (a DROP default).
        ("e(k(x,y))", {"e": {"k": {"x": 3, "y": 2}}}),
        ("e/k/l/m,e/k/z", {"e": {"k": {"l": {"m": 5}, "z": 1}}}),
        (
            "m(q(k(x))),s(k(x,y))",
            {"m": {"q": {"k": {"x": 8}}}, "s": [{"k": {"x": 11, "y": 10}}, 12, {}]},
        ),
        # Exclusions below Any: the document's order.
        ("e(k(-y,-l/n)),a", {"a": 16, "e": {"k": {"z": 1, "x": 3, "l": {"m": 5}}}}),
        # Below "*", each key's value keeps the group's names in their order.
        ("e(*(x,z)),i", {"e": {"k": {"x": 3, "z": 1}, "j": 6}, "i": {"y": 14, "x": 15}}),
    ],
)
def test_below_any_every_name_is_a_key_at_any_depth(text: str, expected: dict[str, Any]) -> None:
    # Strict, since nothing below Any can be unknown: every name is accepted as written.
    parsed = projection.parse(text, schema=Loose, strict=True)
    data = orjson.dumps(LOOSE)
    assert parsed.project(data) == orjson.dumps(expected)
    assert parsed.project(data) == orjson.dumps(expected)  # the compiled path, after the generic
    assert orjson.dumps(reference(parsed, LOOSE)) == orjson.dumps(expected)
    assert b"".join(parsed.project_lines(data + b"\n")) == orjson.dumps(expected) + b"\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An Inner or anything: in the Inner's order, keys it lacks after them (rule 8).
        ("u(-w)", {"u": {"x": 19, "y": 17}}),
        ("u(w,y,x)", {"u": {"x": 19, "y": 17, "w": 18}}),
        ("u(*,-y)", {"u": {"x": 19, "w": 18}}),
    ],
)
def test_below_a_struct_or_any_the_structs_order(text: str, expected: dict[str, Any]) -> None:
    parsed = projection.parse(text, schema=Loose)
    data = orjson.dumps(LOOSE)
    assert parsed.project(data) == orjson.dumps(expected)
    assert parsed.project(data) == orjson.dumps(expected)  # the compiled path, after the generic
    assert orjson.dumps(reference(parsed, LOOSE)) == orjson.dumps(expected)


class Flagged(msgspec.Struct, kw_only=True):
    kind: Literal["a", "b"] = "a"
    level: Literal[1, 2] | None = None


@pytest.mark.parametrize("text", ["kind(x)", "level(x)", "kind/x"])
def test_a_literal_is_a_primitive_with_no_sub_fields(text: str) -> None:
    with pytest.raises(projection.UnknownFieldError, match="has no sub-fields"):
        projection.parse(text, schema=Flagged, strict=True)


def test_below_a_known_struct_unknown_names_are_refused_when_strict() -> None:
    # The contrast: below ``i`` (an Inner) the schema does say which keys there are.
    with pytest.raises(projection.UnknownFieldError):
        projection.parse("i(x,w)", schema=Loose, strict=True)
    with pytest.raises(projection.UnknownFieldError):
        projection.parse("a(b)", schema=Loose, strict=True)


def test_typed_keeps_a_field_typed_any_whole_below_its_selection() -> None:
    parsed = projection.parse("e(k(x)),a", schema=Loose, strict=True)
    decoded = msgspec.json.decode(parsed.project(orjson.dumps(LOOSE)), type=parsed.typed())
    assert msgspec.to_builtins(decoded) == {"a": 16, "e": {"k": {"x": 3}}}


# -- mappings of Structs --------------------------------------------------------------------------


class Wide(msgspec.Struct, kw_only=True):
    f0: int | UnsetType = UNSET
    f1: int | UnsetType = UNSET
    f2: int | UnsetType = UNSET
    f3: int | UnsetType = UNSET
    f4: int | UnsetType = UNSET
    f5: int | UnsetType = UNSET
    f6: int | UnsetType = UNSET


class Shelf(msgspec.Struct, kw_only=True):
    boxes: dict[str, Wide] | UnsetType = UNSET


def _box_fields(keys: int) -> set[str]:
    """The fields of the values of ``typed().boxes``, with ``keys`` keys each given its own
    subset of f0 to f5 (never f6)."""
    subsets = [names for size in range(1, 7) for names in itertools.combinations(range(6), size)][
        :keys
    ]
    items = (f"k{n}({','.join(f'f{field}' for field in names)})" for n, names in enumerate(subsets))
    typed = projection.parse(f"boxes({','.join(items)})", schema=Shelf).typed()
    (boxes,) = (field.type for field in msgspec.structs.fields(typed) if field.name == "boxes")
    (mapping,) = (each for each in typing.get_args(boxes) if typing.get_origin(each) is dict)
    value = typing.get_args(mapping)[1]
    return {field.name for field in msgspec.structs.fields(value)}


def test_a_mappings_values_are_narrowed_to_the_union_of_up_to_32_masks() -> None:
    # Each key's mask applies to its value: the values' type keeps what any of them keeps, and
    # past 32 distinct masks, the union costing more than it saves, the whole type.
    assert _box_fields(32) == {f"f{field}" for field in range(6)}
    assert _box_fields(33) == {f"f{field}" for field in range(7)}
