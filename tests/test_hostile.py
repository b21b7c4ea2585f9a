"""Hostile input, family by family: what a gateway in front of traffic is sent on purpose.

Each family is generated (hypothesis, or a table where the family is finite) and its results are
checked against an oracle that does not share the library's code: the reference applier on
orjson's decoding of the valid input, and positions worked out here from how the input was
built. Checked: the error's type and position, that nothing the projection drops leaks into the
output, that no NDJSON line is lost. No timings: what these inputs cost is measured by
``python -m benchmarks --only hostile``, never asserted in a test.

Internals reached: each way of the fast path alone (``tests/internals.py``); the bulk engine's
``project_stream``, for the lines it hands on; a scanner unit (``projection._scan``); the
command's entry point ``projection._cli.main``.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import io
import itertools
import json
import re
import sys
import tempfile
import unittest.mock
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import projection
from projection import (
    PayloadError,
    Projection,
    ProjectionError,
    ProjectionLimitError,
    _scan,
)
from projection._cli import main
from projection._stream import Layout, project_stream

from . import internals
from .internals import project_generic as generic
from .oracle import reference
from .strategies import NAME, documents, expressions, json_texts

# Expressions that take each way through the fast path: typed Structs (``a``, ``a(b)``), the
# generic rebuild (``-b``, ``*(a)``), exclusions copied into every entry, and the validating
# identity (``""``, ``*``).
EXPRESSIONS = ["a", "a(b)", "-b", "*(a)", "a,-*/b", "", "*"]


def _examples(count: int) -> settings:
    """``count`` examples in the default profile, scaled for the thorough one."""
    return settings(max_examples=max(1, count * settings().max_examples // 200))


def one_line(parsed: Projection, data: bytes) -> bytes:
    """``data`` as the one line of an NDJSON stream, projected."""
    return b"".join(parsed.project_lines([data]))


# Every way a single document is projected: the name says which and how errors are numbered.
PATHS: dict[str, Callable[[Projection, bytes], bytes]] = {
    "project": Projection.project,
    "generic": generic,
    "line": one_line,
}


def stream(
    parsed: Projection, lines: bytes, layout: Layout = "ndjson"
) -> tuple[bytes, list[PayloadError]]:
    """NDJSON through ``project_stream`` with invalid lines handed on: output and rejected."""
    rejected: list[PayloadError] = []
    sink = io.BytesIO()
    project_stream(
        internals.compiled(parsed),
        io.BytesIO(lines),
        sink,
        on_error=rejected.append,
        layout=layout,
    )
    return sink.getvalue(), rejected


def expected_bytes(parsed: Projection, document: Any) -> bytes:
    """What the fast path gives for ``document`` written compact by orjson: the reference result
    written compact, since values are copied byte for byte and orjson spells a value the same
    way wherever it stands."""
    return orjson.dumps(reference(parsed, document))


def _fails(
    call: Callable[[], object],
    pos: int | None,
    *,
    index: int | None = None,
    line: int | None = None,
) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        call()
    error = caught.value
    assert (error.pos, error.index, error.line) == (pos, index, line), str(error)
    return error


def _fails_everywhere(
    parsed: Projection, data: bytes, pos: int, index: int | None
) -> list[PayloadError]:
    """Check every path refuses ``data`` at ``pos``; an NDJSON line numbers it, not the index."""
    errors = []
    for name, path in PATHS.items():
        if name == "line" and b"\n" in data:
            continue
        numbered = {"line": 1} if name == "line" else {"index": index}
        errors.append(_fails(functools.partial(path, parsed, data), pos, **numbered))
    return errors


# -- 1. escaped quotes cut off ----------------------------------------------------------------

# What comes before the cut, with the document of a top-level array that holds it.
OPENINGS: dict[bytes, int | None] = {
    b'["': 0,
    b'"': None,
    b'{"a":"': None,
    b'{"a":{"b":"': None,
    b'{"': None,  # inside a key
    b'[{"a":1},{"b":"': 1,
    b'[{"a":1},{"': 1,
    b'[{"a":1},{"a":"x,]"},{"b":["': 2,
    b'[[["': 0,
}
_ESCAPED = st.sampled_from([b'\\"', b"\\\\", b"\\/", b"\\u00e9", b"\\n", b"x", b"\xc3\xa9"])
# How the cut ends: after a whole escape, after a backslash, inside a \u escape.
_TAILS = st.sampled_from([b"", b"\\", b"\\u", b"\\u00", b'\\\\\\"'])


@given(
    st.sampled_from(sorted(OPENINGS)),
    st.integers(0, 4000),
    st.lists(_ESCAPED, max_size=20),
    _TAILS,
    st.sampled_from(EXPRESSIONS),
)
def test_escaped_quotes_cut_off_are_refused_at_the_end(
    opening: bytes, quotes: int, mixed: list[bytes], tail: bytes, text: str
) -> None:
    data = opening + b'\\"' * quotes + b"".join(mixed) + tail
    _fails_everywhere(projection.parse(text), data, len(data), OPENINGS[opening])


_QUOTY = st.text(alphabet='"\\/{}[],: ab\u00e9\n', max_size=12)


@st.composite
def _embedding_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Records holding JSON text in a string, itself holding JSON text: escaped quotes nest."""
    records = []
    for number in range(draw(st.integers(1, 4))):
        payload: Any = {"note": draw(_QUOTY), "path": draw(_QUOTY)}
        for _ in range(draw(st.integers(1, 3))):
            payload = {"json": orjson.dumps(payload).decode(), "n": number}
        records.append({"a": number, "b": orjson.dumps(payload).decode(), "c": draw(_QUOTY)})
    return records


def _array_of(encoded: list[bytes]) -> tuple[bytes, list[int]]:
    """The JSON array of ``encoded`` documents, and the offsets of the commas between them."""
    commas = list(itertools.accumulate(len(document) + 1 for document in encoded))[:-1]
    return b"[" + b",".join(encoded) + b"]", commas


