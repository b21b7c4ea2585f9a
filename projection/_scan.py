"""Byte-level scans of JSON that the decoder does not do: white space, positions, UTF-8, arrays.

Every function here is linear in its input with a small constant, whatever the input holds:
they run on hostile bodies in front of a gateway, on the error path as on the valid one. Loops
advance over runs matched by regular expressions without backtracking (possessive quantifiers),
never byte by byte in Python; strings are matched whole, so nothing inside one is read twice.
"""

from __future__ import annotations

import bisect
import codecs
import itertools
import re
import threading
from collections.abc import Callable, Generator
from typing import Any, Final, TypeAlias

import msgspec

__all__ = [
    "BYTE_NAMED",
    "JSON_WHITE_SPACE",
    "Buffer",
    "element_at",
    "first_byte",
    "invalid_utf8",
    "is_json",
    "join_array",
    "kept_invalid_utf8",
    "lone_surrogate",
    "questioned",
    "too_deep",
    "traced",
    "trailing_start",
]

Buffer: TypeAlias = bytes | bytearray | memoryview
JSON_WHITE_SPACE: Final = b" \t\r\n"

_WHITE_SPACE: Final = re.compile(rb"[ \t\r\n]*+")
# Every byte but the structure and the quotes around strings.
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'[]{},"')
_VALUE: Final = msgspec.json.Decoder(msgspec.Raw)
# Where a message of the decoder's names the byte of a fault; in words that may change, so every
# caller has another way to find the byte where it names none.
BYTE_NAMED: Final = re.compile(r"\(byte (\d+)\)")


def _named_byte(error: msgspec.DecodeError) -> int | None:
    """The byte the decoder's ``error`` names, or None."""
    found = BYTE_NAMED.search(str(error))
    return None if found is None else int(found.group(1))


def first_byte(data: Buffer) -> int:
    """The first byte of ``data`` that is not JSON white space, or -1 if there is none."""
    view = memoryview(data)
    start = _WHITE_SPACE.match(view).end()  # type: ignore[union-attr]  # always matches
    return view[start] if start < len(view) else -1


def _brackets(data: Buffer, end: int) -> bytes:
    """The brackets, braces and commas of ``data[:end]`` outside strings, in order."""
    return _outside_strings(_unescaped(data[:end]), False)[0]


def _unescaped(data: Buffer) -> bytes:
    """``data`` with its escaped backslashes, then its escaped quotes, blanked out (left to
    right, so ``\\\\"`` still ends a string): every quote left opens or closes a string, and
    every byte keeps its offset."""
    text = bytes(data)
    if b"\\" in text:  # one search at the speed of memory spares two replacements
        text = text.replace(b"\\\\", b"  ").replace(b'\\"', b"  ")
    return text


def _outside_strings(text: bytes, inside: bool) -> tuple[bytes, bool]:
    """The structure of ``text`` (``_unescaped``) outside strings, and whether ``text`` ends in
    one; ``inside``: whether it starts in one.

    Only the quotes and the structure are kept, and then two quotes side by side taken out:
    whether they open and close a string or close one and open the next, nothing of the
    structure lies between them. What is left is mostly structure, a few strings holding
    brackets, split at the speed of memory; splitting every string of the text made a Python
    object of each, which took four times as long.
    """
    kept = text.translate(None, _NOT_STRUCTURE)
    parts = ((b'"' if inside else b"") + kept).replace(b'""', b"").split(b'"')
    # An odd number of quotes (counting the one put first) ends in a string.
    return b"".join(parts[::2]), len(parts) % 2 == 0


def trailing_start(data: Buffer, reported: int) -> int:
    """Where what follows a whole JSON value starts, when the decoder reported ``reported``.

    Decoders name that byte or the one after it; the value and its white space end before it.
    """
    if reported > 0 and is_json(memoryview(data)[: reported - 1]):
        return reported - 1
    return reported


