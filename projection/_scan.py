"""Byte-level scans of JSON that the decoder does not do: white space, positions, UTF-8, arrays.

Every function here is linear in its input with a small constant, whatever the input holds:
they run on hostile bodies in front of a gateway, on the error path as on the valid one. Loops
advance over runs matched by regular expressions without backtracking (possessive quantifiers),
never byte by byte in Python; strings are matched whole, so nothing inside one is read twice.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Callable
from typing import Final, TypeAlias

import msgspec

__all__ = [
    "JSON_WHITE_SPACE",
    "Buffer",
    "deepest_point",
    "element_at",
    "first_byte",
    "invalid_utf8",
    "join_array",
    "kept_invalid_utf8",
    "trailing_start",
    "undecodable_string",
]

Buffer: TypeAlias = bytes | bytearray | memoryview
JSON_WHITE_SPACE: Final = b" \t\r\n"

_WHITE_SPACE: Final = re.compile(rb"[ \t\r\n]*+")
# A string, unterminated ones included (they run to the end): matched at most once.
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"?')
_STRUCTURE: Final = bytes(b for b in range(256) if b not in b"[]{},")
_VALUE: Final = msgspec.json.Decoder(msgspec.Raw)


def first_byte(data: Buffer) -> int:
    """The first byte of ``data`` that is not JSON white space, or -1 if there is none."""
    view = memoryview(data)
    start = _WHITE_SPACE.match(view).end()  # type: ignore[union-attr]  # always matches
    return view[start] if start < len(view) else -1


def _brackets(data: Buffer, end: int) -> bytes:
    """The brackets, braces and commas of ``data[:end]`` outside strings, in order."""
    return _STRING.sub(b"", data[:end]).translate(None, _STRUCTURE)


def trailing_start(data: Buffer, reported: int) -> int:
    """Where what follows a whole JSON value starts, when the decoder reported ``reported``.

    Decoders name that byte or the one after it; the value and its white space end before it.
    """
    if reported > 0 and _is_value(memoryview(data)[: reported - 1]):
        return reported - 1
    return reported


def _is_value(data: Buffer) -> bool:
    try:
        _VALUE.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def element_at(data: Buffer, pos: int) -> int | None:
    """Which element of a top-level array holds byte ``pos``; None if ``data`` is no array."""
    if first_byte(data) != ord("["):
        return None
    depth = index = 0
    for token in _brackets(data, pos):
        if token == 0x5B or token == 0x7B:  # [ {
            depth += 1
        elif token == 0x5D or token == 0x7D:  # ] }
            depth -= 1
        elif depth == 1:  # a comma between two elements of the top-level array
            index += 1
    return index


def deepest_point(data: Buffer) -> int:
    """Where ``data`` first reaches its deepest nesting: the bracket that went one level too far
    when the decoder gave up on the depth."""
    depth = deepest = where = 0
    for match in _BRACKET_OR_STRING.finditer(data):
        if match.lastgroup is not None:
            continue  # a string
        token = data[match.start()]
        if token == 0x5B or token == 0x7B:  # [ {
            depth += 1
            if depth > deepest:
                deepest, where = depth, match.start()
        elif token != 0x2C:  # ] }
            depth -= 1
    return where


_BRACKET_OR_STRING: Final = re.compile(rb'(?P<string>"(?:[^"\\]++|\\.)*+"?)|[\[\]{},]')


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
    again: a few projections however many invalid bytes there are. None when none is kept (the
    fault lies elsewhere) or no markers can be had.
    """
    data = bytes(data)
    prefix = next((block for block in _BLOCKS if block not in data), None)
    if prefix is None:
        return None
    marker = re.compile(re.escape(prefix) + rb"[\x80-\xbf]")
    runs = _invalid_runs(data, _MARKERS)
    pieces: list[bytes] = []
    end = 0
    for number, (start, stop) in enumerate(runs):
        pieces += (data[end:start], prefix + bytes([0x80 + number]))
        end = stop
    pieces.append(data[end:])
    found = _first_marker(project, pieces, marker) if runs else None
    if found is not None:
        return runs[found][0]
    if len(runs) < _MARKERS or _REPLACEMENT in data:
        return None  # every run was tried; or the stretches below cannot be marked
    low, high = end, len(data)  # a kept invalid byte is one of these
    while high - low > 1:
        step = -(-(high - low) // _MARKERS)
        bounds = [_boundary(data, start) for start in range(low, high, step)] + [high]
        pieces = [_replaced(data[:low])]
        for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
            pieces.append(
                _replaced(data[start:stop]).replace(_REPLACEMENT, prefix + bytes([0x80 + number]))
            )
        pieces.append(_replaced(data[high:]))
        found = _first_marker(project, pieces, marker)
        if found is None:
            return None
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
    """The number of the first marker in the projection of the joined ``pieces``, if any."""
    try:
        output = project(b"".join(pieces))
    except (msgspec.MsgspecError, RecursionError, UnicodeError, ValueError):
        return None
    found = marker.search(output)
    return None if found is None else output[found.end() - 1] - 0x80


def _invalid_runs(data: bytes, most: int) -> list[tuple[int, int]]:
    """The first ``most`` runs of bytes of ``data`` that are not UTF-8, as (start, end)."""
    runs: list[tuple[int, int]] = []
    start = 0
    view = memoryview(data)
    while len(runs) < most:
        try:
            # Decodes up to the next fault, each byte once; the text is dropped.
            codecs.utf_8_decode(view[start:], "strict", True)
        except UnicodeDecodeError as error:
            runs.append((start + error.start, start + error.end))
            start += error.end
        else:
            break
    return runs


def _boundary(data: bytes, pos: int) -> int:
    """``pos``, or the start of the character it falls inside (a UTF-8 character has at most
    three continuation bytes; beyond them the bytes are invalid anyway)."""
    for back in range(4):
        if pos - back <= 0 or data[pos - back] & 0xC0 != 0x80:
            return max(pos - back, 0)
    return pos


_TEXT: Final = msgspec.json.Decoder(str)
_CLOSED_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+(")?')


def undecodable_string(data: Buffer) -> int | None:
    """Where the first whole string of ``data`` that is no Unicode text starts (an escaped lone
    surrogate, ``"\\ud800"``, which the decoder refuses without saying where), or None."""
    for string in _CLOSED_STRING.finditer(memoryview(data)):
        text = string.group()
        if string.group(1) is not None and b"\\u" in text:
            try:
                _TEXT.decode(text)
            except (msgspec.DecodeError, UnicodeError):
                return string.start()
    return None


# -- arrays -----------------------------------------------------------------------------------

# What stands between two values of nested arrays: brackets, commas and white space.
_SKELETON: Final = re.compile(rb"[\[\],\x20\t\r\n]*+")
# A value that is no object and no array: a string, or a number or literal (validated before).
_SCALAR: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[^\[\]{},\x20\t\r\n]++')
_BYTE_OFFSET: Final = re.compile(rb"\(byte (\d+)\)")


def join_array(data: Buffer, element: Callable[[msgspec.Raw], bytes]) -> bytes:
    """The JSON array ``data``, at any nesting, with ``element`` applied to every value in it.

    ``data`` must be valid JSON (the caller decoded it once). The brackets and commas of the
    nested arrays are copied without white space, each other value is replaced by what
    ``element`` gives for it (its own bytes, encoded). One pass: decoding each nested array
    again as a whole would cost the size times the depth.
    """
    view = memoryview(data)
    pieces: list[bytes] = []
    pos = 0
    size = len(view)
    while True:
        skeleton = _SKELETON.match(view, pos)
        assert skeleton is not None  # always matches, possibly nothing
        pieces.append(skeleton.group().translate(None, JSON_WHITE_SPACE))
        pos = skeleton.end()
        if pos >= size:
            return b"".join(pieces)
        if view[pos] == 0x7B:  # {
            end = _object_end(view, pos)
        else:
            scalar = _SCALAR.match(view, pos)
            assert scalar is not None  # the data was validated
            end = scalar.end()
        pieces.append(element(msgspec.Raw(view[pos:end])))
        pos = end


def _object_end(view: memoryview, start: int) -> int:
    """Where the object at ``start`` of valid JSON ends (white space after it included)."""
    try:
        _VALUE.decode(view[start:])
    except msgspec.DecodeError as error:
        # Something follows the object: the decoder stops there and says where, counting that
        # byte or the one after it (either way, the byte before is white space or the object's).
        found = _BYTE_OFFSET.search(str(error).encode())
        if found is None:
            return _object_end_by_scan(view, start)
        end = start + int(found.group(1))
        return end - 1 if view[end - 1] in b",]" else end
    return len(view)


def _object_end_by_scan(view: memoryview, start: int) -> int:
    """The same as ``_object_end``, by counting braces outside strings."""
    depth = 0
    for match in _BRACKET_OR_STRING.finditer(view, start):
        token = view[match.start()]
        if match.lastgroup is not None or token == 0x2C:  # a string, a comma
            continue
        depth += 1 if token in b"[{" else -1
        if depth == 0:
            return match.end()
    return len(view)