@given(_embedding_records(), st.data(), st.sampled_from(EXPRESSIONS))
def test_records_holding_json_text_cut_anywhere(
    records: list[dict[str, Any]], data: st.DataObject, text: str
) -> None:
    encoded = [orjson.dumps(record) for record in records]
    array, commas = _array_of(encoded)
    parsed = projection.parse(text)
    assert parsed.project(array) == expected_bytes(parsed, records)
    for cut in data.draw(st.lists(st.integers(1, len(array) - 1), min_size=1, max_size=8)):
        index = sum(comma < cut for comma in commas)
        if array[cut] & 0xC0 == 0x80:
            # Cut inside a character: its first bytes are invalid UTF-8 as well as cut short,
            # and the error may name either.
            start = cut - next(back for back in range(1, 4) if array[cut - back] & 0xC0 != 0x80)
            for path in PATHS.values():
                with pytest.raises(PayloadError) as caught:
                    path(parsed, array[:cut])
                assert caught.value.pos in (start, cut)
            continue
        _fails_everywhere(parsed, array[:cut], cut, index)


def test_records_holding_json_text_cut_at_every_byte() -> None:
    inner = {"note": 'say "hi" \\ bye', "path": "C:\\dir\\", "quoted": '\\"'}
    records = [
        {"a": number, "b": orjson.dumps({"json": orjson.dumps(inner).decode()}).decode()}
        for number in range(3)
    ]
    array, commas = _array_of([orjson.dumps(record) for record in records])
    lines = b"".join(orjson.dumps(record) + b"\n" for record in records)
    for text in ("b", "-a", ""):
        parsed = projection.parse(text)
        kept = [expected_bytes(parsed, record) + b"\n" for record in records]
        for cut in range(1, len(array)):
            index = sum(comma < cut for comma in commas)
            _fails(functools.partial(parsed.project, array[:cut]), cut, index=index)
        # NDJSON: the middle line cut anywhere is refused, with its number; no other is lost.
        first, middle, last = lines.splitlines(keepends=True)
        for cut in range(1, len(middle) - 1):
            output, rejected = stream(parsed, first + middle[:cut] + b"\n" + last)
            assert output == kept[0] + kept[2]
            assert [(error.line, error.pos) for error in rejected] == [(2, cut)]


# -- 2. deep arrays ---------------------------------------------------------------------------


