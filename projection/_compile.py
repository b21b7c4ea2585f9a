"""Mask to bytes: the fast path, a projection compiled to msgspec types with ``msgspec.Raw`` leaves.

``Compiled(mask, case_insensitive, schema=...).project(data)`` takes JSON bytes and returns the
projected JSON bytes. Selected values are copied byte for byte, unselected subtrees are skipped by
the decoder, and the structure around them is written compact (rule 11 of grammar/SEMANTICS.md),
keys in the schema's order when there is one (rule 8). The result always equals the reference
applier's on the decoded document, and is valid UTF-8; invalid JSON raises ``PayloadError``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, chain, count, islice
from operator import attrgetter, itemgetter
from typing import Any, Final, NamedTuple, TypeAlias

import msgspec
from msgspec import UNSET, Raw

from . import _schema
from ._errors import PayloadError
from ._mask import DROP, WHOLE, Mask, Node, kept
from ._scan import (
    BYTE_NAMED,
    element_at,
    first_byte,
    invalid_utf8,
    join_array,
    kept_invalid_utf8,
    lone_surrogate,
    questioned,
    too_deep,
    traced,
    trailing_start,
)
from ._schema import PRIMITIVE, Schema, Scope, arrange

__all__ = ["Compiled"]

# Two ways to apply a node, chosen per node (and per schema type below it) when compiling:
#
# - typed: a node with a DROP default (the common ``a(b,c)``) becomes a Struct whose fields are its
#   entries, ``Raw`` for whole values; msgspec skips every other key without building it, and
#   encoding the Struct writes the entries in their order, which is what rule 8 asks. Where the
#   schema says which Struct the value is, any node is typed: one with another default (``*``,
#   exclusions) becomes a Struct of every field of the schema's, in its order, which forbids
#   unknown fields: a key the schema lacks (or spelt in another case) fails validation, and the
#   value takes the generic path, which puts it after the fields (rule 8). Excluded fields are
#   fields too, so as not to be unknown, cleared once decoded (``__post_init__``).
# - generic: any other node (``*`` and exclusions without a schema, names matched ignoring case)
#   is decoded as ``dict[str, Raw]`` and rebuilt key by key in Python, in the order rule 8 asks
#   (the schema's, the document's, or the entries'), as the reference does.
#
# A typed node accepts an object, an array of objects, null or a boolean (spelt one way only, so
# decoding and re-encoding them is byte for byte). Any other shape (a string where an object was
# selected, arrays of arrays) fails validation, and the value falls back to the generic path,
# which handles every shape.

_OBJECT: Final = msgspec.json.Decoder(dict[str, Raw])
_OBJECTS: Final = msgspec.json.Decoder(list[dict[str, Raw]])
_VALUE: Final = msgspec.json.Decoder(Raw)
_BYTES_LIKE: Final = (bytes, bytearray, memoryview)
_OPEN_OBJECT: Final = ord("{")
_OPEN_ARRAY: Final = ord("[")
_OPEN_OBJECT_BYTES: Final = b"{"
_ELEMENTS: Final = msgspec.json.Decoder(list[Raw])
_ARRAYS: Final = msgspec.json.Decoder(list[list[Raw]])
_FIRST: Final = itemgetter(0)
# The values of an array that are objects, and arrays, by the first bytes of all of them.
_OPEN_OBJECT_AT: Final = re.compile(rb"\{")
_OPEN_ARRAY_AT: Final = re.compile(rb"\[")
# Arrays nested deeper than this in an array holding objects are cut at their objects in one
# pass rather than decoded a level at a time: decoding them costs the size times this at most.
# At least 1: the top level's decoding is what finds the data valid, as ``join_array`` needs.
_LEVELS: Final = 2
_CONTAINERS: Final = frozenset((_OPEN_OBJECT, _OPEN_ARRAY))
_TOO_DEEP: Final = "the JSON nests deeper than the decoder allows"
_CUT_SHORT: Final = "truncated"  # in msgspec's message for data that ends too early
# msgspec refuses these in field names, and a lone surrogate cannot be encoded: generic path.
_UNNAMEABLE: Final = re.compile(r'[\\"\x00-\x1f\ud800-\udfff]')
# The default of a field that must hold a primitive (a node below a field the schema says is a
# primitive): a Raw, so that the values decoded join into one bytes to check, and omitted when
# encoding (``omit_defaults`` compares defaults by identity).
_NO_VALUE: Final = Raw(b"")
_SEPARATOR: Final = b"\x01"  # never inside a primitive's JSON text, raw control characters being
_OPENINGS: Final = (b"\x01{", b"\x01[")  # invalid in strings
_BRACKETS: Final = (b"{", b"[")

Projected: TypeAlias = Any
"""What projecting a value gives before encoding: ``Raw``, or dicts, lists and Structs of them."""

_struct_names = count()

# A document this large goes straight to the careful path: where the short path's first try fails
# (a shape the Structs do not take, invalid UTF-8 kept), it may have decoded all of it for nothing.
_LARGE: Final = 1 << 20


class _Field(NamedTuple):
    """A typed node's entry whose value needs work after decoding (a generic node below it)."""

    attribute: str
    finish: Callable[[Any], Projected]