def is_json(data: Buffer) -> bool:
    """Whether ``data`` is one whole JSON value (surrounding white space allowed)."""
    try:
        _VALUE.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def element_at(data: Buffer, pos: int) -> int | None:
    """Which element of a top-level array holds byte ``pos``; None if ``data`` is no array, or
    if ``pos`` lies past the array's end (trailing text), where no element holds it.

    The elements that end before ``pos`` are counted by the decoder where it can tell
    (``_counted_element_at``, ``_after_last_comma``). Otherwise the decoder reads the brackets
    and commas before ``pos`` as arrays (``_elements``), closed where they are open: the
    elements it finds, less the last, are those before. Where it cannot (brackets no valid
    data leaves, or nesting within a few levels of its limit), the pairs of brackets closed
    before ``pos`` are taken out, innermost first, a level at a time; what is left is the
    brackets still open there and the commas between them, and the commas before the second
    open bracket separate the elements before it. Past a few dozen levels, the brackets are
    walked one by one: a regular expression's match, or a turn of the loop, per bracket,
    where the decoder reads ten times as fast.
    """
    if first_byte(data) != ord("["):
        return None
    counted = _counted_element_at(data, pos)
    if counted >= 0:
        return counted
    if counted == _PAST_THE_END:
        return None
    after = _after_last_comma(data, pos)
    if after is not None:
        return after
    # Reading the brackets before ``pos`` costs about three times as much per byte as decoding
    # the whole array: the cheaper of the two goes first, unless the decoder cannot go as deep.
    compact = (
        _compact_element_at(data, pos) if counted != _TOO_DEEP and pos > len(data) // 3 else None
    )
    if compact is not None:
        return compact
    structure = _brackets(data, pos)
    counting = _elements(structure)
    if counting is not None:
        try:
            return len(_ELEMENTS.decode(counting)) - 1
        except (msgspec.DecodeError, RecursionError):
            pass
    for _ in range(_LEVELS):
        inner = _CLOSED_PAIR.sub(b"", structure)
        if len(inner) == len(structure):
            break
        structure = inner
    else:
        return _element_by_walk(structure)
    second = _OPENING.search(structure, 1)
    return structure.count(b",", 1, len(structure) if second is None else second.start())


def _counted_element_at(data: Buffer, pos: int) -> int:
    """``element_at`` for an array of objects whose first ``pos`` bytes the decoder reads
    without fault, the array still open there (the bytes before a fault it found); else
    ``_PAST_THE_END`` where those bytes are the whole array, ``_UNCOUNTED``, or ``_TOO_DEEP``
    where they nest deeper than the decoder allows.

    One decoding of those bytes counts the objects it completes, with bytes after them that no
    JSON text continues with (``_NO_CONTINUATION``): the decoder names a byte that far past
    ``pos`` only once it has read all before. An object ending just before ``pos`` is told
    apart by the array it closes with ``]``.
    """
    view = memoryview(data)
    # Each decoding gets its own copy: the decoder reads only a whole buffer, and copying is
    # cheap beside decoding where the copies are no more than needed.
    last = _last_byte(view, pos)
    if last == b"]":
        try:
            _ELEMENTS.decode(view[:pos])
        except (msgspec.DecodeError, RecursionError):
            pass  # an array inside an element
        else:
            return _PAST_THE_END
    if last == b"}":
        try:
            return max(len(_ELEMENTS.decode(b"".join((view[:pos], b"]")))) - 1, 0)
        except (msgspec.DecodeError, RecursionError):
            pass  # an object inside an element
    # A backslash escaping what follows it is given a quote to escape.
    escaping = _run_at_end(view, pos, b"\\") % 2
    _COUNTED.completed = 0
    try:
        _COUNTING.decode(b"".join((view[:pos], b'"' * escaping, _NO_CONTINUATION)))
    except msgspec.DecodeError as error:  # an element that is no object too, naming no byte
        named = _named_byte(error)
        if named is not None and named >= pos + escaping + _PAST:
            completed: int = _COUNTED.completed
            return completed
    except RecursionError:
        return _TOO_DEEP
    return _UNCOUNTED


def _last_byte(view: memoryview, end: int) -> bytes:
    """The last byte of ``view[:end]`` that is not white space (empty if there is none)."""
    last = end - _run_at_end(view, end, JSON_WHITE_SPACE)
    return bytes(view[max(0, last - 1) : last])


def _run_at_end(view: memoryview, end: int, run: bytes) -> int:
    """How many of the bytes of ``run`` ``view[:end]`` ends with: its last few bytes looked
    at, or all of it where they are all of them (copied once)."""
    tail = bytes(view[max(0, end - 64) : end])
    stripped = tail.rstrip(run)
    if stripped or len(tail) == end:
        return len(tail) - len(stripped)
    return end - len(bytes(view[:end]).rstrip(run))


_UNCOUNTED: Final = -1
_TOO_DEEP: Final = -2
_PAST_THE_END: Final = -3


def _after_last_comma(data: Buffer, pos: int) -> int | None:
    """``element_at`` where the last comma before ``pos`` separates two elements and what
    follows it up to ``pos`` only opens arrays and objects (closing none it did not open, as a
    value nested too deep for the decoder does); else None."""
    last = _last_comma(data, pos)
    if last is None:
        return None
    comma, elements = last
    structure = _brackets(memoryview(data)[comma + 1 : pos], pos - comma - 1)  # no comma
    for _ in range(_LEVELS):
        inner = structure.replace(b"[]", b"").replace(b"{}", b"")
        if len(inner) == len(structure):
            return None if b"]" in inner or b"}" in inner else elements
        structure = inner
    return None