@contextlib.contextmanager
def _recursion_limit(limit: int) -> Iterator[None]:
    """For the oracle's own serializer only: the library's decoder must keep its limit."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def _compact(value: Any) -> bytes:
    """``value`` as compact JSON at any depth (orjson stops at 255 levels)."""
    with _recursion_limit(20_000):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _structure(data: bytes, pos: int | None = None) -> tuple[int | None, int]:
    """Counted here byte by byte, up to byte ``pos``: which document of a top-level array holds
    it (None if ``data`` is no array), and the depth there."""
    depth = commas = 0
    in_string = escaped = False
    for offset, byte in enumerate(data):
        if offset == pos:
            break
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
        elif byte in b"]}":
            depth -= 1
        elif byte == 0x2C and depth == 1:
            commas += 1
    return commas if data.lstrip(b" \t\r\n")[:1] == b"[" else None, depth


def _depth_at(data: bytes, pos: int) -> int:
    """How deep the bracket at ``pos`` opens."""
    return _structure(data, pos + 1)[1]


def _document_index(data: bytes, pos: int) -> int | None:
    return _structure(data, pos)[0]


_GAPS = st.sampled_from([b"", b"", b" ", b"\n", b" \t\r\n "])


@given(st.integers(1, 900), documents, _GAPS, st.sampled_from(EXPRESSIONS))
def test_deep_arrays_give_the_reference_result_compact(
    depth: int, inner: Any, gap: bytes, text: str
) -> None:
    data = (b"[" + gap) * depth + orjson.dumps(inner) + (gap + b"]") * depth
    parsed = projection.parse(text)
    output = parsed.project(data)
    assert generic(parsed, data) == output
    if not str(parsed):  # the projection that keeps everything
        assert output == data  # the identity, checked
        return
    assert output == b"[" * depth + expected_bytes(parsed, inner) + b"]" * depth
    assert orjson.loads(output) == reference(parsed, orjson.loads(data))


# Levels of mixed nesting, from the inside out: arrays with and without siblings, objects
# whose selected or dropped key holds the rest.
_LEVELS = {
    "array": (b"[", b"]"),
    "array beside values": (b'[1,"x",', b',{"a":2,"b":[3]}]'),
    "under a": (b'{"b":{"a":0},"a":', b',"c":4}'),
    "under b": (b'{"a":[5],"b":', b"}"),
}


@settings(max_examples=max(1, settings().max_examples // 4))
@given(
    st.lists(st.sampled_from(sorted(_LEVELS)), min_size=1, max_size=880),
    _GAPS,
    st.sampled_from(EXPRESSIONS),
)
def test_mixed_deep_nesting_gives_the_reference_result_compact(
    levels: list[str], gap: bytes, text: str
) -> None:
    pieces = [_LEVELS[level] for level in levels]
    opening = gap.join(before for before, _ in reversed(pieces))
    closing = gap.join(after for _, after in pieces)
    data = opening + gap + b'{"a":{"b":1,"c":2},"b":3}' + gap + closing
    parsed = projection.parse(text)
    output = parsed.project(data)
    assert generic(parsed, data) == output
    if not str(parsed):  # the projection that keeps everything
        assert output == data
        return
    # Values kept whole keep their white space; around them the output is compact. No string
    # here holds white space, so without it the output is the reference's, compact.
    wanted = _compact(reference(parsed, orjson.loads(data)))
    assert output.translate(None, b" \t\r\n") == wanted
    if not gap:
        assert output == wanted


# Values of arrays nested in arrays, by the hundred thousand in a body sent on purpose: numbers
# spelt every way, literals, strings holding escapes, white space and brackets, small objects
# with white space inside. Written as bytes, so that each keeps its spelling.
_SCALARS_AS_WRITTEN = st.sampled_from(
    [
        b"0",
        b"-0",
        b"1.0e+2",
        b"1E5",
        b"true",
        b"null",
        b'"a b"',
        b'"\\u00e9\\n"',
        b'"{"',
        b'"x\\"]"',
    ]
)
_OBJECTS_AS_WRITTEN = st.sampled_from(
    [
        b"{}",
        b'{"a":1,"b":[2, 3]}',
        b'{ "b" : { "a" : [ 1 ] } }',
        b'{"a":{"b":" x "}, "c": [{}]}',
        # Objects nesting others five deep, and longer than a run is looked for: each is read
        # on its own.
        b'{"a":{"b":{"c":{"d":[1, {"e": "}"}]}}}, "b": 2}',
        b'{"b": "' + b'x\\" ' * 150 + b'", "a": {"b": 1}}',
    ]
)
# A value as a tree: its bytes (a scalar or an object) or a list of trees.
_TREES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS_AS_WRITTEN | _OBJECTS_AS_WRITTEN,
    lambda children: st.lists(children, max_size=5),
    max_leaves=40,
)


def _written(tree: Any, gap: bytes, value: Callable[[bytes], bytes]) -> bytes:
    """``tree`` as JSON text, ``gap`` around every bracket and comma, ``value`` applied to each
    scalar and object."""
    if isinstance(tree, bytes):
        return value(tree)
    inner = (gap + b"," + gap).join(_written(child, gap, value) for child in tree)
    return b"[" + gap + inner + gap + b"]"


@given(_TREES.map(lambda tree: [tree]), st.integers(0, 24), _GAPS, st.sampled_from(EXPRESSIONS))
def test_arrays_of_values_keep_each_value_and_project_each_object(
    tree: list[Any], chain: int, gap: bytes, text: str
) -> None:
    """However many values and however deep (a chain of arrays around them, past the levels
    decoded one at a time), each object is projected as it is alone, every other value kept
    byte for byte, the brackets and commas written compact, in every path."""
    for _ in range(chain):
        tree = [tree]
    data = _written(tree, gap, lambda value: value)
    parsed = projection.parse(text)
    if not str(parsed):  # the projection that keeps everything
        assert parsed.project(data) == generic(parsed, data) == data
        return
    # Objects alone are projected by the short path; what stands around them here is joined.
    wanted = _written(
        tree, b"", lambda value: parsed.project(value) if value[:1] == b"{" else value
    )
    assert parsed.project(data) == generic(parsed, data) == wanted
    assert internals.project_compiled(parsed, data) == wanted
    assert orjson.loads(wanted) == reference(parsed, orjson.loads(data))


def test_a_million_numbers_are_made_compact_without_a_call_per_number() -> None:
    """An array with no object in it has nothing to project (rule 7): msgspec makes it compact,
    however many values and however deep, where a walk made a Python call per value."""
    data = b"[" + b'[1, 2.5e0, "x y"], ' * 100_000 + b"[[[]]]]"
    parsed = projection.parse("a(b)")
    with unittest.mock.patch("projection._compile.join_array", side_effect=AssertionError):
        output = parsed.project(data)
        assert output == data.translate(None, b" ").replace(b"xy", b"x y")
        assert generic(parsed, data) == output


def test_many_small_arrays_deep_down_are_cut_in_one_pass() -> None:
    """Thousands of small arrays of a number and an object, two levels down: cut at their
    objects together, as the values of one array, where cutting each on its own cost a second
    for a megabyte of them."""
    data = b"[[" + b"[1, {}]," * 10_000 + b"[{}, 1]]]"
    parsed = projection.parse("a(b)")
    parsed.project(b"{}")  # compiled, as the second use is
    cut = unittest.mock.Mock(wraps=_scan.join_array)
    with unittest.mock.patch("projection._compile.join_array", cut):
        output = parsed.project(data)
    assert output == data.replace(b" ", b"")
    assert cut.call_count == 1


@pytest.mark.parametrize("depth", [1_000, 10_000, 100_000])
@pytest.mark.parametrize(
    "shape",
    [
        "arrays",
        "objects",
        "mixed",
        "spaced",
        "unclosed",
        "second document",
    ],
)
@pytest.mark.parametrize("text", EXPRESSIONS)
def test_nesting_beyond_the_decoder_is_a_payload_error_where_the_decoder_gives_up(
    depth: int, shape: str, text: str
) -> None:
    half = depth // 2
    data, index = {
        "arrays": (b"[" * depth + b"1" + b"]" * depth, 0),
        "objects": (b'{"a":' * depth + b"1" + b"}" * depth, None),
        "mixed": (b'[{"a":' * half + b'"]}"' + b"}]" * half, 0),
        "spaced": (b"[ \r" * depth + b"1" + b"\t]" * depth, 0),
        "unclosed": (b"[" * depth, 0),
        "second document": (b'[{"a":1},' + b"[" * depth + b"]" * depth + b"]", 1),
    }[shape]
    parsed = projection.parse(text)
    # The bracket where the decoder gives up: an opening one, deeper than a few hundred levels.
    # Its depth is the interpreter's recursion limit less the frames in use, which differ from
    # one path of the library to another by a few.
    for path in PATHS.values():
        with pytest.raises(PayloadError) as caught:
            path(parsed, data)
        error = caught.value
        assert "nests deeper than the decoder allows" in str(error)
        _gives_up_at(data, error.pos)
    # In NDJSON, the line is refused with its number and no other line is lost.
    output, rejected = stream(parsed, b'{"a":1}\n' + data + b'\n{"a":2}\n')
    assert output == b"".join(expected_bytes(parsed, {"a": a}) + b"\n" for a in (1, 2))
    assert [error.line for error in rejected] == [2]
    _gives_up_at(data, rejected[0].pos)
    assert _document_index(data, rejected[0].pos or 0) == index


def _gives_up_at(data: bytes, pos: int | None) -> None:
    assert pos is not None
    assert data[pos : pos + 1] in (b"[", b"{")
    assert 500 < _depth_at(data, pos) <= sys.getrecursionlimit()


# -- 3. long white space ----------------------------------------------------------------------

_NAMES = st.text(alphabet='abcxyz é"\\', max_size=6)
_RECORDS = st.fixed_dictionaries(
    {
        "a": st.integers(-(2**53), 2**53),
        "b": _NAMES,
        "c": st.lists(_NAMES, max_size=3),
        "d": st.fixed_dictionaries(
            {"a": st.booleans(), "b": st.none() | st.integers(-(2**63), 2**64 - 1)}
        ),
    }
)
# Expressions whose output keeps no array or object whole, so none of the input's white space
# is copied and the output is exactly the reference's, compact.
_REBUILT = ["a,b", "d(a)", "-c,-d", "*(a)", "d/b,a", "-c,d(-b)"]


def _spelled(value: Any, gap: Callable[[], bytes]) -> bytes:
    """``value`` as JSON with ``gap()`` between every two tokens, and around it."""
    if isinstance(value, dict):
        members = [
            gap() + orjson.dumps(key) + gap() + b":" + _spelled(item, gap)
            for key, item in value.items()
        ]
        return gap() + b"{" + b",".join(members) + gap() + b"}" + gap()
    if isinstance(value, list):
        items = [_spelled(item, gap) for item in value]
        return gap() + b"[" + b",".join(items) + gap() + b"]" + gap()
    return gap() + orjson.dumps(value) + gap()


def _gaps(sizes: list[int], characters: bytes) -> Callable[[], bytes]:
    cycle = itertools.cycle(sizes or [0])
    pattern = characters * (1 + max(sizes or [0]) // len(characters))
    return lambda: pattern[: next(cycle)]


@_examples(100)
@given(
    st.lists(_RECORDS, min_size=1, max_size=4),
    st.lists(st.integers(0, 5000), min_size=1, max_size=8),
    st.sampled_from([b" ", b"\t", b"\r", b" \t\r"]),
    st.sampled_from(_REBUILT),
)
def test_white_space_between_every_token_in_every_path(
    records: list[dict[str, Any]], sizes: list[int], spaces: bytes, text: str
) -> None:
    gap = _gaps(sizes, spaces)
    parsed = projection.parse(text)
    whole = projection.parse("")
    expected = [expected_bytes(parsed, record) for record in records]
    for record, wanted in zip(records, expected, strict=True):
        data = _spelled(record, gap)
        for path in PATHS.values():
            assert path(parsed, data) == wanted + b"\n" * (path is one_line)
        assert whole.project(data) is data
    # Bulk: one array, white space around its documents too.
    array = gap() + b"[" + b",".join(_spelled(record, gap) for record in records) + b"]" + gap()
    assert parsed.project(array) == b"[" + b",".join(expected) + b"]"
    assert generic(parsed, array) == b"[" + b",".join(expected) + b"]"
    # NDJSON: no line break inside a line, blank lines of white space between them.
    lines = b"\n".join(_spelled(record, gap) + b"\n" + gap() for record in records)
    kept = b"".join(wanted + b"\n" for wanted in expected)
    assert b"".join(parsed.project_lines(lines)) == kept
    assert stream(parsed, lines, "ndjson") == stream(parsed, lines, "auto") == (kept, [])


MB = 1 << 20
# White space where no expression below keeps a value whole around it: the output is compact.
_PLACES: dict[str, Callable[[bytes], bytes]] = {
    "leading": lambda ws: ws + b'{"a":1,"b":[2],"c":{"a":3}}',
    "trailing": lambda ws: b'{"a":1,"b":[2],"c":{"a":3}}' + ws,
    "after a key": lambda ws: b'{"a":1,"b"' + ws + b':[2],"c":{"a":3}}',
    "before a comma": lambda ws: b'{"a":1' + ws + b',"b":[2],"c":{"a":3}}',
    "in an array": lambda ws: b'{"a":1,"b":[' + ws + b"2" + ws + b'],"c":{"a":3}}',
    "in an empty object": lambda ws: b'{"a":1,"b":{' + ws + b'},"c":{"a":3}}',
    "in a rebuilt object": lambda ws: b'{"a":1,"b":[2],"c":{' + ws + b'"a"' + ws + b":3}}",
}


@pytest.mark.parametrize("place", sorted(_PLACES))
@pytest.mark.parametrize("characters", [b" ", b"\t\r\n "])
def test_megabytes_of_white_space_in_every_path(place: str, characters: bytes) -> None:
    space = characters * (3 * MB // len(characters))
    data = _PLACES[place](space)
    document = orjson.loads(data)
    for text in ("a", "-b", "c(a),a", "*(a)"):
        if text == "-b" and place == "in a rebuilt object":
            continue  # "-b" keeps "c" whole, white space and all
        parsed = projection.parse(text)
        wanted = expected_bytes(parsed, document)
        assert parsed.project(data) == wanted
        assert generic(parsed, data) == wanted
        assert parsed.project(b"[" + space + data + b"," + data + space + b"]") == (
            b"[" + wanted + b"," + wanted + b"]"
        )
        assert projection.parse("").project(data) is data
        if b"\n" not in characters:
            lines = space + b"\n" + data + b"\n" + space + b"\n\n" + data
            assert b"".join(parsed.project_lines(lines)) == wanted + b"\n" + wanted + b"\n"
            assert stream(parsed, lines) == (wanted + b"\n" + wanted + b"\n", [])


@pytest.mark.parametrize("characters", [b" ", b"\t\r\n "])
def test_megabytes_of_white_space_alone_or_cut_short(characters: bytes) -> None:
    space = characters * (3 * MB // len(characters))
    cut = b"[" + space + b'{"a":' + space
    for text in ("a", "-b", ""):
        parsed = projection.parse(text)
        for name, path in PATHS.items():
            if name == "line":
                assert path(parsed, space) == b""  # a blank line
            else:
                _fails(functools.partial(path, parsed, space), len(space))
        _fails_everywhere(parsed, cut, len(cut), 0)
        assert stream(parsed, space) == (b"", [])


# -- 4. invalid UTF-8 -------------------------------------------------------------------------

# Each form, as it would be injected into a JSON string. In Python's strict decoder each starts
# with an invalid byte (the start of a run of them): the first byte is where an error points.
FAULTS = {
    "lone continuation 80": b"\x80",
    "lone continuation bf": b"\xbf",
    "continuations": b"\x80\x80\x80",
    "overlong slash c0 af": b"\xc0\xaf",
    "overlong c1 bf": b"\xc1\xbf",
    "overlong e0 80 af": b"\xe0\x80\xaf",
    "overlong f0 80 80 af": b"\xf0\x80\x80\xaf",
    "surrogate ed a0 80": b"\xed\xa0\x80",
    "surrogate ed bf bf": b"\xed\xbf\xbf",
    "above U+10FFFF f4 90": b"\xf4\x90\x80\x80",
    "above U+10FFFF f5": b"\xf5\x80\x80\x80",
    "five bytes f8": b"\xf8\x88\x80\x80\x80",
    "fe": b"\xfe",
    "ff": b"\xff",
    "truncated c3": b"\xc3",
    "truncated e2 82": b"\xe2\x82",
    "truncated f0 9f 98": b"\xf0\x9f\x98",
}

# Where a fault stands (at ``@``) and whether the projection keeps it, stated for the reader;
# the tests check each statement against the reference applier too.
PLACES = [
    ("a", b'{"a":"x@y","b":"z"}', True),  # a kept value
    ("a", b'{"a":"x","b":"@"}', False),  # a dropped value
    ("a", b'{"@":1,"a":2}', False),  # a dropped key, beside a typed one
    ("a", b'{"@a":1,"a":2}', False),  # a key that only looks like a kept one
    ("-b", b'{"a":"@","b":1}', True),  # kept beside an exclusion
    ("-b", b'{"a":1,"b":"@"}', False),  # excluded
    ("-b", b'{"@":1,"b":2}', True),  # a key an exclusion keeps
    ("-b", b'{"a":1,"b":{"@":2}}', False),  # a key inside an excluded value
    ("-a/b", b'{"a":{"b":"@","c":1}}', False),
    ("-a/b", b'{"a":{"b":1,"c":"@"}}', True),
    ("*", b'{"a":1,"@":2}', True),  # under "*": everything is kept
    ("*", b'{"a":[1,"@"]}', True),
    ("*(a)", b'{"k":{"a":"@","b":1}}', True),
    ("*(a)", b'{"k":{"a":1,"b":"@"}}', False),
    ("*(a)", b'{"@":{"a":1}}', True),  # the key of every entry is kept
    ("a(b)", b'{"a":{"b":"@","c":1}}', True),  # a typed node
    ("a(b)", b'{"a":{"b":1,"c":"@"}}', False),
    ("a(b)", b'{"a":{"@":1,"b":2}}', False),
    ("a(b)", b'{"a":[{"b":1},{"b":["x","@"]}]}', True),
    ("a(b)", b'{"a":[{"b":1},{"c":"@"}],"b":"@"}', False),
    ("a", b'[{"a":1},{"b":"@"},{"a":"@"}]', True),  # bulk: the third document keeps it
    ("a", b'[{"a":1},{"b":"@"},{"c":"@"}]', False),
    ("-b", b'[[{"a":1}],[{"b":"@"},{"a":["@"]}]]', True),  # arrays in arrays
    ("-b", b'[[{"a":1}],[{"b":"@"},{"b":["@"]}]]', False),
    ("a", b'"@"', True),  # a primitive document is kept whole
    ("a", b'["x","@"]', True),
    ("", b'{"a":{"b":"@"}}', True),  # the empty expression checks everything
    ("", b'["@"]', True),
]


# A fault inside a key: a generic node reads every key, even one it drops (a known fault).
_DROPPED_KEY = re.compile(rb'"[^"]*@[^"]*"\s*:')


def _sentinel(number: int) -> bytes:
    """A valid character no test document holds, one per fault: where the oracle puts it."""
    return chr(0x100000 + number).encode()


def _kept_order(parsed: Projection, valid: bytes, count: int) -> list[int]:
    """Which of ``count`` sentinels the reference keeps, in output order."""
    output = expected_bytes(parsed, orjson.loads(valid))
    found = [(output.find(_sentinel(number)), number) for number in range(count)]
    return [number for where, number in sorted(found) if where >= 0]


def _inject(template: bytes, faults: list[bytes]) -> tuple[bytes, bytes, list[int]]:
    """``template`` with the faults in turn at its ``@``s, the same with a sentinel at each,
    and the offset of each fault."""
    parts = template.split(b"@")
    assert len(parts) == len(faults) + 1
    data, valid, starts = bytearray(parts[0]), bytearray(parts[0]), []
    for number, (fault, part) in enumerate(zip(faults, parts[1:], strict=True)):
        starts.append(len(data))
        data += fault + part
        valid += _sentinel(number) + part
    return bytes(data), bytes(valid), starts


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize(("text", "template", "kept"), PLACES)
def test_invalid_utf8_is_refused_where_kept_and_passes_where_skipped(
    text: str, template: bytes, kept: bool, fault: bytes
) -> None:
    data, valid, starts = _inject(template, [fault] * template.count(b"@"))
    parsed = projection.parse(text)
    order = _kept_order(parsed, valid, len(starts))
    assert bool(order) == kept
    if not kept:
        for name, path in PATHS.items():
            if name == "generic" and _DROPPED_KEY.search(template):
                continue  # reported: test_an_invalid_key_dropped_by_a_generic_node_passes
            output = path(parsed, data)
            assert output.rstrip(b"\n") == expected_bytes(parsed, orjson.loads(valid))
            output.decode()  # valid UTF-8
        return
    pos = starts[order[0]]
    for error in _fails_everywhere(parsed, data, pos, _document_index(data, pos)):
        assert "invalid UTF-8" in str(error)
    # The same document in a bulk array, after another.
    bulk = b'[{"a":1},' + data + b"]"
    _fails(lambda: parsed.project(bulk), pos + 9, index=_document_index(bulk, pos + 9))


@pytest.mark.parametrize(
    "sequence",
    [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xc3\xa9\x80"],
)
def test_a_kept_fault_after_more_than_64_skipped_ones_is_found(sequence: bytes) -> None:
    # Past 64 runs of invalid bytes the search narrows down stretches of the input; a stretch
    # holding a sequence of several invalid bytes could not be split, and the search spun.
    skipped = b",".join(b'"s%d":"\xff"' % number for number in range(70))
    data = b"{" + skipped + b',"a":"ok' + sequence + b'"}'
    with pytest.raises(PayloadError) as caught:
        projection.parse("a").project(data)
    fault = data.rindex(sequence) + (2 if sequence == b"\xc3\xa9\x80" else 0)
    assert caught.value.pos == fault


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"(:?)')


@st.composite
def _injected(draw: st.DrawFn, document: bytes, keys: bool) -> tuple[bytes, bytes, list[int]]:
    """``document`` with faults at the start or end of some of its values' strings (or keys')."""
    strings = [
        (match.start(), match.end(1) - len(match.group(1)))
        for match in _STRING.finditer(document)
        if bool(match.group(1)) == keys
    ]
    assume(strings)
    chosen = draw(st.lists(st.sampled_from(strings), min_size=1, max_size=6, unique=True))
    template = bytearray(document)
    for start, end in sorted(chosen, reverse=True):  # from the end: offsets stay right
        where = start + 1 if draw(st.booleans()) else end - 1
        template[where:where] = b"@"
    faults = st.sampled_from(list(FAULTS.values()))
    return _inject(
        bytes(template), draw(st.lists(faults, min_size=len(chosen), max_size=len(chosen)))
    )


@given(expressions, documents, st.booleans(), st.data())
def test_invalid_utf8_anywhere_in_any_document(
    text: str, document: Any, keys: bool, data: st.DataObject
) -> None:
    encoded = orjson.dumps(document)
    assume(b"@" not in encoded and b"\xf4" not in encoded)  # no sentinel
    bad, valid, starts = data.draw(_injected(encoded, keys))
    parsed = projection.parse(text)
    order = _kept_order(parsed, valid, len(starts))
    if order:
        # Few runs of invalid bytes: each gets a marker, the first kept in output order is named.
        pos = starts[order[0]]
        _fails_everywhere(parsed, bad, pos, _document_index(bad, pos))
        return
    wanted = expected_bytes(parsed, orjson.loads(valid))
    for path in (Projection.project, generic):
        try:
            output: bytes | PayloadError = path(parsed, bad)
        except PayloadError as error:
            output = error
        if isinstance(output, PayloadError):
            # Reported: a generic node reads the keys it drops (the fast path takes one for a
            # value of a shape its Structs do not take). Never a value, never a kept key.
            assert keys
            assert output.pos in starts
        else:
            assert output == wanted


def _invalid_runs(data: bytes) -> list[tuple[int, int]]:
    """The runs of invalid bytes Python's strict decoder finds in the whole of ``data``."""
    runs: list[tuple[int, int]] = []
    start = 0
    while True:
        try:
            codecs.utf_8_decode(data[start:], "strict", True)
        except UnicodeDecodeError as error:
            runs.append((start + error.start, start + error.end))
            start += error.end
        else:
            return runs