Inner: TypeAlias = Callable[[Mask, "Scope | None", Raw], Projected]
"""Projects one value by a mask, with the schema's scope of the value: the generic way."""


def _struct(node: Node, scope: Scope | None, inner: Inner) -> tuple[Any, list[_Field]] | None:
    """The msgspec type of a typed node, and the fields to finish with ``inner`` after decoding;
    None where the node can only take the generic path."""
    at = None if scope is None else _schema.level(scope)
    forbid = False
    layout: list[tuple[str, Mask, Scope | None]]
    if at is None or not at.rank:
        # No fields known here (no schema, a mapping, a primitive): only named keys are typed.
        if not _can_type(node):
            return None
        beyond = None if at is None else at.beyond
        layout = [(key, mask, beyond) for key, mask in node.entries.items()]
    elif at.struct is None or any(map(_UNNAMEABLE.search, at.rank)):
        return None  # one of several Structs (a union): the generic path knows their order
    elif node.default is DROP:
        if any(map(_UNNAMEABLE.search, node.entries)):
            return None
        if sum(key not in at.rank for key in node.entries) > 1:
            return None  # keys the schema lacks come in the document's order (rule 8)
        layout = arrange(node.entries.items(), at, False)
    else:
        # Every field, excluded ones too; any other key fails validation.
        forbid = True
        layout = [(key, node.gives(key), at.below[key]) for key in at.rank]
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    finish: list[_Field] = []
    cleared: list[str] = []
    checked: list[str] = []
    for number, (key, mask, below) in enumerate(layout):
        attribute = f"f{number}"
        rename[attribute] = key
        if mask is WHOLE or mask is DROP:
            fields.append((attribute, Raw, UNSET))
            if mask is DROP:
                cleared.append(attribute)
            continue
        assert isinstance(mask, Node)
        if below == PRIMITIVE:
            # A node leaves a primitive as it is (rule 7), and the schema says it is one: kept
            # as it is, once checked not to be an object or an array after all.
            fields.append((attribute, Raw, _NO_VALUE))
            checked.append(attribute)
            continue
        # Where the schema says the value may be anything (``Any``, a key it lacks), it may well
        # be a primitive, which a Struct would refuse, failing the whole document: each value
        # takes its own way once decoded.
        typed = None if at is not None and below is None else _struct(mask, below, inner)
        if typed is None:
            fields.append((attribute, Raw, UNSET))
            finish.append(_Field(attribute, functools.partial(inner, mask, below)))
            continue
        struct, inner_finish = typed
        fields.append((attribute, struct, UNSET))
        if inner_finish:
            finish.append(_Field(attribute, _finisher(inner_finish)))
    namespace = {} if not (cleared or checked) else {"__post_init__": _post_init(cleared, checked)}
    defined = msgspec.defstruct(
        f"Projected{next(_struct_names)}",
        fields,
        rename=rename,
        forbid_unknown_fields=forbid,
        omit_defaults=bool(checked),
        namespace=namespace,
        # Untracked by the cyclic garbage collector, so that decoding thousands of documents
        # neither triggers its collections nor gives them more to walk. Untracked objects in a
        # cycle would never be freed, but these form none: a decoded tree is built fresh from
        # JSON text, each node new and referenced by its parent only (Raw leaves, these Structs,
        # lists and dicts of them), and finishing it only puts in values projected from its own
        # text, or UNSET.
        gc=False,
    )
    element = defined | None | bool
    return defined | list[element] | None | bool, finish  # type: ignore[valid-type]


