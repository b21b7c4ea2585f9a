"""The scanner's positions, against the algorithms they replaced: the same byte, the same element.

``projection._scan`` finds where a refused document nests too deep and which element of an array
holds a byte. Both were found by algorithms simpler than today's, kept here as oracles only: a
bisection over beginnings of the data, each decoded again (``too_deep``, a decoding of all of it
per halving), and the brackets outside strings read by splitting every string off
(``element_at``). The new ones must give what those gave, byte for byte, on generated input:
valid beginnings of every shape (strings holding brackets, escaped quotes, white space), cut
anywhere, then deep nesting of arrays and objects. What they cost is not timed here
(``python -m benchmarks --only hostile`` does); what they decode is counted, for it says whether
the work grows with the input once or once per halving.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import sys
import unittest.mock
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from projection import _scan

# -- the oracles ------------------------------------------------------------------------------

_VALUE = msgspec.json.Decoder(msgspec.Raw)
_ELEMENTS = msgspec.json.Decoder(list[msgspec.Raw])
_STRUCTURE = bytes(b for b in range(256) if b not in b"[]{},")
_CLOSED_PAIR = re.compile(rb"\[[,]*+\]|\{[,]*+\}")
_OPENING = re.compile(rb"[\[{]")


def old_too_deep(data: bytes) -> int:
    """The shortest beginning of ``data`` the decoder refuses for its depth, by bisection."""
    view = memoryview(data)
    fits, fails = 0, len(view)
    while fails - fits > 1:
        middle = (fits + fails) // 2
        try:
            _VALUE.decode(view[:middle])
        except RecursionError:
            fails = middle
            continue
        except msgspec.DecodeError:
            pass
        fits = middle
    return fails - 1


def old_brackets(data: bytes, end: int) -> bytes:
    """The structure outside strings, every string split off."""
    unescaped = bytes(data[:end]).replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(unescaped.split(b'"')[::2]).translate(None, _STRUCTURE)


def old_element_at(data: bytes, pos: int) -> int | None:
    """Which element of a top-level array holds byte ``pos``, from the brackets before it, or
    from the elements' lengths in a whole compact array; None past the array's end, where the
    brackets named an element too, which no element is."""
    if data.lstrip(b" \t\r\n")[:1] != b"[":
        return None
    try:
        _ELEMENTS.decode(data[:pos])
    except (msgspec.DecodeError, RecursionError):
        pass
    else:
        return None
    try:
        elements = _ELEMENTS.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass
    else:
        ends = list(itertools.accumulate(len(element) + 1 for element in elements))
        if ends and ends[-1] + 1 == len(data):
            return bisect.bisect_left(ends, pos)
    structure = old_brackets(data, pos)
    for _ in range(32):
        inner = _CLOSED_PAIR.sub(b"", structure)
        if len(inner) == len(structure):
            break
        structure = inner
    else:
        depth = index = 0
        for token in structure:
            if token in b"[{":
                depth += 1
            elif token in b"]}":
                depth -= 1
            elif depth == 1:
                index += 1
        return index
    second = _OPENING.search(structure, 1)
    return structure.count(b",", 1, len(structure) if second is None else second.start())


# -- generated input --------------------------------------------------------------------------

# Strings holding the structure, quotes and backslashes (escaped when written), and more.
_TEXT = st.text(alphabet='[]{},:"\\ \t\nabé€😀/', max_size=8)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), _TEXT
)
_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=20,
)


@st.composite
def _written(draw: st.DrawFn, value: Any) -> bytes:
    """``value`` as JSON text, compact or indented, escaping all that is not ASCII or not."""
    indent = draw(st.sampled_from([None, None, 0, 1, "\t", " \r\n"]))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :")]))
    ascii_only = draw(st.booleans())
    return json.dumps(value, indent=indent, separators=separators, ensure_ascii=ascii_only).encode()


_ARRAYS = st.lists(st.one_of(_VALUES, st.dictionaries(_TEXT, _VALUES, max_size=4)), max_size=6)
_OBJECT_ARRAYS = st.lists(st.dictionaries(_TEXT, _VALUES, max_size=4), max_size=6)


@given(st.one_of(_ARRAYS, _OBJECT_ARRAYS).flatmap(_written), st.data())
def test_element_at_names_the_element_the_brackets_named(data: bytes, draw: st.DataObject) -> None:
    # Every byte of a whole array, and the array cut at every byte: the positions faults are
    # found at (a fault where the data ends, or inside a string), and any other.
    for pos in range(len(data) + 1):
        assert _scan.element_at(data, pos) == old_element_at(data, pos), pos
    cut = draw.draw(st.integers(0, len(data)))
    for pos in range(cut + 1):
        assert _scan.element_at(data[:cut], pos) == old_element_at(data[:cut], pos), (cut, pos)


_GARBAGE = st.sampled_from([b"x", b"]", b"}", b"[", b"{", b",", b'"', b"\\", b"\xff", b" 1"])


@given(_ARRAYS.flatmap(_written), st.lists(st.tuples(st.integers(0), _GARBAGE), max_size=3))
def test_element_at_names_the_same_element_in_broken_arrays(
    data: bytes, faults: list[tuple[int, bytes]]
) -> None:
    # Trailing text, brackets that do not match, strings that do not end: faults of every kind.
    # A fault is found where the data before it is sound: there, the same element. Past the
    # first fault (where no fault is found) the brackets may not match, and whatever element
    # the brackets are read to name is named.
    whole = data
    for place, fault in faults:
        place %= len(data) + 1
        data = data[:place] + fault + data[place:]
    sound = next(
        (pos for pos, (a, b) in enumerate(zip(data, whole, strict=False)) if a != b),
        min(len(data), len(whole)),
    )
    for pos in range(len(data) + 1):
        named = _scan.element_at(data, pos)
        if pos <= sound:
            assert named == old_element_at(data, pos), pos
        else:
            assert named is None or 0 <= named <= data.count(b","), pos


@pytest.mark.parametrize(
    "data",
    [
        b'[{"a":1},{"b":2}] x',  # trailing text after a shallow array
        b'[{"a":' + b"[" * 40 + b"1" + b"]" * 40 + b'},{"b":2}] x',  # and after a deep one
        *(b"[1,[" + b"[" * depth + b"]" * depth + b"],2]  x" for depth in range(28, 34)),
        *(b"[1,[" + b"[" * depth + b"]" * depth + b"],2]" for depth in range(28, 34)),
        b"[1,2]",
        b"[1, 2]",
        b"[[]]",
        b"[" + b"[" * 40 + b"]" * 40 + b",1,2",
        b'[{"a":"\\ud800"},{"b":"x\\"]"},',
        b'  [ {"a" : 1} ,\n {"b"',
        b'[{"a":1},{"b":tru',
        b'[{"a":1},{"b":"\\u12',
        b"[1,2,[3,{",
    ],
)
def test_element_at_on_edges_of_the_counting(data: bytes) -> None:
    for pos in range(len(data) + 1):
        assert _scan.element_at(data, pos) == old_element_at(data, pos), pos


@given(st.text(alphabet='[]{},"\\ ab', max_size=60).map(str.encode), st.data())
def test_brackets_are_the_structure_outside_strings(data: bytes, draw: st.DataObject) -> None:
    end = draw.draw(st.integers(0, len(data)))
    assert _scan._brackets(data, end) == old_brackets(data, end)


# -- too deep ---------------------------------------------------------------------------------

# Levels of nesting, from the outside in: what opens one, and what stands before it.
_OPENERS = st.sampled_from(
    [b"[", b'{"a":', b"[1,", b'{"]":"{","a":', b' [ "\\"[" , ', b'{"\\\\":', b"[[],{},"]
)


# Values closed where they stand, as many as fill pieces of the scan: ``[],[],...`` opens a
# level for every three bytes and closes it again.
_CLOSED = st.sampled_from([b"[],", b'{"a":[1,"]"]},', b"[[[]]],", b'"[[[",'])


@st.composite
def _deep_documents(draw: st.DrawFn) -> bytes:
    """A valid beginning of an array of values, then nesting deeper than the decoder allows,
    closed or not, maybe followed by more; on the way, maybe a run of values closed where
    they stand, a few levels below the decoder's limit or far from it."""
    before = draw(st.lists(_VALUES, max_size=5).flatmap(_written))
    before = before[: before.rindex(b"]")].rstrip()
    before += b"," if len(before) > 1 else b""
    units = draw(st.lists(_OPENERS, min_size=1, max_size=4))
    depth = sys.getrecursionlimit() + draw(st.integers(-400, 200))
    levels = list(itertools.islice(itertools.cycle(units), depth))
    closed = draw(_CLOSED) * draw(st.sampled_from([0, 0, 40, 400]))
    if closed:  # where a level is open, and a value comes next
        # A share of the levels: how many there are depends on the recursion limit, which
        # Hypothesis may raise as it runs; what is drawn must not.
        cut = len(levels) * draw(st.integers(0, 100)) // 100
        levels[cut:cut] = [b"[" + closed]
    opening = b"".join(levels)
    closing = draw(st.sampled_from([b"", b"1" + b"]" * 50, b"null}]}]}"]))
    return before + opening + closing + draw(st.sampled_from([b"", b"]", b',"x"]']))