_CHARACTERS = [*FAULTS.values(), "é".encode(), "€".encode(), "😀".encode(), b"a"]


@given(st.lists(st.sampled_from(_CHARACTERS), max_size=80), st.integers(4, 9), st.integers(1, 70))
def test_runs_of_invalid_bytes_are_found_window_by_window_as_in_the_whole(
    pieces: list[bytes], window: int, most: int
) -> None:
    # The scan decodes a window at a time (64 KiB); windows of a few bytes cut characters and
    # faults at every place.
    data = b"".join(pieces)
    with unittest.mock.patch.object(_scan, "_WINDOW", window):
        assert _scan._invalid_runs(data, most) == _invalid_runs(data)[:most]


@_examples(60)
@given(
    st.integers(0, 300),
    st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=4),
    st.sampled_from(["a", "a(b)", "-s", "z,a,-*/s", "*(b)", "t"]),
    st.booleans(),
)
def test_many_invalid_runs_some_skipped_before_the_kept_ones(
    skipped: int, kept: list[str], text: str, at_the_end: bool
) -> None:
    # ``skipped`` records whose faults most projections drop, beside records keeping faults:
    # past 64 runs of invalid bytes the search for a kept one narrows down stretches.
    parsed = projection.parse(text)
    dropped = [b'{"s":"@","t":{"s":"x@"}}'] * skipped
    keeping = [b'{"a":{"b":"x@"},"s":1}'] * len(kept)
    template = b"[" + b",".join(dropped + keeping if at_the_end else keeping + dropped) + b"]"
    faults = list(
        itertools.islice(itertools.cycle(FAULTS[name] for name in kept), template.count(b"@"))
    )
    data, valid, starts = _inject(template, faults)
    order = _kept_order(parsed, valid, len(starts))
    if not order:
        assert parsed.project(data) == expected_bytes(parsed, orjson.loads(valid))
        return
    with pytest.raises(PayloadError) as caught:
        parsed.project(data)
    assert caught.value.pos == starts[order[0]], len(_invalid_runs(data))
    assert caught.value.index == _document_index(data, starts[order[0]])