def _post_init(cleared: list[str], checked: list[str]) -> Callable[[Any], None]:
    """What a typed node does once decoded: clear its excluded fields, and check that the fields
    that must hold primitives do (``ValueError``, which msgspec reports as a ``ValidationError``).
    """
    clear = tuple(cleared)
    # The values as one bytes, a separator between two: a value that opens an object or an
    # array shows as its bracket first, or after a separator.
    names = checked if len(checked) != 1 else checked * 2  # a tuple, even for one
    values = attrgetter(*names) if names else None
    join = _SEPARATOR.join
    first, second = _OPENINGS

    def check(self: Any) -> None:
        text = join(values(self))  # type: ignore[misc]
        # Primitives seldom hold a bracket at all, which a search for one byte (an int: memchr)
        # tells; the searches for two bytes cost many times more, and run only when one is.
        if (_OPEN_OBJECT in text or _OPEN_ARRAY in text) and (
            text.startswith(_BRACKETS) or first in text or second in text
        ):
            raise ValueError("an object or an array where the schema has a primitive")

    if not clear:
        return check

    def post_init(self: Any) -> None:
        for attribute in clear:
            setattr(self, attribute, UNSET)
        if values is not None:
            check(self)

    return post_init


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


class _Typed(NamedTuple):
    """A typed node compiled: its decoder, and what to finish after decoding, if anything."""

    decoder: msgspec.json.Decoder[Any]
    finish: Callable[[Any], Projected] | None


# A run of fewer documents than this costs more than projecting them one at a time
# (``Compiled.project_in_runs``): after one, as many go one at a time, then runs are tried again.
# Without that pause, each line of a stretch of invalid ones took a sixth longer, measured.
_SHORT_RUN: Final = 16