def _last_comma(data: Buffer, end: int) -> tuple[int, int] | None:
    """The last comma before ``end`` and the elements before it, where it separates two
    elements of a top-level array; else None. One decoding of the data before it."""
    view = memoryview(data)
    comma = (data if isinstance(data, bytes) else bytes(data)).rfind(b",", 0, end)
    if comma < 0:
        return None
    try:
        elements = len(_ELEMENTS.decode(b"".join((view[:comma], b"]"))))
    except (msgspec.DecodeError, RecursionError):  # a comma in a value, or no array
        return None
    return (comma, elements) if elements else None  # ``[,`` separates nothing


class _Counted(msgspec.Struct, gc=False):
    """An object decoded for nothing but to be counted: every key is skipped."""

    def __post_init__(self) -> None:
        _COUNTED.completed += 1


# Per thread: two threads may well count the elements of two refused arrays at once.
_COUNTED: Final = threading.local()
_COUNTING: Final = msgspec.json.Decoder(list[_Counted])
# A fault the decoder names in the data before them is named at most four bytes past it (a
# literal cut short, ``[tru``, is named past its length); the control character after the white
# space is a fault in a string or out of one, named where it is.
_PAST: Final = 5
_NO_CONTINUATION: Final = b" " * _PAST + b"\x00"


def _compact_element_at(data: Buffer, pos: int) -> int | None:
    """``element_at`` for a whole array written compact (a fault in its text, not its syntax):
    the decoder gives its elements, whose lengths then say where each starts. None otherwise."""
    try:
        elements = _ELEMENTS.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    ends = list(itertools.accumulate(len(element) + 1 for element in elements))
    # Compact: "[", each element and the comma or "]" after it, nothing else.
    if not ends or ends[-1] + 1 != len(data):
        return None
    return bisect.bisect_left(ends, pos)  # the comma after an element is its own


_ELEMENTS: Final = msgspec.json.Decoder(list[msgspec.Raw])
_LEVELS: Final = 32
_CLOSED_PAIR: Final = re.compile(rb"\[[,]*+\]|\{[,]*+\}")
_OPENING: Final = re.compile(rb"[\[{]")


def _element_by_walk(structure: bytes) -> int:
    depth = index = 0
    for token in structure:
        if token == 0x5B or token == 0x7B:  # [ {
            depth += 1
        elif token == 0x5D or token == 0x7D:  # ] }
            depth -= 1
        elif depth == 1:  # a comma between two elements of the top-level array
            index += 1
    return index


def too_deep(data: Buffer, deeper: int = 0) -> tuple[int, int | None]:
    """The byte at which ``data``, refused for its depth, nests deeper than the decoder allows,
    and the element of a top-level array that holds it (``element_at``). ``deeper``: how many
    frames deeper than this one the call that refused the data was made; the search is made
    as deep, where the decoder allows as many levels as it did there.

    The decoder's depth is the interpreter's recursion limit less the frames in use, so the
    byte may differ by a few brackets from one caller to another. It is the first bracket
    outside strings that opens as many levels as the fewest brackets ``[[[...`` the decoder
    refuses here, in data the decoder reads without fault up to it (as it did, refusing the
    data for its depth). ``_depth_search`` finds both, asking this frame to decode documents
    for it: the limit is measured by doubling then halving the brackets (a few thousand bytes
    decoded in all), then the data is read in one pass (``_opening``), then the elements
    before the bracket are counted (``_elements``). Finding the byte by decoding ever shorter
    beginnings of the data cost a decoding of all of it for each halving.

    Every document is decoded at the one call below, in this frame, so the depth the decoder
    allows is the same for each: the elements before the bracket nest less deep than it does,
    and are read. Called any deeper, the decoder could refuse one that nests a level less
    deep. And the interpreter (CPython 3.11) lets a call go one level deeper once it has made
    it a few times, and specialized it: the doubling makes the call a few times before the
    halving, which then meets the limit the pieces meet after it.
    """
    if deeper > 0:
        return too_deep(data, deeper - 1)
    search = _depth_search(data)
    document = next(search)
    while True:
        elements: int | None
        try:
            elements = len(_ELEMENTS.decode(document))
        except RecursionError:
            elements = None
        except msgspec.DecodeError:  # cut short: read up to there
            elements = 0
        try:
            document = search.send(elements)
        except StopIteration as found:
            pos, index = found.value
            return pos, element_at(data, pos) if index is None else index