@pytest.mark.parametrize("fault", [b"\xff", b"\xed\xa0\x80", b"\xe2\x82"])
@pytest.mark.parametrize("text", ["a", "-b", "a(b)", ""])
def test_invalid_utf8_in_ndjson_numbers_its_line_and_loses_no_other(
    fault: bytes, text: str
) -> None:
    parsed = projection.parse(text)
    documents = [orjson.dumps({"a": number, "b": "b" * number}) for number in range(200)]
    faulty = {37: b'{"a":"@","b":1}', 38: b'{"a":1,"b":"@"}', 150: b'{"b":"@@","a":[1,"@"]}'}
    lines = list(documents)
    refused: list[tuple[int, int]] = []  # line number, offset of the fault named
    for number, template in faulty.items():
        count = template.count(b"@")
        lines[number], documents[number], starts = _inject(template, [fault] * count)
        order = _kept_order(parsed, documents[number], count)
        if order:
            refused.append((number + 1, starts[order[0]]))
    wanted = [
        expected_bytes(parsed, orjson.loads(document)) + b"\n"
        for number, document in enumerate(documents)
        if number + 1 not in dict(refused)
    ]
    data = b"\n".join(lines) + b"\n"
    output, rejected = stream(parsed, data)
    assert output == b"".join(wanted)
    assert [(error.line, error.pos) for error in rejected] == refused
    # Without a handler, the first refused line stops the lines, after what came before.
    projected = parsed.project_lines(data)
    first = refused[0][0]
    assert list(itertools.islice(projected, first - 1)) == wanted[: first - 1]
    _fails(lambda: next(projected), refused[0][1], line=first)


