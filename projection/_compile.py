"""Mask to bytes: the fast path, a projection compiled to msgspec types with ``msgspec.Raw`` leaves.

``Compiled(mask, case_insensitive).project(data)`` takes JSON bytes and returns the projected JSON
bytes. Selected values are copied byte for byte, unselected subtrees are skipped by the decoder,
and the structure around them is written compact (DESIGN.md rule 11). The result always equals the
reference applier's on the decoded document; invalid JSON raises ``PayloadError``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any, Final, TypeAlias

import msgspec
from msgspec import UNSET, Raw

from ._errors import PayloadError
from ._mask import DROP, WHOLE, Mask, Node, kept

__all__ = ["Compiled", "is_json"]

# Two ways to apply a node, chosen per node when compiling:
#
# - typed: a node with a DROP default (the common ``a(b,c)``) becomes a Struct whose fields are its
#   entries, ``Raw`` for whole values; msgspec skips every other key without building it, and
#   encoding the Struct writes the entries in their order, which is what rule 8 asks.
# - generic: a node with another default (``*``, exclusions) or matching names ignoring case is
#   decoded as ``dict[str, Raw]`` and rebuilt key by key in Python, keeping the document's order.
#
# A typed node accepts an object, an array of objects, null or a boolean (spelt one way only, so
# decoding and re-encoding them is byte for byte). Any other shape (a string where an object was
# selected, arrays of arrays) fails validation, and the value falls back to the generic path,
# which handles every shape.

_OBJECT: Final = msgspec.json.Decoder(dict[str, Raw])
_ARRAY: Final = msgspec.json.Decoder(list[Raw])
_VALUE: Final = msgspec.json.Decoder(Raw)
_WHITE_SPACE: Final = b" \t\r\n"
_BYTE_OFFSET: Final = re.compile(r"\(byte (\d+)\)")
# msgspec refuses these in field names, and a lone surrogate cannot be encoded: generic path.
_UNNAMEABLE: Final = re.compile(r'[\\"\x00-\x1f\ud800-\udfff]')

Projected: TypeAlias = Any
"""What projecting a value gives before encoding: ``Raw``, or dicts, lists and Structs of them."""

_struct_names = count()

# Decoding a large array allocates many lists, each of which counts towards the cyclic garbage
# collector's thresholds; the collections it triggers find nothing (decoded values hold no cycles)
# yet cost about a tenth of the run. Large inputs are decoded with the collector paused.
_LARGE: Final = 1 << 20
_pause_lock = threading.Lock()
_pausing = 0
_collector_was_enabled = False


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector; nested and concurrent pauses restore it once."""
    global _pausing, _collector_was_enabled
    with _pause_lock:
        if _pausing == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausing -= 1
            if _pausing == 0 and _collector_was_enabled:
                gc.enable()


@dataclass(frozen=True, slots=True)
class _Field:
    """A typed node's entry whose value needs work after decoding (a generic node below it)."""

    attribute: str
    finish: Callable[[Any], Projected]


def _typed(node: Node, generic: Callable[[Node, Raw], Projected]) -> tuple[Any, list[_Field]]:
    """The msgspec type of a DROP-default node, and the fields to finish after decoding."""
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    finish: list[_Field] = []
    for number, (key, mask) in enumerate(node.entries.items()):
        attribute = f"f{number}"
        rename[attribute] = key
        if mask is WHOLE:
            fields.append((attribute, Raw, UNSET))
        elif isinstance(mask, Node) and _can_type(mask):
            inner, inner_finish = _typed(mask, generic)
            fields.append((attribute, inner, UNSET))
            if inner_finish:
                finish.append(_Field(attribute, _finisher(inner_finish)))
        else:
            assert isinstance(mask, Node)
            fields.append((attribute, Raw, UNSET))
            finish.append(_Field(attribute, functools.partial(generic, mask)))
    struct = msgspec.defstruct(
        f"Projected{next(_struct_names)}",
        fields,
        rename=rename,
        gc=False,  # instances hold only Raw and other such Structs: no reference cycles
    )
    element = struct | None | bool
    return struct | list[element] | None | bool, finish  # type: ignore[valid-type]


def _finisher(fields: list[_Field]) -> Callable[[Any], Projected]:
    """Finishes decoded Structs in place: every listed field gets its generic projection."""

    def finish(value: Any) -> Projected:
        if isinstance(value, list):
            for element in value:
                finish(element)
        elif isinstance(value, msgspec.Struct):
            for field in fields:
                inner = getattr(value, field.attribute)
                if inner is not UNSET:
                    setattr(value, field.attribute, field.finish(inner))
        return value

    return finish