class Compiled:
    """One projection compiled for bytes: its encoder and decoders, built once.

    Typed nodes get a decoder each, built on first use: the top one when the projection starts
    with one, and those met below a generic node, so values under ``*`` still go through msgspec.
    With a ``schema`` (the Struct type of the documents), a node is compiled for the schema's type
    at its place: keys in the schema's order, and every node typed where one Struct is known.
    """

    __slots__ = (
        "_case_insensitive",
        "_encode",
        "_encode_lines",
        "_fast",
        "_mask",
        "_may_type",
        "_root",
        "_schema",
        "_top",
        "_typed",
    )

    def __init__(
        self,
        mask: Mask,
        *,
        case_insensitive: bool = False,
        typed: bool = True,
        schema: Schema | None = None,
    ) -> None:
        """Compile ``mask``; ``typed=False`` takes the generic path everywhere: no msgspec types to
        build, for a projection used once, and for tests that compare both paths."""
        self._mask = mask
        self._case_insensitive = case_insensitive
        self._schema = schema
        self._root = None if schema is None else _schema.root(schema)
        encoder = msgspec.json.Encoder()
        self._encode = encoder.encode
        self._encode_lines = encoder.encode_lines
        # Struct fields match names exactly, so folded names always take the generic path, with
        # a schema too: a folded name keeps every spelling of a key, each where the document has
        # it, and a Struct keeps one. Refusing the other spellings would take a Struct of every
        # field at every node, a DROP node's unnamed fields cleared in Python for each object,
        # which costs what typing saves; and fields that differ only in case keep the
        # document's order between them (rule 8), which a Struct's fixed order does not.
        self._may_type = typed and not case_insensitive
        self._typed: dict[tuple[Node, Scope | None], _Typed | None] = {}
        self._top = (
            self._typed_node(mask, self._root)
            if self._may_type and isinstance(mask, Node)
            else None
        )
        self._fast = self._first_try(mask)

    @property
    def mask(self) -> Mask:
        return self._mask

    @property
    def case_insensitive(self) -> bool:
        return self._case_insensitive

    @property
    def schema(self) -> Schema | None:
        return self._schema

    def project(self, data: bytes) -> bytes:
        """The projected document; the input itself when the projection keeps everything."""
        fast = self._fast
        if fast is not None and type(data) is bytes and len(data) < _LARGE:
            # The gateway's case, with as little Python as can be around the msgspec calls.
            try:
                output: bytes = self._encode(fast(data))
                if not output.isascii():
                    output.decode()  # valid UTF-8, or UnicodeDecodeError
            except msgspec.ValidationError:
                pass  # a shape the short path does not take: the careful path takes it
            except msgspec.DecodeError as error:
                # Malformed: the careful path would decode it again only to meet the same fault.
                return _refused(self._project, data, error)
            except (msgspec.MsgspecError, RecursionError, UnicodeError):
                pass  # the careful path below finds what is wrong
            else:
                return output
        if not isinstance(data, _BYTES_LIKE):
            raise TypeError(f"JSON to project must be bytes, not {type(data).__name__}")
        if not isinstance(self._mask, Node):
            return _guarded(_validated, data)
        return _guarded(self._project, data)

    def project_in_runs(self, documents: Sequence[bytes | memoryview]) -> Iterator[bytes | int]:
        """Documents projected into NDJSON with the least Python per document: the output of
        each run of them projected together, and, between runs, the index of each document to
        project on its own (``project``), in order.

        Meant for many documents at once, such as a block of NDJSON (``_bulk.project_block``).
        Only a typed projection takes runs of them; a document a run cannot take (invalid, blank,
        or a shape the Structs do not take) ends it, is given by index, and the next run starts
        after it: one invalid line among thousands costs itself, not the thousands one at a
        time. Each document of a run whose output keeps invalid UTF-8 is given by index too,
        since only one at a time tells where. Each is decoded on its own, so a value never spans
        two of them.
        """
        typed = self._top
        if typed is None:
            yield from range(len(documents))
            return
        remaining = iter(documents)
        done = 0
        while done < len(documents):
            values: list[Any] = []
            try:
                # ``extend`` keeps the values decoded before a fault; ``remaining`` is left
                # past the document at fault, the one after them.
                values.extend(map(typed.decoder.decode, remaining))
                stopped = False
            except (msgspec.DecodeError, RecursionError, UnicodeError):
                stopped = True
            if values:
                output = self._run_output(typed, values)
                if output is None:
                    yield from range(done, done + len(values))
                else:
                    yield output
                done += len(values)
            if stopped:
                yield done
                done += 1
            if len(values) < _SHORT_RUN:
                # One at a time for a while: a stretch of invalid lines would cost a run each.
                alone = min(_SHORT_RUN, len(documents) - done)
                next(islice(remaining, alone, alone), None)  # past them
                yield from range(done, done + alone)
                done += alone

    def _run_output(self, typed: _Typed, values: list[Any]) -> bytes | None:
        """The decoded ``values`` of a run as NDJSON; None where only one at a time will do:
        the output keeps invalid UTF-8 (or fails to finish), and does not say whose."""
        try:
            if typed.finish is not None:
                values = list(map(typed.finish, values))
            output: bytes = self._encode_lines(values)
        except (msgspec.DecodeError, RecursionError, UnicodeError):
            return None
        return output if invalid_utf8(output) is None else None

    def _project(self, data: bytes) -> bytes:
        mask = self._mask
        assert isinstance(mask, Node)
        typed = self._top
        if typed is None:
            return self._encode(self._generic(mask, self._root, data))
        try:
            value = typed.decoder.decode(data)
        except msgspec.ValidationError:
            # Only what the Structs do not take goes the slow way: an array element by element.
            return self._encode(self._generic(mask, self._root, data))
        return self._encode(value if typed.finish is None else typed.finish(value))

    def _first_try(self, mask: Mask) -> Callable[[bytes], Projected] | None:
        """The short path ``project`` tries first on a small document; None for WHOLE.

        It takes the document for the usual shape (an object, where the top node is generic)
        and projects it in as few calls as the mask allows; any other shape, and invalid JSON,
        raise and take the careful path.
        """
        if not isinstance(mask, Node):
            return None
        top = self._top
        if top is None:
            return self._rebuild_document
        if top.finish is None:
            return top.decoder.decode
        decode, finish = top.decoder.decode, top.finish
        return lambda data: finish(decode(data))

    def _rebuild_document(self, data: bytes) -> dict[str, Projected]:
        """The document, taken for an object, projected the generic way from the top."""
        mask = self._mask
        assert isinstance(mask, Node)
        return self._rebuild(mask, self._root, _OBJECT.decode(data))

    def _rebuild_object(self, mask: Node, scope: Scope | None, data: bytes) -> dict[str, Projected]:
        return self._rebuild(mask, scope, _OBJECT.decode(data))

    def _typed_node(self, node: Node, scope: Scope | None) -> _Typed | None:
        """The typed decoder of ``node`` at ``scope``, None where only the generic path will do."""
        if not self._may_type:
            return None
        try:
            return self._typed[node, scope]
        except KeyError:
            pass
        compiled = None
        typed = _struct(node, scope, self._inner)
        if typed is not None:
            struct, finish = typed
            compiled = _Typed(msgspec.json.Decoder(struct), _finisher(finish) if finish else None)
        self._typed[node, scope] = compiled
        return compiled

    def _inner(self, mask: Mask, scope: Scope | None, raw: Raw) -> Projected:
        return self._value(mask, scope, raw) if isinstance(mask, Node) else raw

    def _value(self, mask: Node, scope: Scope | None, raw: Raw) -> Projected:
        """A value inside the document projected: through msgspec where the shape allows."""
        first = memoryview(raw)[0]  # decoded values start at their first byte
        if first != _OPEN_OBJECT and first != _OPEN_ARRAY:
            return raw  # a node leaves a primitive as it is (rule 7)
        if self._may_type:
            return self._container(self._typed_node(mask, scope), mask, scope, raw)
        # Nothing typed (a projection's first use): straight to the generic way.
        if first == _OPEN_OBJECT:
            return self._rebuild(mask, scope, _OBJECT.decode(raw))
        return self._array(mask, scope, raw)

    def _container(
        self, typed: _Typed | None, mask: Node, scope: Scope | None, raw: Raw
    ) -> Projected:
        """An object or an array inside the document projected: ``_value`` past its check, with
        the typed decoder of ``mask`` at ``scope`` (``_typed_node``)."""
        if typed is not None:
            try:
                value = typed.decoder.decode(raw)
            except msgspec.ValidationError:
                pass  # a shape the Structs do not take (arrays of arrays, unknown keys, ...)
            else:
                return value if typed.finish is None else typed.finish(value)
        return self._generic(mask, scope, raw)

    def _generic(self, mask: Node, scope: Scope | None, data: bytes | Raw) -> Projected:
        """``data`` projected by ``mask`` whatever its shape, rebuilt in Python around Raws."""
        first = first_byte(data)
        if first == _OPEN_ARRAY:
            return self._array(mask, scope, data)
        if first != _OPEN_OBJECT:
            # A primitive stays as it is (rule 7); decoding validates it and trims white space.
            return _VALUE.decode(data)
        return self._rebuild_object(mask, scope, data)

    def _array(self, mask: Node, scope: Scope | None, data: bytes | Raw) -> Projected:
        """An array projected the generic way (``_generic`` past its check)."""
        return Raw(self._joined(mask, scope, bytes(data)))

    def _joined(self, mask: Node, scope: Scope | None, text: bytes) -> bytes:
        """The array ``text`` projected and encoded: each object in it, however deep in nested
        arrays, projected; every other value as it is (rule 7); brackets and commas compact.

        An array with no object in it is only made compact, by msgspec, at the speed of memory;
        any other is decoded a level at a time (``_levels``). A Python call per value cost a
        second for an array of a million numbers.
        """
        if _OPEN_OBJECT_BYTES not in text:
            return _compact(text)
        (joined,) = self._levels(mask, scope, [text], 0)
        return joined

    def _levels(
        self, mask: Node, scope: Scope | None, arrays: list[bytes], level: int
    ) -> list[bytes]:
        """The ``arrays``, all at one level of nesting, each projected and encoded as
        ``_joined`` does: their values decoded together, as ``Raw``, in one msgspec call; their
        objects projected together; the arrays among their values, the next level, the same
        way. A Python step for each array, none for each value. Past ``_LEVELS`` levels, where
        decoding each level again would cost the size times the depth, and for one array
        below the top, the arrays are cut at their strings and runs of objects in one pass
        instead (``join_array``)."""
        # One array, maybe of objects only, decoded as one: below the top, or at the top where
        # no typed decoder just failed to decode it (``_project``, ``_container``).
        if len(arrays) == 1 and (level or self._typed_node(mask, scope) is None):
            try:
                return [self._encode(self._objects(mask, scope, arrays[0]))]
            except msgspec.ValidationError:
                pass
        if level == _LEVELS or (level and len(arrays) == 1):
            # Valid JSON, as ``join_array`` needs: the levels above read it. One array below
            # the top is cut as it is, rather than decoded for the one level it is; several
            # as the values of one array, cut in one pass: a pass for each small one cost a
            # second for a megabyte of them.
            project = functools.partial(self._objects, mask, scope)
            if len(arrays) == 1:
                return [join_array(arrays[0], project, self._encode)]
            joined = join_array(b"[%b]" % b",".join(arrays), project, self._encode)
            return list(map(bytes, _ELEMENTS.decode(joined)))
        # One array decoded as it is, so that a fault in it is named where it is.
        decoded = (
            [_ELEMENTS.decode(arrays[0])]
            if len(arrays) == 1
            else _ARRAYS.decode(b"[%b]" % b",".join(arrays))
        )
        values = list(map(bytes, chain.from_iterable(decoded)))
        firsts = bytes(map(_FIRST, values))
        objects = [match.start() for match in _OPEN_OBJECT_AT.finditer(firsts)]
        if objects:
            found = b",".join([values[number] for number in objects])
            projected = map(self._encode, self._objects(mask, scope, b"[%b]" % found))
            for number, value in zip(objects, projected, strict=True):
                values[number] = value
        holding = []  # the arrays among the values that hold objects: the next level
        for match in _OPEN_ARRAY_AT.finditer(firsts):
            number = match.start()
            if _OPEN_OBJECT_BYTES in values[number]:
                holding.append(number)
            else:
                values[number] = _compact(values[number])
        if holding:
            deeper = self._levels(mask, scope, [values[n] for n in holding], level + 1)
            for number, value in zip(holding, deeper, strict=True):
                values[number] = value
        ends = accumulate(map(len, decoded))
        return [
            b"[%b]" % b",".join(values[end - len(array) : end])
            for end, array in zip(ends, decoded, strict=True)
        ]

    def _objects(self, mask: Node, scope: Scope | None, text: bytes) -> list[Projected]:
        """The array of objects ``text``, each projected, in as few msgspec calls as can be; a
        ``ValidationError`` if it holds any other value."""
        typed = self._typed_node(mask, scope)
        if typed is not None:
            try:
                decoded = typed.decoder.decode(text)
            except msgspec.ValidationError:
                pass  # a shape the Structs do not take: the generic way, for all
            else:
                return decoded if typed.finish is None else typed.finish(decoded)  # type: ignore[no-any-return]
        return [self._rebuild(mask, scope, document) for document in _OBJECTS.decode(text)]

    def _rebuild(
        self, mask: Node, scope: Scope | None, document: dict[str, Raw]
    ) -> dict[str, Projected]:
        inner = self._inner
        at = None if scope is None else _schema.level(scope)
        if at is not None and at.rank:
            # The schema's order, keys it lacks after them (rule 8).
            pairs = kept(mask, document, case_insensitive=self._case_insensitive)
            return {
                key: inner(entry, below, document[key])
                for key, entry, below in arrange(pairs, at, self._case_insensitive, document)
            }
        below = None if at is None else at.beyond
        default = mask.default
        if default is not DROP and not self._case_insensitive:
            # The decoded dict is already in the order rule 8 asks here, each key at its first
            # position with its last value: values change in place. Keys the node does not name
            # take the default, which for exclusions (a gateway's policy) keeps them as they are.
            entries = mask.entries
            if isinstance(default, Node):
                # Only objects and arrays need the default: a node leaves primitives as they
                # are (rule 7), told here by their first byte without a call.
                container, typed = self._container, self._typed_node(default, below)
                for key, value in document.items():
                    if memoryview(value)[0] in _CONTAINERS and key not in entries:
                        document[key] = container(typed, default, below, value)
            for key, entry in entries.items():
                if key in document:
                    if entry is DROP:
                        del document[key]
                    else:
                        document[key] = inner(entry, below, document[key])
            return document
        if default is DROP and not self._case_insensitive:
            # The entries' order (rule 8): each one the document has, its value projected.
            projected = {}
            get, value_of = document.get, self._value
            for key, entry in mask.entries.items():
                found = get(key)
                if found is not None:
                    projected[key] = value_of(entry, below, found) if type(entry) is Node else found
            return projected
        return {
            key: inner(entry, below, document[key])
            for key, entry in kept(mask, document, case_insensitive=self._case_insensitive)
        }