@pytest.mark.parametrize(
    ("text", "case_insensitive", "data", "wanted"),
    [
        ("a(b)", False, b'{"\xff":1,"a":"x"}', b'{"a":"x"}'),
        ("a(b)", False, b'{"\xff":1,"a":[[{"b":1,"c":2}]]}', b'{"a":[[{"b":1}]]}'),
        ("a", True, b'{"\xff":1,"A":2}', b'{"A":2}'),
        ('`a"b`', False, b'{"\xff":1,"a\\"b":3}', b'{"a\\"b":3}'),
    ],
)
def test_an_invalid_key_dropped_by_a_generic_node_passes(
    text: str, case_insensitive: bool, data: bytes, wanted: bytes
) -> None:
    assert projection.parse(text, case_insensitive=case_insensitive).project(data) == wanted


@pytest.mark.parametrize(
    ("text", "data", "pos"),
    [
        ("a", b'{"b":"\xff","a":1', 14),  # cut short
        ("a", b'[{"b":"\xff"},{"a":"\\"', 19),  # an escaped quote cut off
        ("a", b'{"b":"\xff","a":"\\ud800"}', 14),  # a lone surrogate, kept: its escape
    ],
)
def test_a_skipped_invalid_byte_does_not_hide_the_fault(text: str, data: bytes, pos: int) -> None:
    with pytest.raises(PayloadError) as caught:
        projection.parse(text).project(data)
    assert caught.value.pos == pos
    assert "UTF-8" not in str(caught.value)