_Named = tuple[int, int | None]  # a byte, and the element of the array that holds it


def _both(data: bytes) -> tuple[_Named, _Named]:
    """The byte ``too_deep`` names and the byte the bisection named, both called from here,
    each with the element the brackets before it name.

    The interpreter (CPython 3.11) lets a call go one level deeper once it has made it a few
    times: the bisection is made to make its call a few times first, as it had in a process
    that refused deep data before.
    """
    for _ in range(3):
        old_too_deep(b"[" * 5_000)
    new = _scan.too_deep(data)
    old = old_too_deep(data)
    return new, (old, old_element_at(data, old))


@given(_deep_documents())
def test_too_deep_names_the_byte_the_bisection_named(data: bytes) -> None:
    new, old = _both(data)
    assert new == old


@given(_deep_documents())
def test_too_deep_in_small_pieces(data: bytes) -> None:
    """Pieces of a few bytes: every document is read in many, each walked after the decoder
    said it may hold the bracket, or read again in smaller ones."""
    with unittest.mock.patch.multiple(_scan, _PIECE=64, _SMALLER=4, _WALKED=16):
        new, old = _both(data)
    assert new == old


@given(_deep_documents(), st.integers(1, 30))
def test_too_deep_at_another_depth_of_the_stack(data: bytes, levels: int) -> None:
    def deeper(levels: int) -> tuple[_Named, _Named]:
        return deeper(levels - 1) if levels else _both(data)

    new, old = deeper(levels)
    assert new == old