def _guarded(function: Callable[[bytes], bytes], data: bytes) -> bytes:
    """``function(data)``, checked to be valid UTF-8; decoding failures as ``PayloadError``."""
    try:
        output = function(data)
    except (msgspec.DecodeError, UnicodeError) as error:
        return _refused(function, data, error)
    except RecursionError as error:
        raise _too_deep_error(data, error) from None
    if invalid_utf8(output) is not None:
        # Kept invalid UTF-8: the string around it in the output, copied from the input whole,
        # most often says where; else projections with markers do.
        pos = traced(data, output)
        if pos is not None:
            raise _located(data, pos, "invalid UTF-8")
        raise _invalid_utf8_error(data, function)
    return output


def _refused(
    function: Callable[[bytes], bytes], data: bytes, error: msgspec.DecodeError | UnicodeError
) -> bytes:
    """``function(data)`` where it failed with ``error``: the ``PayloadError`` that says where,
    or the output after all, where only a key that is not UTF-8 made the decoder fail."""
    # Older msgspec raises a UnicodeError for a key that is not UTF-8, newer a DecodeError;
    # neither names the byte. Data cut short was read to its end, past any such key: the check
    # of all of it is spared where the message says so (in words that may change, and then the
    # data is only checked).
    message = str(error)
    if (
        BYTE_NAMED.search(message) is None
        and _CUT_SHORT not in message
        and invalid_utf8(data) is not None
    ):
        return _despite_invalid_utf8(function, data)
    raise _decode_error(error, data) from None