# -- 5. canonical blow-up ---------------------------------------------------------------------


class Limits(NamedTuple):
    """The limits ``projection.parse`` takes, as its keyword arguments."""

    max_length: int
    max_depth: int
    max_items: int


_RAISED = Limits(max_length=10**7, max_items=10**6, max_depth=64)


def _parse(text: str, case_insensitive: bool, limits: Limits) -> Projection:
    return projection.parse(text, case_insensitive=case_insensitive, **limits._asdict())


def _measures(text: str, case_insensitive: bool) -> tuple[int, int]:
    """The length and the names of the text a limit is held to: the expression's, or its
    canonical text's (printed with the limits raised) where that is larger."""
    canonical = str(_parse(text, case_insensitive, _RAISED))
    return (
        max(len(text), len(canonical)),
        max(len(NAME.findall(text)), len(NAME.findall(canonical))),
    )


def _blow_up_pos(text: str) -> int:
    """Where a refusal of the canonical text points, for the families built below: the first
    exclusion through "*", else the exclusion nested deepest (``-c0`` here), else the start."""
    through = re.search(r"(?:^|[,(])-\*/", text)
    if through is not None:
        return through.end() - 2
    return text.index("-c0") + 1 if "-c0" in text else 0


@st.composite
def _blow_ups(draw: st.DrawFn) -> tuple[str, bool]:
    """An expression whose canonical text is longer, or names more, than itself."""
    count = draw(st.integers(1, 300))
    names = [f"k{number}" for number in range(count)]
    family = draw(st.sampled_from(["-*/x", "-*/*/x", "groups", "paths", "folded", "mixed"]))
    if family == "-*/x":
        exclusions = draw(st.lists(st.sampled_from(["x", "y/z", "*/w"]), min_size=1, max_size=3))
        items = names + ["-*/" + exclusion for exclusion in exclusions]
        return ",".join(draw(st.permutations(items))), False
    if family == "-*/*/x":
        items = [f"{name}(a,b)" for name in names] + ["-*/*/x"]
        return ",".join(draw(st.permutations(items))), False
    if family == "groups":
        depth = draw(st.integers(1, 10))
        opening = "*," + "".join(f"a{level}(*," for level in range(depth))
        return opening + ",".join(f"-c{number}" for number in range(count)) + ")" * depth, False
    if family == "paths":
        return ",".join(f"{name}/b/c" for name in names), False
    if family == "folded":
        # Names that grow when folded: "ß" is "ss", "ﬃ" is "ffi".
        grown = draw(st.sampled_from(["ß", "ﬃ", "ŉ", "ΐ"]))
        return ",".join(f"{grown * 3}{number}" for number in range(count)), True
    return ",".join([*names[:10], "*", "-*/ß"] + [f"-{name}/q" for name in names[10:]]), True


@_examples(120)
@given(_blow_ups(), st.data())
def test_canonical_blow_up_is_refused_exactly_past_the_limits(
    blow_up: tuple[str, bool], data: st.DataObject
) -> None:
    text, case_insensitive = blow_up
    length, names = _measures(text, case_insensitive)
    max_length = data.draw(st.integers(max(0, length - 2), length + 2), label="max_length")
    max_items = data.draw(st.integers(max(0, names - 2), names + 2), label="max_items")
    limits = Limits(max_length=max_length, max_items=max_items, max_depth=64)
    if length > max_length or names > max_items:
        with pytest.raises(ProjectionLimitError) as caught:
            _parse(text, case_insensitive, limits)
        assert 0 <= caught.value.pos <= len(text)
        if len(text) <= max_length and len(NAME.findall(text)) <= max_items:
            assert "in canonical form" in caught.value.message
            assert caught.value.pos == _blow_up_pos(text)
        return
    parsed = _parse(text, case_insensitive, limits)
    assert _parse(str(parsed), case_insensitive, limits) == parsed