def _depth_search(data: Buffer) -> Generator[bytes, int | None, tuple[int, int | None]]:
    """``too_deep``'s search: yields the documents to decode; is sent how many elements the
    decoder found in each, 0 in one cut short, None in one it refused for its depth; returns
    the byte and the element that holds it, None where it did not count them."""
    size = len(data)
    fits, fails = 0, 64  # a depth the decoder takes, and a depth to try
    while (yield b"[" * fails) is not None:
        if fails > size:
            return size - 1, None  # no depth in the data is too deep: not refused for its depth
        fits, fails = fails, 2 * fails
    fails += 1  # refused before the call was specialized, maybe: the limit is one more at most
    while fails - fits > 1:
        middle = (fits + fails) // 2
        if (yield b"[" * middle) is None:
            fails = middle
        else:
            fits = middle
    # The elements before the last comma nest less deep than the decoder allows, where it
    # reads them (one frame deeper, so a level or so less deep): the bracket is past it.
    last = _last_comma(data, size)
    start, level = (0, 0) if last is None else (last[0] + 1, 1)
    text = _unescaped(memoryview(data)[start:])
    found, top = yield from _opening(text, fails, level, False, _PIECE)
    if found is None:
        return size - 1, None
    pos = start + found
    if last is not None:  # no comma after the last one, the bracket in the element after it
        return pos, last[1]
    # The structure up to where the last element before the bracket begins, its levels
    # closed: the decoder finds as many elements in it as there are up to the bracket.
    counting = _elements(_brackets(data, pos if top is None else top))
    if first_byte(data) != ord("[") or counting is None:
        return pos, None
    elements = yield counting
    return pos, elements - 1 if elements else None