def _despite_invalid_utf8(function: Callable[[bytes], bytes], data: bytes) -> bytes:
    """``function(data)`` for data whose invalid UTF-8 made the decoder fail, naming no byte.

    The decoder reads the keys of a generic node as text, those it drops too, and says nothing
    of where. Projected again with each invalid byte replaced by ``?``, one byte for one, the
    data shows a fault of another kind where it is (the data cut short, a lone surrogate), or,
    if none of its invalid bytes is kept, the output itself.
    """
    sanitized = questioned(data)
    try:
        output = function(sanitized)
    except (msgspec.DecodeError, UnicodeError) as error:
        raise _decode_error(error, sanitized) from None
    except RecursionError as error:
        raise _too_deep_error(data, error) from None
    if kept_invalid_utf8(data, function) is not None:
        raise _invalid_utf8_error(data, function)
    return output


def _compact(text: bytes) -> bytes:
    """The JSON ``text`` without white space between its tokens, each token's bytes as they are
    (a number's spelling, a string's escapes); a ``DecodeError`` where it is not JSON."""
    compact: bytes = msgspec.json.format(text, indent=-1)
    return compact


def _validated(data: bytes) -> bytes:
    """``data`` itself, once the decoder found it to be JSON: the projection that keeps all."""
    _VALUE.decode(data)
    return data


