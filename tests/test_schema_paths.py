"""With a schema, every node has a typed path: it must give the generic path's bytes, and the
reference's value and key order (rule 8), on documents that follow the schema and on documents
that do not: keys it lacks, keys spelt in another case, repeated keys, nulls and wrong types.

Internals reached: each way of the fast path alone (``tests/internals.py``) and the compiled
projection's top decoder, to see that the typed path is taken; the bulk engine
(``projection._bulk``), which worker processes run on the same compiled projection.
"""

from __future__ import annotations

import io
import json
import types
import typing
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import projection
from projection import Projection, _bulk, _stream
from projection.kibo import CustomerAuthTicket, sample_authtickets

from . import internals
from .schemas import Doc, Inner, Other
from .test_schema import fields_of, selections

TICKETS = [msgspec.json.encode(ticket) for ticket in sample_authtickets(8, seed=5)]

# -- documents from a schema, as JSON text --------------------------------------------------------

_NAMES = st.sampled_from(["zz", "x", "Z", "a b", "é", ""])
_strings = st.builds(json.dumps, st.text(max_size=6), ensure_ascii=st.booleans()) | st.sampled_from(
    ['"\\u00e9t\\u00E9"', '"a\\/b"', '"\\"q\\""']
)
_numbers = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["-0", "1.50", "1e2", "-0.0", "2E-3"]),
)
_primitives = st.one_of(_strings, _numbers, st.sampled_from(["null", "true", "false"]))


def _anything(depth: int) -> st.SearchStrategy[str]:
    """Any JSON value, shallow: the keys an applier meets where the schema says nothing."""
    if depth > 5:
        return _primitives
    below = st.deferred(lambda: _anything(depth + 1))
    objects = st.lists(st.tuples(_NAMES, below), max_size=3).map(_object)
    arrays = st.lists(below, max_size=2).map(lambda items: "[" + ",".join(items) + "]")
    return st.one_of(_primitives, objects, arrays)


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in pairs) + "}"