class _Counting:
    """A decoder that adds up the bytes it is given."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.decoded = 0

    def decode(self, data: Any) -> Any:
        self.decoded += len(data)
        return self.decoder.decode(data)


def _tickets(count: int) -> bytes:
    ticket = {"id": 1, "name": 'a "quoted" [name]', "tags": [{"k": "v,]"}, {"k": "}"}], "n": None}
    return b"[" + b",".join(json.dumps(ticket).encode() for _ in range(count))


def _deep_after_tickets(count: int) -> bytes:
    return _tickets(count) + b"," + b'[{"a":' * 2_000


def _closed_below_the_limit(count: int) -> bytes:
    # Every piece opens enough brackets to reach the limit, and closes them again.
    return b"[" * (sys.getrecursionlimit() - 40) + b"[]," * (30 * count) + b"[" * 100


def _closed_below_the_limit_after_tickets(count: int) -> bytes:
    below = b"[1," * (sys.getrecursionlimit() - 40) + b'{"a":[1,"]"]},' * (3 * count)
    return _tickets(count) + b"," + below + b"[" * 100


def _closed_at_the_top(count: int) -> bytes:
    # Every piece holds elements of the array, and the last comma is no element's.
    return b"[" + b"[1,2]," * (15 * count) + b"[1," * sys.getrecursionlimit()


@pytest.mark.parametrize(
    "document",
    [
        _deep_after_tickets,
        _closed_below_the_limit,
        _closed_below_the_limit_after_tickets,
        _closed_at_the_top,
    ],
)
def test_too_deep_decodes_a_few_times_the_data_and_walks_one_small_piece(
    document: Callable[[int], bytes],
) -> None:
    """What ``too_deep`` decodes grows with the data by a few bytes for each byte, and it
    walks one small piece in Python, whatever the data holds before the bracket: the
    bisection decoded all of it a dozen times and more, and the first linear search walked
    every piece that opened enough brackets (fifty times a decoding's cost)."""
    decoded, walked = [], []
    for count in (1_000, 8_000):
        data = document(count)
        elements = _Counting(_scan._ELEMENTS)
        walk = unittest.mock.Mock(wraps=_scan._opening_in)
        with unittest.mock.patch.multiple(_scan, _ELEMENTS=elements, _opening_in=walk):
            pos, index = _scan.too_deep(data)
        assert data[pos : pos + 1] in (b"[", b"{")  # (one frame more in the counting: not old's)
        assert index == old_element_at(data, pos)
        decoded.append((len(data), elements.decoded))
        walked.append([len(call.args[0]) for call in walk.call_args_list])
    (short, short_decoded), (long, long_decoded) = decoded
    assert long_decoded - short_decoded <= 3 * (long - short)
    assert all(len(pieces) == 1 and pieces[0] <= _scan._WALKED for pieces in walked)


@pytest.mark.parametrize("cut", [0, 7, 40, 58])
def test_a_cut_array_of_objects_is_decoded_once_or_twice_to_name_the_element(cut: int) -> None:
    data = _tickets(2_000)
    data = data[: len(data) - cut]
    elements, counting = _Counting(_scan._ELEMENTS), _Counting(_scan._COUNTING)
    with unittest.mock.patch.multiple(_scan, _ELEMENTS=elements, _COUNTING=counting):
        index = _scan.element_at(data, len(data))
    assert index == old_element_at(data, len(data))
    # Once; twice where the data ends with an object or an array, which may close an element.
    times = 2 if data.rstrip()[-1:] in b"}]" else 1
    assert elements.decoded + counting.decoded <= times * (len(data) + 8)