def _decode_error(error: msgspec.DecodeError | UnicodeError, data: bytes) -> PayloadError:
    """The ``PayloadError`` for the decoder's ``error`` on ``data``, placed at the fault."""
    detail = str(error).removeprefix("JSON is malformed: ")
    match = BYTE_NAMED.search(detail)
    if match is None:
        # The decoder names no byte when the data ends too early, or when a string escapes a
        # lone surrogate (it expects the other half).
        surrogate = lone_surrogate(data)
        if surrogate is not None:
            return _located(data, surrogate, "a lone surrogate escaped in a string")
        return _located(data, len(data), "input data was truncated")
    detail = detail[: match.start()].rstrip()
    detail = detail[:1].lower() + detail[1:]
    pos = int(match.group(1))
    if detail.startswith("trailing characters"):
        # Past the whole value: no document of an array holds the fault.
        return _error_at(trailing_start(data, pos), None, detail)
    return _located(data, pos, detail)


def _too_deep_error(data: bytes, refusal: RecursionError) -> PayloadError:
    """The error for ``data`` refused for its depth with ``refusal``, caught by the caller.

    The decoder allows fewer levels the more frames are in use, and a refusal may come from a
    call made some frames below the caller, where the data's parts are decoded again: the byte
    is sought as deep as that call, which the traceback tells (from the caller's frame down to
    the refusing call's), less the two frames the search starts in (this one and ``too_deep``).
    """
    frames = 0  # counted in this frame: a generator's frames could meet the limit themselves
    below = refusal.__traceback__
    while below is not None:
        frames += 1
        below = below.tb_next
    try:
        where = too_deep(data, deeper=frames - 3)
    except RecursionError:
        # The caller is so near the interpreter's limit that the search cannot go where the
        # decoder went: the refusal stands, unplaced, rather than a RecursionError escaping.
        return PayloadError(
            f"invalid JSON: {_TOO_DEEP}, with the little stack the caller left "
            "(too little to find where)"
        )
    return _error_at(*where, _TOO_DEEP)


def _invalid_utf8_error(data: bytes, function: Callable[[bytes], bytes]) -> PayloadError:
    """The error for invalid UTF-8 that ``function`` keeps from ``data``, at its first byte."""
    pos = kept_invalid_utf8(data, function)
    return _located(data, invalid_utf8(data) if pos is None else pos, "invalid UTF-8")


def _located(data: bytes, pos: int | None, detail: str) -> PayloadError:
    """A ``PayloadError`` at byte ``pos``, naming the document of bulk input that holds it."""
    return _error_at(pos, None if pos is None else element_at(data, pos), detail)


def _error_at(pos: int | None, index: int | None, detail: str) -> PayloadError:
    where = f"byte {pos}" if index is None else f"byte {pos} (document {index} of the array)"
    return PayloadError(f"invalid JSON at {where}: {detail}", pos=pos, index=index)


def _can_type(node: Node) -> bool:
    """Whether ``node`` can be a Struct: a DROP default, and keys msgspec accepts as field names."""
    return node.default is DROP and not any(map(_UNNAMEABLE.search, node.entries))