@pytest.mark.parametrize(
    ("text", "case_insensitive"),
    [
        (",".join(f"k{number}" for number in range(300)) + ",-*/x", False),
        ("-*/x," + ",".join(f"k{number}" for number in range(300)), False),
        (",".join(f"k{number}(a,b)" for number in range(200)) + ",-*/*/x", False),
        ("*," + "".join(f"a{level}(*," for level in range(8)) + "-c0,-c1,-c2" + ")" * 8, False),
        (",".join(f"a{number}/b/c" for number in range(100)), False),
        (",".join(f"ß{number}" for number in range(300)), True),
        (",".join(f"ﬃ{number}" for number in range(100)) + ",-*/ß", True),
    ],
)
def test_canonical_limits_at_exactly_the_limit_and_one_over(
    text: str, case_insensitive: bool
) -> None:
    length, names = _measures(text, case_insensitive)
    own = Limits(max_length=len(text), max_items=len(NAME.findall(text)), max_depth=64)
    at_limit = Limits(max_length=length, max_items=names, max_depth=64)
    assert at_limit != own  # it does blow up
    parsed = _parse(text, case_insensitive, at_limit)
    assert _parse(str(parsed), case_insensitive, at_limit) == parsed
    for limit in ("max_length", "max_items"):
        over = at_limit._replace(**{limit: getattr(at_limit, limit) - 1})
        with pytest.raises(ProjectionLimitError) as caught:
            _parse(text, case_insensitive, over)
        if getattr(at_limit, limit) > getattr(own, limit):  # the canonical text passes it
            assert "in canonical form" in caught.value.message
            assert caught.value.pos == _blow_up_pos(text)
        else:
            assert "in canonical form" not in caught.value.message


# -- 6. expressions ---------------------------------------------------------------------------

_GRAMMAR_CHARACTERS = [*"ab-*,()/` \t\n\r", "ß", "é", ".", "\\", '"']


@st.composite
def _hostile_texts(draw: st.DrawFn) -> str:
    """Text from the grammar's characters, some of it in runs: deep groups, long quotes."""
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from([*_GRAMMAR_CHARACTERS, "``"]),
                st.tuples(
                    st.sampled_from(["a(", ")", "`", "-*/", "a/", ","]), st.integers(1, 300)
                ).map(lambda run: run[0] * run[1]),
            ),
            max_size=40,
        )
    )
    return "".join(pieces)


@given(
    st.one_of(
        _hostile_texts(), st.text(alphabet=st.sampled_from(_GRAMMAR_CHARACTERS), max_size=60)
    ),
    st.integers(0, 5000),
    st.integers(1, 64),
    st.integers(0, 2000),
    st.booleans(),
)
def test_any_text_parses_or_is_refused_within_it(
    text: str, max_length: int, max_depth: int, max_items: int, case_insensitive: bool
) -> None:
    limits = Limits(max_length=max_length, max_depth=max_depth, max_items=max_items)
    try:
        parsed: Projection | ProjectionError = _parse(text, case_insensitive, limits)
    except ProjectionError as error:
        parsed = error
    if isinstance(parsed, ProjectionError):
        assert isinstance(parsed, projection.ExpressionError)
        assert 0 <= parsed.pos <= len(text)
        if len(text) > max_length:
            assert isinstance(parsed, ProjectionLimitError)
            assert parsed.pos == max_length
        return
    assert len(text) <= max_length
    assert _parse(str(parsed), case_insensitive, limits) == parsed


_DASHED = st.lists(
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda name: name != "h"),
    min_size=1,
    max_size=3,
).map(lambda names: ",".join("-" + name for name in names))
_OPTION_PLACES = [
    ("{expr}", "{file}"),
    ("{expr}", "{file}", "-w", "1"),
    ("{expr}", "{file}", "-i"),
    ("--workers", "1", "{expr}", "{file}"),
    ("--on-error=skip", "{expr}", "--", "{file}"),
    ("{expr}", "--format", "json", "{file}"),
]


def _command(*words: str) -> tuple[int, bytes, bytes]:
    """The command run in this process (hypothesis runs it many times): status, out, err."""
    out, err = io.BytesIO(), io.BytesIO()
    with (
        contextlib.redirect_stdout(io.TextIOWrapper(out, write_through=True)),
        contextlib.redirect_stderr(io.TextIOWrapper(err, write_through=True)),
    ):
        status = main(list(words))
        return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def document_file() -> Iterator[tuple[Path, dict[str, Any]]]:
    document = {"a": 1, "h": 2, "i": 3, "id": 4, "w": 5, "warehouse": 6, "x": [{"i": 7, "w": 8}]}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "document.json")
        path.write_bytes(orjson.dumps(document))
        yield path, document


@_examples(60)
@given(
    _DASHED | st.sampled_from(["-i", "-w", "-warehouse", "-i,-w", "-x/i"]),
    st.sampled_from(_OPTION_PLACES),
)
def test_expressions_starting_with_a_dash_on_the_command_line(
    document_file: tuple[Path, dict[str, Any]], text: str, place: tuple[str, ...]
) -> None:
    path, document = document_file
    status, out, err = _command("apply", *(word.format(expr=text, file=path) for word in place))
    assert (status, err) == (0, b"")
    parsed = projection.parse(text, case_insensitive="-i" in place)
    assert out == expected_bytes(parsed, document) + b"\n"


# -- 7. apply is given raw JSON ---------------------------------------------------------------


_RAW: list[Callable[[bytes], object]] = [
    bytes,
    bytearray,
    memoryview,
    lambda data: data.decode("utf-8", "surrogatepass"),
]


@given(expressions, json_texts, st.sampled_from(_RAW))
def test_apply_refuses_raw_json(text: str, data: bytes, kind: Callable[[bytes], object]) -> None:
    parsed = projection.parse(text)
    raw = kind(data)
    with pytest.raises(TypeError, match="use project"):
        parsed.apply(raw)
    # Inside a value, the same text is a string like any other.
    if isinstance(raw, str):
        assert parsed.apply([raw]) == [raw]


@pytest.mark.parametrize("raw", [b"{}", bytearray(b"[]"), memoryview(b'{"a":1}'), '{"a": 1}', ""])
def test_apply_refuses_raw_json_even_for_everything(raw: object) -> None:
    for text in ("", "*", "a", "-a"):
        with pytest.raises(TypeError, match="apply takes decoded JSON"):
            projection.parse(text).apply(raw)