def _opening(
    text: bytes, depth: int, level: int, inside: bool, size: int
) -> Generator[bytes, int | None, tuple[int | None, int | None]]:
    """The offset in ``text`` (``_unescaped``) of the first bracket or brace outside strings
    that opens level ``depth`` (the top-level value's opening bracket opens level 1), or
    None; and an offset before it past which no element of the top-level array begins (that
    holds its elements' commas), or None if none begins in ``text``. ``level`` levels are
    open where ``text`` starts, maybe (``inside``) in a string. ``depth`` is the fewest
    brackets the decoder refuses where ``too_deep`` decodes what this yields (and is sent
    what ``_depth_search`` is).

    ``size`` bytes at a time: what each piece opens and closes outside strings is counted at
    the speed of memory (``_outside_strings``). A piece that opens enough to reach the level
    may still close as much, as ``[],[],...`` does a level below it: its brackets alone,
    nested in the levels open before it, are given to the decoder (``_nested``), which says
    at the speed of memory whether they reach the level. Only the piece that does is read
    again, in smaller pieces, until one small enough is walked token by token to find the
    bracket: walking every piece that opened enough cost fifty times a decoding of the data.
    The same document tells whether an element of the top-level array begins in the piece:
    the levels open before it are one element of the array, and any more are the piece's.
    """
    top = None
    for offset in range(0, len(text), size):
        piece = text[offset : offset + size]
        outside, ends_inside = _outside_strings(piece, inside)
        opened, closed = _balance(outside)
        after = level + opened - closed
        elements: int | None = 1  # the levels open before it: one element, or the array
        if level + opened >= depth or level - closed <= 1:
            elements = yield _nested(outside, level, after)
        if elements is None:  # refused: the bracket may lie in this piece
            if size > _WALKED:
                found, within = yield from _opening(piece, depth, level, inside, size // _SMALLER)
            else:
                found, within = _opening_in(piece, inside, level, depth)
            top = top if within is None else offset + within
            if found is not None:
                return offset + found, top
        elif level <= 1 or elements != 1:  # the array's level again, and more after it
            top = offset + len(piece)
        level, inside = after, ends_inside
    return None, top


# A piece is read once at the speed of memory, and again in smaller pieces if the bracket may
# lie in it: the first pieces large enough that what goes around them costs little (the levels
# open before a piece, opened again), the last small enough to walk in Python.
_PIECE: Final = 1 << 16
_SMALLER: Final = 1 << 4
_WALKED: Final = 1 << 12


def _balance(structure: bytes) -> tuple[int, int]:
    """How many arrays and objects ``structure`` (``_outside_strings``) opens, and closes."""
    return (
        structure.count(b"[") + structure.count(b"{"),
        structure.count(b"]") + structure.count(b"}"),
    )


_AS_ARRAYS: Final = bytes.maketrans(b"{}", b"[]")


def _nested(structure: bytes, before: int, after: int) -> bytes:
    """JSON text of arrays that nests as deep as ``structure`` (``_outside_strings``) does
    where ``before`` levels are open before it and ``after`` after it: its brackets, objects
    as arrays, a comma between two arrays side by side, opened and closed around. Where the
    data is sound up to the end of ``structure``, the decoder reads it at the speed of
    memory."""
    brackets = structure.translate(_AS_ARRAYS, b",")
    return b"".join((b"[" * before, brackets, b"]" * after)).replace(b"][", b"],[")


def _elements(structure: bytes) -> bytes | None:
    """JSON text whose top-level array holds as many elements as the one ``structure``
    (``_outside_strings`` of a beginning of an array) has begun: its brackets and commas,
    objects as arrays, a 0 in every place of an element (``[,[`` reads ``[0,[0``), and every
    level left open closed; None where it leaves none open. Where the data is sound up to the
    end of ``structure``, the decoder reads it at the speed of memory."""
    opened, closed = _balance(structure)
    if opened <= closed:
        return None
    text = b"".join((structure.translate(_AS_ARRAYS), b"]" * (opened - closed)))
    return text.replace(b"[", b"[0").replace(b",", b",0").replace(b"0[", b"[")


_STRING_OR_BRACKET: Final = re.compile(rb'"[^"]*+"?|[\[\]{}]')


def _opening_in(
    piece: bytes, inside: bool, level: int, depth: int
) -> tuple[int | None, int | None]:
    """``_opening`` within one piece of ``_unescaped`` text, walked token by token."""
    start = 0
    if inside:
        start = piece.find(b'"') + 1
        if start == 0:
            return None, None
    top = None
    for match in _STRING_OR_BRACKET.finditer(piece, start):
        token = piece[match.start()]
        if token == 0x5B or token == 0x7B:  # [ {
            if level <= 1:
                top = match.start()  # an element, or the array, begins
            level += 1
            if level == depth:
                return match.start(), top
        elif token != 0x22:  # ] }
            level -= 1
    return None, top


# -- UTF-8 ------------------------------------------------------------------------------------


# Past this size UTF-8 is checked piece by piece: decoding it whole builds a string as large,
# in memory the system must first provide, which took three times as long on bulk output.
_UTF8_PIECE: Final = 1 << 15


def invalid_utf8(data: Buffer) -> int | None:
    """The offset of the first byte of ``data`` that is not valid UTF-8, or None."""
    if isinstance(data, (bytes, bytearray)) and data.isascii():
        return None  # the common case, checked a word at a time
    if len(data) > _UTF8_PIECE:
        # An incremental decoder carries a character cut between two pieces over to the next.
        view = memoryview(data)
        decode = codecs.getincrementaldecoder("utf-8")().decode
        try:
            for start in range(0, len(view), _UTF8_PIECE):
                decode(view[start : start + _UTF8_PIECE], start + _UTF8_PIECE >= len(view))
        except UnicodeDecodeError:
            pass  # where exactly: decoded whole below, as rarely as invalid input comes
        else:
            return None
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError as error:
        return error.start
    return None


def traced(data: Buffer, output: bytes) -> int | None:
    """Where in ``data`` the first invalid UTF-8 of ``output`` was copied from, or None.

    That byte lies in a string the projection copied whole from the input; the bytes around it
    up to the nearest quotes on either side lie in the same string, so where they occur once in
    the input, there is its source. Two searches at the speed of memory; None when the bytes
    occur more than once, or not at all (the caller then projects with markers).
    """
    bad = invalid_utf8(output)
    if bad is None:
        return None
    start = output.rfind(b'"', 0, bad) + 1
    end = output.find(b'"', bad)
    around = output[start : len(output) if end < 0 else end]
    source = bytes(data)
    found = source.find(around)
    if found < 0 or source.find(around, found + 1) >= 0:
        return None
    return found + bad - start


# Markers come from a block of 64 private-use code points that the input does not hold: in UTF-8
# the code points of a block share all bytes but the last, which runs from 0x80 to 0xBF and names
# the marker. A few blocks are tried; an input holding them all is named by its first fault.
_BLOCKS: Final = tuple(chr(first).encode()[:-1] for first in range(0xE000, 0xE200, 64))
_MARKERS: Final = 64


def kept_invalid_utf8(data: Buffer, project: Callable[[bytes], bytes]) -> int | None:
    """The offset in ``data`` of an invalid UTF-8 byte that ``project`` copies to its output.

    What a projection skips is not validated, so the first invalid byte of the input may well
    be dropped. Found by projecting the data again with invalid bytes replaced by markers, valid
    inside a JSON string (a key too): the first marker in the output says which. The first 64
    runs of invalid bytes get a marker each, which settles it in one projection unless they are
    all dropped; then each of 64 stretches of the rest gets one, and the stretch found is split
    again: a few projections however many invalid bytes there are. None when none is kept; where
    the markers cannot tell, the first invalid byte (a fault is never let pass unseen).
    """
    data = bytes(data)
    runs = _invalid_runs(data, _MARKERS)
    if not runs:
        return None
    undecided = runs[0][0]
    prefix = next((block for block in _BLOCKS if block not in data), None)
    if prefix is None:
        return undecided
    marker = re.compile(re.escape(prefix) + rb"[\x80-\xbf]")
    pieces: list[bytes] = []
    end = 0
    for number, (start, stop) in enumerate(runs):
        pieces += (data[end:start], prefix + bytes([0x80 + number]))
        end = stop
    pieces.append(data[end:])
    found = _first_marker(project, pieces, marker)
    if found is not None:
        return undecided if found < 0 else runs[found][0]
    if len(runs) < _MARKERS:
        return None  # every run was tried
    if _REPLACEMENT in data:
        return undecided  # the stretches below cannot be marked
    low, high = end, len(data)  # a kept invalid byte is one of these
    while high - low > 1:
        step = -(-(high - low) // _MARKERS)
        # Strictly increasing: a stretch found is always smaller than the one split, so the
        # loop ends (a stretch holding an invalid byte is never one valid character).
        bounds = sorted({max(low, _boundary(data, start)) for start in range(low, high, step)})
        bounds.append(high)
        if len(bounds) < 3:
            return low  # cannot be split: not met, but no loop may spin on hostile input
        pieces = [_replaced(data[:low])]
        for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
            pieces.append(
                _replaced(data[start:stop]).replace(_REPLACEMENT, prefix + bytes([0x80 + number]))
            )
        pieces.append(_replaced(data[high:]))
        found = _first_marker(project, pieces, marker)
        if found is None:
            return None
        if found < 0:
            return undecided
        low, high = bounds[found], bounds[found + 1]
    return low


# U+FFFD, which decoding with "replace" puts for each run of invalid bytes.
_REPLACEMENT: Final = "\ufffd".encode()


def _replaced(data: bytes) -> bytes:
    """``data`` with each run of invalid UTF-8 replaced by U+FFFD."""
    return data.decode("utf-8", "replace").encode()


def _first_marker(
    project: Callable[[bytes], bytes], pieces: list[bytes], marker: re.Pattern[bytes]
) -> int | None:
    """The number of the first marker in the projection of the joined ``pieces``; None if there
    is none, -1 if the projection fails (it cannot tell)."""
    try:
        output = project(b"".join(pieces))
    except (msgspec.MsgspecError, RecursionError, UnicodeError, ValueError):
        return -1
    found = marker.search(output)
    return None if found is None else output[found.end() - 1] - 0x80


def _invalid_runs(data: bytes, most: int) -> list[tuple[int, int]]:
    """The first ``most`` runs of bytes of ``data`` that are not UTF-8, as (start, end)."""
    runs: list[tuple[int, int]] = []
    start = 0
    view = memoryview(data)
    while len(runs) < most and start < len(view):
        # A window at a time: the decoder makes room for the text of all it is given before
        # it meets a fault, so decoding the rest of the data at every run would cost the size
        # of the data for each of them. A character cut by the window's end is left to the
        # next window, so each byte is decoded once or twice.
        window = view[start : start + _WINDOW]
        last = start + _WINDOW >= len(view)
        try:
            _, decoded = codecs.utf_8_decode(window, "strict", last)
        except UnicodeDecodeError as error:
            runs.append((start + error.start, start + error.end))
            start += error.end
        else:
            start += decoded
            if last:
                break
    return runs


_WINDOW: Final = 1 << 16


def _boundary(data: bytes, pos: int) -> int:
    """``pos``, or the start of the valid character it falls inside.

    Only a valid character is kept whole: invalid bytes stay invalid however they are cut, so
    a boundary may fall between them (``\\xed\\xa0\\x80``, a surrogate encoded, is three faults).
    """
    for back in range(1, 4):
        start = pos - back
        if start < 0 or data[pos - back + 1] & 0xC0 != 0x80:
            return pos  # data[pos] is no continuation byte, or too many precede it
        lead = data[start]
        if lead & 0xC0 != 0x80:
            size = _CHARACTER_SIZE.get(lead >> 4, 0)
            if start + size > pos and invalid_utf8(data[start : start + size]) is None:
                return start
            return pos
    return pos


# The length of a character by the high nibble of its lead byte (whether the bytes make one is
# for the decoder to say).
_CHARACTER_SIZE: Final = {0xC: 2, 0xD: 2, 0xE: 3, 0xF: 4}


# An escaped high surrogate that no escaped low one follows, its backslash not itself escaped:
# the decoder refuses it without saying where. The pattern starts with its backslash, which the
# regular expression engine looks for at the speed of memory.
_LONE_SURROGATE: Final = re.compile(
    rb"\\(?<!\\\\)u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def lone_surrogate(data: Buffer) -> int | None:
    """Where the first escaped lone high surrogate of ``data`` (``"\\ud800"``) starts, or None."""
    text = bytes(data)
    # The pattern's search costs as much as decoding, more where escapes abound: it starts at
    # the first escaped surrogate, found at the speed of memory (most data has none), past the
    # first backslash, found faster still (most data has few escapes, if any).
    backslash = text.find(b"\\")
    if backslash < 0:
        return None
    escapes = [text.find(escape, backslash) for escape in (b"\\ud", b"\\uD")]
    if max(escapes) < 0:
        return None
    found = _LONE_SURROGATE.search(text, min(escape for escape in escapes if escape >= 0))
    return None if found is None else found.start()


# Each byte that is not UTF-8, decoded with "surrogateescape", becomes one of these code points.
_QUESTIONED: Final = dict.fromkeys(range(0xDC80, 0xDD00), "?")


def questioned(data: Buffer) -> bytes:
    """``data`` with each byte that is not UTF-8 replaced by ``?``: one byte for one, so every
    other byte keeps its offset."""
    text = bytes(data).decode("utf-8", "surrogateescape")
    return text.translate(_QUESTIONED).encode()


# -- arrays -----------------------------------------------------------------------------------

# Strings in JSON text, and in ``_unescaped`` text, where every quote opens or closes one.
_STRING: Final = rb'"(?:[^"\\]++|\\.)*+"'
_UNESCAPED_STRING: Final = rb'"[^"]*+"'


def _object_pattern(levels: int, string: bytes) -> bytes:
    """A regular expression for an object that nests objects at most ``levels`` deep, its
    strings matched by ``string``, skipped whole so that nothing in one is taken for a brace."""
    inner = b"" if levels == 1 else b"|" + _object_pattern(levels - 1, string)
    return rb'\{(?:[^"{}]++|' + string + inner + rb")*+\}"


# In JSON text: strings; objects side by side in an array, each nesting objects at most three
# deep, commas and white space between them; commas and white space.
_STRINGS: Final = re.compile(rb"(" + _STRING + rb")")
_OBJECT: Final = re.compile(_object_pattern(3, _STRING))
_SEPARATOR_BYTES: Final = JSON_WHITE_SPACE + b","
_SEPARATORS: Final = re.compile(rb"[%b]*+" % re.escape(_SEPARATOR_BYTES))
_OBJECTS: Final = re.compile(
    _OBJECT.pattern + rb"(?:%b%b)*+" % (_SEPARATORS.pattern, _OBJECT.pattern)
)
_STRING_OR_OBJECTS: Final = re.compile(rb"(" + _STRING + rb")|(" + _OBJECTS.pattern + rb")")
# What stands for a run of objects, and for a string, while the rest is made compact: bytes no
# valid JSON text holds, in a string or out of one (control characters in strings are escaped).
_A_RUN: Final = b"\x00"
_A_STRING: Final = b"\x01"
_MARKS: Final = (_A_RUN, _A_STRING)  # by whether a string was matched
# Encoded between two runs of projected objects, as it is: a byte no JSON text holds.
_BETWEEN_RUNS: Final = msgspec.Raw(_A_RUN)
# In ``_unescaped`` text: all up to the next object outside strings; inside an object, all up to
# the next brace that is not an object's nesting at most three deep.
_UP_TO_AN_OBJECT: Final = re.compile(rb'(?:[^"{]++|' + _UNESCAPED_STRING + rb")*+")
_TO_A_BRACE: Final = re.compile(
    rb'(?:[^"{}]++|'
    + _UNESCAPED_STRING
    + rb"|"
    + _object_pattern(3, _UNESCAPED_STRING)
    + rb")*+[{}]"
)


def join_array(
    data: Buffer,
    project: Callable[[bytes], list[Any]],
    encode: Callable[[list[Any]], bytes],
) -> bytes:
    """The JSON array ``data``, at any nesting, its objects projected and encoded: ``project``
    is given a JSON array of all its objects (not those inside another), in order, and gives
    a list of them projected; ``encode`` gives a JSON array of such a list.

    ``data`` must be valid JSON (the caller decoded it once). What lies between the objects
    (brackets, commas, numbers, strings, literals) is copied as it is, less the white space
    between its tokens. A regular expression cuts the data at its strings and its runs of
    objects side by side in one pass; the rest, with a mark for each, is made compact at once,
    and then filled with them: Python takes a step for each string and each run, and none for
    a number, a literal or a bracket. A Python call for every value cost a second for a
    million numbers, and decoding each nested array again would cost the size times the
    depth. Objects that nest others more than three deep are found one by one
    (``_marked_by_walk``).
    """
    text = bytes(data)
    unescaped = _unescaped(text)
    first = _UP_TO_AN_OBJECT.match(unescaped).end()  # type: ignore[union-attr]
    parts = None
    if _OBJECT.match(text, first, first + _SMALL) is not None:  # a small object first
        parts = _STRING_OR_OBJECTS.split(text)  # between, a string or None, a run or None, ...
    if parts is None or b"{" in b"".join(parts[0::3]):  # objects nesting others deeper
        skeleton, strings, runs, counts = _marked_by_walk(text, unescaped)
    else:
        between = parts[0::3]
        strings, runs = list(filter(None, parts[1::3])), list(filter(None, parts[2::3]))
        # A string is never empty (its quotes), a run never a string: marks by truth, at once.
        marks = list(map(_MARKS.__getitem__, map(bool, parts[1::3])))
        skeleton = b"".join(_interleaved(between, marks))
        counts = _counted(runs)
    skeleton = skeleton.translate(None, JSON_WHITE_SPACE)
    if runs:
        projected = project(b"[%b]" % b",".join(runs))
        skeleton = _filled(skeleton, _A_RUN, _side_by_side(projected, counts, encode))
    return _filled(skeleton, _A_STRING, strings)


def _side_by_side(
    projected: list[Any], counts: list[int], encode: Callable[[list[Any]], bytes]
) -> list[bytes]:
    """The objects ``projected``, encoded in one call as runs of ``counts`` of them, commas
    between the objects of a run. A Python step for each run of more than one, none for each
    object: a mark no JSON text holds goes between two runs, and the encoded text is cut there.
    """
    if len(counts) == len(projected):  # a run for each object
        marked = _interleaved(projected, [_BETWEEN_RUNS] * (len(projected) - 1))
    else:
        marked = []
        for end, count in zip(itertools.accumulate(counts), counts, strict=True):
            marked += projected[end - count : end]
            marked.append(_BETWEEN_RUNS)
        marked.pop()
    return encode(marked)[1:-1].split(b",%b," % _BETWEEN_RUNS)


def _counted(runs: list[bytes]) -> list[int]:
    """How many objects each run holds (``_OBJECTS``): each object made one byte, at once."""
    marked = _OBJECT.sub(b"o", _A_RUN.join(runs)).translate(None, _SEPARATOR_BYTES)
    if len(marked) == 2 * len(runs) - 1:  # as many objects as runs: one each, nothing to cut
        return [1] * len(runs)
    return list(map(len, marked.split(_A_RUN)))


def _marked_by_walk(
    text: bytes, unescaped: bytes
) -> tuple[bytes, list[bytes], list[bytes], list[int]]:
    """``text`` (JSON) with a mark for each string and each run of objects outside objects,
    its strings, its runs and how many objects each holds: from one run to the next at the
    speed of regular expressions, and an object that nests others more than three deep, a run
    of its own, read by the decoder. ``unescaped``: ``_unescaped(text)``."""
    skeleton: list[bytes] = []
    strings: list[bytes] = []
    runs: list[bytes] = []
    counts: list[int] = []
    pos = 0
    while True:
        start = _UP_TO_AN_OBJECT.match(unescaped, pos).end()  # type: ignore[union-attr]
        parts = _STRINGS.split(text[pos:start])  # outside strings, a string, outside, ...
        strings += parts[1::2]
        skeleton.append(_A_STRING.join(parts[0::2]))
        if start == len(text):
            return b"".join(skeleton), strings, runs, counts
        side_by_side = _OBJECTS.match(text, start, start + _SMALL)
        if side_by_side is not None:
            pos = side_by_side.end()
            counts += _counted([text[start:pos]])
        else:
            pos = _object_end(text, unescaped, start)
            counts.append(1)
        runs.append(text[start:pos])
        skeleton.append(_A_RUN)


def _filled(text: bytes, mark: bytes, values: list[bytes]) -> bytes:
    """``text`` with each ``mark`` in it replaced by the next of ``values``."""
    return b"".join(_interleaved(text.split(mark), values))


def _interleaved(outer: list[Any], inner: list[Any]) -> list[Any]:
    """``outer[0], inner[0], outer[1], ..., outer[-1]``: one more of ``outer`` than of
    ``inner``. Put in place by slices, without a Python step for each."""
    if len(outer) != len(inner) + 1:
        raise ValueError("one more outer value than inner ones")
    every: list[Any] = [None] * (len(outer) + len(inner))
    every[0::2] = outer
    every[1::2] = inner
    return every


def _object_end(text: bytes, unescaped: bytes, start: int) -> int:
    """Where the object at ``start`` ends, read by the decoder at the speed of memory."""
    try:
        _VALUE.decode(memoryview(text)[start:])
    except msgspec.DecodeError as error:
        # Something follows the object: the decoder says where, counting that byte or the one
        # after it (the byte before is then white space, a comma or a bracket, or the object's).
        named = _named_byte(error)
        if named is not None:
            end = start + named
            return end if text[end - 1] == 0x7D else end - 1  # }
    else:
        return len(text)
    pos, depth = start, 0  # words that may change: brace by brace
    while True:
        pos = _TO_A_BRACE.match(unescaped, pos).end()  # type: ignore[union-attr]
        depth += 1 if unescaped[pos - 1] == 0x7B else -1  # {
        if depth == 0:
            return pos


# Large enough for a run of a few small objects, small enough that a large object is read by the
# decoder and not by a regular expression, which reads several times slower: how far the walk
# looks for objects side by side.
_SMALL: Final = 1 << 9