def _kinds(annotation: Any) -> list[Any]:
    """The types ``annotation`` may be, unions and ``UNSET`` taken apart."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [
            kind
            for argument in typing.get_args(annotation)
            if argument is not msgspec.UnsetType
            for kind in _kinds(argument)
        ]
    return [annotation]


def _conforming(annotation: Any, depth: int) -> st.SearchStrategy[str]:
    """A value of ``annotation``, as JSON text."""
    options: list[st.SearchStrategy[str]] = []
    for kind in _kinds(annotation):
        origin = typing.get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            options.append(documents(kind, depth + 1))
        elif origin in (list, tuple):
            element = typing.get_args(kind)[0]
            options.append(
                st.lists(_value(element, depth + 1), max_size=2).map(
                    lambda items: "[" + ",".join(items) + "]"
                )
            )
        elif origin is dict:
            value = typing.get_args(kind)[1]
            options.append(
                st.lists(st.tuples(_NAMES, _value(value, depth + 1)), max_size=2).map(_object)
            )
        elif kind is type(None):
            options.append(st.just("null"))
        elif kind is bool:
            options.append(st.sampled_from(["true", "false"]))
        elif kind in (int, float):
            options.append(_numbers)
        elif kind is Any:
            options.append(_anything(depth))
        else:  # str, datetime: strings
            options.append(_strings)
    return st.one_of(options)


def _value(annotation: Any, depth: int) -> st.SearchStrategy[str]:
    """Mostly a value of ``annotation``; now and then anything at all (a wrong type)."""
    if depth > 6:
        return _primitives
    return st.one_of(_conforming(annotation, depth), _conforming(annotation, depth), _anything(5))


@st.composite
def documents(draw: st.DrawFn, struct: type[msgspec.Struct], depth: int = 0) -> str:
    """An object of ``struct`` as JSON text: some of its fields, in any order, and maybe keys it
    lacks (names spelt in another case among them) and keys repeated."""
    pairs: list[tuple[str, str]] = []
    for field in msgspec.structs.fields(struct):
        if draw(st.integers(0, 3)):
            pairs.append((field.encode_name, draw(_value(field.type, depth))))
    if draw(st.integers(0, 3)) == 0:
        names = [field.encode_name for field in msgspec.structs.fields(struct)]
        strange = st.sampled_from([*(name.upper() for name in names), "zz", "yy"]) | _NAMES
        pairs.append((draw(strange), draw(_anything(depth + 1))))
    if pairs and draw(st.integers(0, 5)) == 0:
        key = draw(st.sampled_from(pairs))[0]
        pairs.append((key, draw(_value(Any, depth + 1))))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    return _object(pairs)


def bulk(struct: type[msgspec.Struct]) -> st.SearchStrategy[str]:
    return st.lists(documents(struct), min_size=1, max_size=3).map(
        lambda items: "[" + ",".join(items) + "]"
    )


# -- expressions ----------------------------------------------------------------------------------


ticket_expressions = selections(fields_of(CustomerAuthTicket), strange=True)
# Names of the model only (in any case): a ticket then takes the typed path from top to bottom.
ticket_fields = selections(fields_of(CustomerAuthTicket))
doc_expressions = selections(fields_of(Doc), strange=True)


# -- the three appliers agree ---------------------------------------------------------------------


def assert_paths_agree(parsed: Projection, data: bytes) -> bytes:
    """The typed path, the generic path and the reference give one result, key order included."""
    schema = parsed.schema
    assert schema is not None
    typed = internals.project_compiled(parsed, data)
    generic = internals.project_generic(parsed, data)
    assert typed == generic
    # Serialised by orjson on both sides, so that number spellings compare equal.
    expected = orjson.dumps(parsed.apply(orjson.loads(data)))
    assert orjson.dumps(orjson.loads(typed)) == expected
    return typed


@given(ticket_expressions, documents(CustomerAuthTicket) | bulk(CustomerAuthTicket))
def test_typed_generic_and_reference_agree_on_tickets(text: str, document: str) -> None:
    assert_paths_agree(projection.parse(text, schema=CustomerAuthTicket), document.encode())


@given(doc_expressions, documents(Doc) | bulk(Doc), st.booleans())
def test_typed_generic_and_reference_agree_on_every_kind_of_field(
    text: str, document: str, case_insensitive: bool
) -> None:
    parsed = projection.parse(text, schema=Doc, case_insensitive=case_insensitive)
    assert_paths_agree(parsed, document.encode())


@given(ticket_fields, st.sampled_from(TICKETS))
def test_kibo_tickets_take_the_typed_path_whole(text: str, data: bytes) -> None:
    parsed = projection.parse(text, schema=CustomerAuthTicket)
    compiled = internals.compiled(parsed)
    assert_paths_agree(parsed, data)
    if str(parsed):  # not the whole document, which is checked and returned as it is
        # A ticket the model describes never falls back: every node is a Struct, decoded once.
        assert compiled._top is not None
        assert compiled._top.decoder.decode(data) is not None


@given(
    ticket_expressions, ticket_expressions, st.sampled_from(TICKETS), documents(CustomerAuthTicket)
)
def test_algebra_keeps_the_schema_and_its_order(
    left_text: str, right_text: str, ticket: bytes, document: str
) -> None:
    left = projection.parse(left_text, schema=CustomerAuthTicket)
    right = projection.parse(right_text, schema=CustomerAuthTicket)
    for data in (ticket, document.encode()):
        value = orjson.loads(data)
        for combined in (left | right, left & right):
            assert combined.schema is CustomerAuthTicket
            assert projection.parse(str(combined), schema=CustomerAuthTicket) == combined
            assert_paths_agree(combined, data)
        assert orjson.dumps((left & right).apply(value)) == orjson.dumps(
            left.apply(right.apply(value))
        )


def test_the_algebra_keeps_only_a_schema_both_sides_share() -> None:
    with_schema = projection.parse("userId,accessToken", schema=CustomerAuthTicket)
    other = projection.parse("refreshToken", schema=Doc)
    plain = projection.parse("refreshToken")
    for left, right in [(with_schema, other), (with_schema, plain), (plain, with_schema)]:
        assert (left | right).schema is None
        assert (left & right).schema is None
    shared = with_schema | projection.parse("refreshToken", schema=CustomerAuthTicket)
    assert shared.schema is CustomerAuthTicket
    # Entries in the schema's order, as parse puts them: the text parses back to an equal one.
    assert str(shared) == "accessToken,refreshToken,userId"
    assert str(with_schema | plain) == "accessToken,userId,refreshToken"
    # Equality and the text never look at the schema itself.
    assert shared == projection.parse("accessToken,refreshToken,userId")


# -- examples -------------------------------------------------------------------------------------


def test_a_ticket_with_keys_the_model_lacks_falls_back_to_the_same_bytes() -> None:
    parsed = projection.parse(
        "-jwtAccessToken,-customerAccount/contacts", schema=CustomerAuthTicket
    )
    data = (
        b'{"userId":"u","Extra":[1, 2],"accessToken":"t","jwtAccessToken":"j",'
        b'"customerAccount":{"id":1,"contacts":[],"note":null,"firstName":"F"},"userId":"v"}'
    )
    assert assert_paths_agree(parsed, data) == (
        b'{"accessToken":"t","customerAccount":{"id":1,"firstName":"F","note":null},'
        b'"userId":"v","Extra":[1, 2]}'
    )


def test_repeated_keys_keep_the_schema_position_and_the_last_value() -> None:
    parsed = projection.parse("-a", schema=Doc)
    data = b'{"g":"1","b":{"y":1,"x":2,"y":3},"g":"2","zz":0,"zz":1}'
    # A value kept whole is copied as it is (rule 11), repeated keys and all.
    assert assert_paths_agree(parsed, data) == b'{"b":{"y":1,"x":2,"y":3},"g":"2","zz":1}'
    parsed = projection.parse("*(x,y)", schema=Doc)
    assert assert_paths_agree(parsed, data) == b'{"b":{"x":2,"y":3},"g":"2","zz":1}'


def test_a_node_below_a_primitive_field_checks_what_it_meets() -> None:
    parsed = projection.parse("*(x)", schema=Doc)
    compiled = internals.compiled(parsed)
    assert compiled._top is not None
    # The schema's primitives are kept byte for byte, whatever their spelling...
    same = b'{"a":1.50,"g":"\\u00e9","b":{"x":1e2,"y":2}}'
    assert assert_paths_agree(parsed, same) == b'{"a":1.50,"b":{"x":1e2},"g":"\\u00e9"}'
    # A string holding brackets is a primitive all the same: the typed path takes it.
    brackets = b'{"g":"x{[","a":2}'
    compiled._top.decoder.decode(brackets)
    assert assert_paths_agree(parsed, brackets) == b'{"a":2,"g":"x{["}'
    # ... and an object or an array where the schema has a primitive gets the node (rule 7 does
    # not apply): the typed path refuses it, the generic path projects it.
    for data, expected in [
        (b'{"a":{"y":1,"x":2}}', b'{"a":{"x":2}}'),
        (b'{"g":[{"x":1,"y":2},3]}', b'{"g":[{"x":1},3]}'),
    ]:
        with pytest.raises(msgspec.ValidationError):
            compiled._top.decoder.decode(data)
        assert assert_paths_agree(parsed, data) == expected


def test_each_field_below_a_wildcard_is_ordered_by_its_own_type() -> None:
    parsed = projection.parse("*(x,y,z)", schema=Doc)
    data = b'{"d":{"x":1,"y":null,"z":3},"b":{"z":1,"x":2},"f":{"k":{"z":0,"x":1}}}'
    assert assert_paths_agree(parsed, data) == (
        b'{"b":{"x":2,"z":1},"d":{"z":3,"y":null,"x":1},"f":{}}'
    )
    assert [field.encode_name for field in msgspec.structs.fields(Other)] == ["z", "y", "x"]
    assert [field.encode_name for field in msgspec.structs.fields(Inner)] == ["x", "y", "z"]


def test_a_projection_without_the_schema_keeps_the_document_order() -> None:
    data = b'{"userId":"u","accessToken":"t","refreshToken":"r"}'
    assert projection.parse("-accessToken").project(data) == b'{"userId":"u","refreshToken":"r"}'
    with_schema = projection.parse("-accessToken", schema=CustomerAuthTicket)
    assert with_schema.project(data) == b'{"refreshToken":"r","userId":"u"}'
    # Equal all the same: the schema is no part of equality (rule 8, section 4).
    assert with_schema == projection.parse("-accessToken")


def test_workers_project_in_the_schemas_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 1 << 10)  # several blocks, so that workers share
    parsed = projection.parse("-accessToken", schema=CustomerAuthTicket)
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b'{"userId":"u","accessToken":"t","zz":1,"refreshToken":"r"}\n' * 200)
    sink = io.BytesIO()
    with path.open("rb") as source:
        _stream.project_stream(internals.compiled(parsed), source, sink, path=str(path), workers=2)
    assert sink.getvalue() == b'{"refreshToken":"r","userId":"u","zz":1}\n' * 200