class Compiled:
    """One projection compiled for bytes: a decoder and an encoder of its own, built once."""

    __slots__ = ("_decoder", "_encode", "_finish", "_folded", "_mask")

    def __init__(self, mask: Mask, *, case_insensitive: bool = False, typed: bool = True) -> None:
        """Compile ``mask``; ``typed=False`` takes the generic path everywhere (to compare both)."""
        self._mask = mask
        self._folded = case_insensitive
        self._encode = msgspec.json.Encoder().encode
        self._decoder: msgspec.json.Decoder[Any] | None = None
        self._finish: Callable[[Any], Projected] | None = None
        if typed and isinstance(mask, Node) and _can_type(mask) and not case_insensitive:
            typed, finish = _typed(mask, self._generic)
            self._decoder = msgspec.json.Decoder(typed)
            self._finish = _finisher(finish) if finish else None

    @property
    def mask(self) -> Mask:
        return self._mask

    @property
    def case_insensitive(self) -> bool:
        return self._folded

    def project(self, data: bytes) -> bytes:
        """The projected document; the input itself when the projection keeps everything."""
        mask = self._mask
        if not isinstance(mask, Node):
            return data
        try:
            if len(data) < _LARGE:
                return self._encode(self._decode(mask, data))
            with _collector_paused():
                return self._encode(self._decode(mask, data))
        except msgspec.DecodeError as error:
            raise _payload_error(error, data) from None
        except RecursionError:
            raise PayloadError("the JSON nests deeper than the decoder allows") from None
        except UnicodeError as error:
            raise PayloadError(f"a key is not valid Unicode: {error}") from None

    def _decode(self, mask: Node, data: bytes) -> Projected:
        decoder = self._decoder
        if decoder is None:
            return self._generic(mask, _VALUE.decode(data))
        try:
            value = decoder.decode(data)
        except msgspec.ValidationError:
            return self._fallback(mask, data)
        finish = self._finish
        return value if finish is None else finish(value)

    def _fallback(self, mask: Node, data: bytes) -> Projected:
        """A document the typed path could not take: each element of an array on its own."""
        raw = _VALUE.decode(data)
        if _first_byte(raw) != ord("["):
            return self._generic(mask, raw)
        assert self._decoder is not None
        projected: list[Projected] = []
        for element in _ARRAY.decode(raw):
            try:
                value = self._decoder.decode(element)
            except msgspec.ValidationError:
                projected.append(self._generic(mask, element))
            else:
                projected.append(value if self._finish is None else self._finish(value))
        return projected

    def _generic(self, mask: Node, raw: Raw) -> Projected:
        """``raw`` projected by ``mask`` whatever its shape, rebuilt in Python around Raw leaves."""
        first = _first_byte(raw)
        if first == ord("["):
            return [self._generic(mask, element) for element in _ARRAY.decode(raw)]
        if first != ord("{"):
            return raw  # a node leaves a primitive as it is (rule 7)
        document = _OBJECT.decode(raw)
        return {
            key: self._inner(entry, document[key])
            for key, entry in kept(mask, document, folded=self._folded)
        }

    def _inner(self, mask: Mask, raw: Raw) -> Projected:
        if isinstance(mask, Node):
            return self._generic(mask, raw)
        return raw


def _can_type(node: Node) -> bool:
    """Whether ``node`` can be a Struct: a DROP default, and keys msgspec accepts as field names."""
    return node.default is DROP and not any(map(_UNNAMEABLE.search, node.entries))


def is_json(data: bytes) -> bool:
    """Whether ``data`` is one whole JSON value (surrounding white space allowed)."""
    try:
        _VALUE.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def _first_byte(raw: Raw) -> int:
    view = memoryview(raw)
    # A Raw from the decoder starts at its value; only a whole input may start with white space.
    index = 0
    while view[index] in _WHITE_SPACE:
        index += 1
    return view[index]


def _payload_error(error: msgspec.DecodeError, data: bytes) -> PayloadError:
    detail = str(error).removeprefix("JSON is malformed: ")
    match = _BYTE_OFFSET.search(detail)
    if match:
        pos = int(match.group(1))
        detail = detail[: match.start()].rstrip()
    else:
        pos = len(data)  # msgspec names no byte when the data ends too early
    detail = detail[:1].lower() + detail[1:]
    return PayloadError(f"invalid JSON at byte {pos}: {detail}", pos=pos)
