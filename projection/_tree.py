"""The ``Projection`` value: a mask with its options, canonical text, FieldMask paths and algebra.

``parse`` is text -> syntax (``_grammar``) -> mask (``_mask``). A ``Projection`` is immutable and
hashable; equality is equality of masks and of ``case_insensitive``, and ``str(p)`` is canonical:
``parse(str(p), <p's options>) == p``, and ``p == q`` exactly when ``str(p) == str(q)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Final, final

from . import _bulk, _mask, _reference, _schema
from ._compile import Compiled
from ._errors import PayloadError, ProjectionLimitError
from ._grammar import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_LENGTH,
    Limits,
    Selection,
    parse_syntax,
)
from ._mask import DROP, WHOLE, Mask, Node
from ._scan import invalid_utf8
from ._schema import Schema

__all__ = ["Projection", "parse"]

# SEMANTICS.md section 1: a name is quoted when it is empty, starts with "-", or holds one of these.
_NEEDS_QUOTES: Final = re.compile(r"[,()/*`\x20\t\r\n]")
# A FieldMask path segment is quoted when it holds "." or "`", or is "*" or empty.
_PATH_NEEDS_QUOTES: Final = re.compile(r"[.`]")


@final
class Projection:
    """A parsed ``responseFields`` expression: which parts of a JSON document to keep.

    Build one with ``projection.parse`` or ``Projection.from_paths``. ``str(p)`` is the canonical
    expression, ``p.apply(value)`` projects Python values, ``p | q`` and ``p & q`` combine. The
    constructor itself takes a mask that ``projection._mask`` built, simplified: it is internal.
    """

    __slots__ = ("_case_insensitive", "_compiled", "_mask", "_schema", "_text", "_used")

    _mask: Mask
    _case_insensitive: bool
    _compiled: Compiled | None
    _used: bool
    _text: str | None
    _schema: Schema | None

    def __init__(
        self,
        mask: Mask,
        *,
        case_insensitive: bool = False,
        schema: Schema | None = None,
    ) -> None:
        object.__setattr__(self, "_mask", mask)
        object.__setattr__(self, "_case_insensitive", case_insensitive)
        # Kept for ``typed()`` and to show in ``repr``; like the limits, it is no part of equality.
        object.__setattr__(self, "_schema", schema)
        # Compiled once it proves hot (``project``): parsing alone should not pay for msgspec types.
        object.__setattr__(self, "_compiled", None)
        object.__setattr__(self, "_used", False)
        object.__setattr__(self, "_text", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Projection is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Projection is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self._mask, self._case_insensitive, self._schema))

    @property
    def mask(self) -> Mask:
        """The mask this projection holds (grammar/SEMANTICS.md, section 2)."""
        return self._mask

    @property
    def case_insensitive(self) -> bool:
        """Whether names match document keys by ``str.casefold`` (rule 10)."""
        return self._case_insensitive

    @property
    def schema(self) -> Schema | None:
        """The Struct type ``parse`` resolved the names against, which also orders every object's
        keys (rule 8); ``None`` without one. ``|`` and ``&`` keep the schema both sides share."""
        return self._schema

    def typed(self, schema: Schema | None = None) -> Schema:
        """A msgspec Struct type holding only the fields of ``schema`` that this projection keeps.

        ``schema`` defaults to the one given to ``parse``. Names, encode names, field order and
        types are the schema's; nested Structs the projection narrows are derived the same way,
        and every field defaults to ``UNSET``, so both a full and a projected document decode into
        it with nothing invented. Types are kept in a bounded cache: repeated calls return the
        same type.
        """
        if schema is None:
            if self._schema is None:
                raise TypeError("typed() needs a schema: this projection was parsed without one")
            schema = self._schema
        return _schema.typed(
            self._mask, _schema.check_schema(schema), case_insensitive=self._case_insensitive
        )

    # -- values -------------------------------------------------------------------------------

    def apply(self, value: Any) -> Any:
        """``value`` (``dict``, ``list`` and JSON primitives) projected; the reference semantics.

        Raw JSON is refused (``TypeError``): a ``str`` or bytes would pass as a primitive, whole.
        """
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            raise TypeError(
                f"apply takes decoded JSON (dict, list, ...), not {type(value).__name__}: "
                "use project() for JSON bytes"
            )
        return _reference.apply(
            self._mask, value, case_insensitive=self._case_insensitive, schema=self._schema
        )

    def project(self, data: bytes) -> bytes:
        """JSON bytes projected to JSON bytes: the fast path, same result as ``apply``.

        Selected values are copied byte for byte, the structure around them is written compact;
        a projection that keeps everything returns ``data`` itself, once checked to be JSON.
        Invalid JSON raises ``PayloadError`` saying where.

        The first document goes the generic way, which builds no msgspec types: a gateway that
        sees an expression once pays a fifth of what compiling costs. From the second on, the
        projection is compiled and kept. The bytes are the same either way.
        """
        compiled = self._compiled
        if compiled is None:
            if not self._used:
                object.__setattr__(self, "_used", True)
                generic = Compiled(
                    self._mask,
                    case_insensitive=self._case_insensitive,
                    typed=False,
                    schema=self._schema,
                )
                try:
                    return generic.project(data)
                except PayloadError:
                    # The generic way reads every key of a node as text; Structs skip the keys
                    # they do not name. Invalid UTF-8 in such a key must not fail only once.
                    if invalid_utf8(data) is None:
                        raise
            compiled = self.compiled()
        return compiled.project(data)

    def project_lines(self, lines: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
        """NDJSON projected line by line, lazily: each output line ends with ``b"\\n"``.

        ``lines`` is NDJSON bytes, a binary file or any iterable of lines; blank lines are skipped.
        An invalid line raises ``PayloadError`` with its 1-based ``line`` number.
        """
        return _bulk.project_lines(self.compiled(), lines)

    def compiled(self) -> Compiled:
        """The fast path for this projection, built on first use and kept."""
        compiled = self._compiled
        if compiled is None:
            compiled = Compiled(
                self._mask, case_insensitive=self._case_insensitive, schema=self._schema
            )
            object.__setattr__(self, "_compiled", compiled)
        return compiled

    # -- algebra ------------------------------------------------------------------------------

    def __or__(self, other: Projection) -> Projection:
        """The union: keeps every path that either side keeps."""
        if not isinstance(other, Projection):
            return NotImplemented
        return self._combined(other, _mask.union(self._mask, other._mask))

    def __and__(self, other: Projection) -> Projection:
        """The composition ``self`` after ``other``: what both keep, narrowed step by step."""
        if not isinstance(other, Projection):
            return NotImplemented
        return self._combined(other, _mask.compose(self._mask, other._mask))

    def _combined(self, other: Projection, mask: Mask) -> Projection:
        """The result of ``|`` or ``&``: the options both sides share, the schema if they share
        one, with entries then in the schema's order, as ``parse`` gives them (rule 12)."""
        if self._case_insensitive != other._case_insensitive:
            raise ValueError(
                "cannot combine a case-insensitive projection with a case-sensitive one"
            )
        schema = self._schema if self._schema is other._schema else None
        if schema is not None:
            mask = _schema.fit(mask, schema, strict=False)
        return Projection(mask, case_insensitive=self._case_insensitive, schema=schema)

    # -- identity -----------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Projection):
            return NotImplemented
        return self._case_insensitive == other._case_insensitive and self._mask == other._mask

    def __hash__(self) -> int:
        return hash((self._mask, self._case_insensitive))

    def __str__(self) -> str:
        text = self._text
        if text is None:
            # The top of a projection is WHOLE or a node, never DROP. Kept: a cache key, often.
            text = _selection_text(self._mask) if isinstance(self._mask, Node) else ""
            object.__setattr__(self, "_text", text)
        return text

    def __repr__(self) -> str:
        option = ", case_insensitive=True" if self._case_insensitive else ""
        if self._schema is not None:
            option += f", schema={self._schema.__qualname__}"
        return f"projection.parse({str(self)!r}{option})"

    # -- FieldMask paths ----------------------------------------------------------------------

    def paths(self) -> list[str]:
        """The dotted FieldMask paths that say this projection, depth first in entry order.

        ``["*"]`` for everything; ``"x.*.y"`` where every key of ``x`` keeps ``y``. Raises
        ``ValueError`` for what paths cannot say: exclusions, ``*`` beside named keys, ``{}``.
        """
        return _paths(self._mask) if isinstance(self._mask, Node) else ["*"]

    @classmethod
    def from_paths(
        cls, paths: Iterable[str], *, case_insensitive: bool = False, max_depth: int = MAX_DEPTH
    ) -> Projection:
        """The projection keeping exactly ``paths`` (the inverse of ``paths()``).

        ``ValueError`` for no paths, an empty or malformed path, ``*`` beside named paths at one
        level, or a path longer than ``max_depth`` segments.
        """
        if isinstance(paths, str):
            raise TypeError("from_paths takes an iterable of paths, not one string")
        Limits(max_depth=max_depth).checked()
        trie: _Trie = {}
        count = 0
        for path in paths:
            segments = _split_path(path)
            if len(segments) > max_depth:
                raise ValueError(f"path {path!r} is deeper than {max_depth} segments")
            count += 1
            level = trie
            for segment in segments:
                key = segment.casefold() if case_insensitive and segment is not None else segment
                level = level.setdefault(key, {})
            level[_END] = {}
        if not count:
            raise ValueError("from_paths needs at least one path")
        return cls(_trie_mask(trie), case_insensitive=case_insensitive)


def parse(
    text: str,
    *,
    case_insensitive: bool = False,
    schema: Schema | None = None,
    strict: bool = False,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ITEMS,
) -> Projection:
    """Parse a ``responseFields`` expression into a ``Projection``.

    Raises ``ProjectionSyntaxError`` (with ``pos``, ``column``, ``expected`` and a caret) or
    ``ProjectionLimitError`` when the text is longer than ``max_length`` characters, nests names
    deeper than ``max_depth`` or names more than ``max_items`` fields; ``TypeError`` if not a str.

    With a msgspec Struct ``schema``, names resolve to its fields ignoring case (exact match
    first), and every node writes its keys in the schema's order, the keys the schema lacks after
    them in the document's order (rule 8); ``strict`` (which needs a schema) makes a name the
    schema lacks an ``UnknownFieldError``, checked after the syntax and the limits.
    """
    if not isinstance(text, str):
        raise TypeError(f"a responseFields expression must be str, not {type(text).__name__}")
    limits = Limits(max_length, max_depth, max_items).checked()
    if schema is not None:
        _schema.check_schema(schema)
    elif strict:
        raise ValueError("strict=True needs a schema to check names against")
    syntax = parse_syntax(text, limits)
    if schema is not None:
        syntax = _schema.resolve(syntax, schema, text, strict=strict)
    # "-*/x" copies x into every entry, exclusions print as whole paths and "a/b" as "a(b)":
    # the canonical text can outgrow the expression. Held to the same limits, it always parses
    # back with the same options. Refused while the mask is built, and measured without being
    # printed, so that refusing costs no more than accepting.
    try:
        mask = _mask.build(syntax, fold=case_insensitive, max_entries=limits.max_items)
    except _mask.MaskTooLargeError:
        raise _canonical_limit_error(text, syntax, f"more than {limits.max_items} names") from None
    if schema is not None:
        mask = _schema.fit(mask, schema, strict=strict)
    if isinstance(mask, Node) and not _canonical_fits(text, case_insensitive, schema, limits):
        excess = _canonical_excess(mask, limits)
        if excess is not None:
            raise _canonical_limit_error(text, syntax, excess)
    return Projection(mask, case_insensitive=case_insensitive, schema=schema)


def _canonical_fits(
    text: str, case_insensitive: bool, schema: Schema | None, limits: Limits
) -> bool:
    """Whether the canonical text of ``text``'s mask is surely within ``limits``, unmeasured.

    Without a schema, and with no "-" or "*" in the text (so no exclusions, which print whole
    paths and copy through "*", and no "*" whose group merges into named entries), the canonical
    text is the expression with each "a/b" written "a(b)", names case-folded under
    ``case_insensitive``, quotes and white space only where needed and the items of one key
    merged into one: at most one character longer per "/", and no more names (already counted).
    """
    if schema is not None or "-" in text or "*" in text:
        return False
    # Case folding never makes a character that needs quoting (it maps letters to letters).
    length = len(text.casefold()) if case_insensitive else len(text)
    return length + text.count("/") <= limits.max_length


def _canonical_limit_error(text: str, syntax: Selection, excess: str) -> ProjectionLimitError:
    return ProjectionLimitError(
        f"the expression stands for {excess} in canonical form, more than the limit",
        text,
        _crossing_item(syntax),
    )


def _canonical_excess(mask: Node, limits: Limits) -> str | None:
    """What of ``mask``'s canonical text passes the limits, read until it does; None if nothing."""
    characters = names = 0
    for piece, is_name in _pieces(mask):
        characters += len(piece)
        names += is_name
        if characters > limits.max_length:
            return f"more than {limits.max_length} characters"
        if names > limits.max_items:
            return f"more than {limits.max_items} names"
    return None


def _crossing_item(selection: Selection) -> int:
    """Where the item starts that makes the canonical text outgrow the expression.

    The first item that copies names into others, if there is one: an exclusion through ``*``
    (``-*/x`` copies ``x`` into every entry) or a ``*(...)`` group (its names go to every key
    beside it). Otherwise the exclusion nested deepest in groups, whose path the text repeats in
    full for every name it excludes there; otherwise the first path (``a/b`` prints as
    ``a(b)``). The first of each kind, left to right.
    """
    deepest = (-1, 0)  # (depth, pos) of the deepest exclusion so far
    copying: list[int] = []
    paths: list[int] = []
    stack: list[tuple[Selection, int]] = [(selection, 0)]
    while stack:
        items, depth = stack.pop()
        for item in items:
            start = item.path[0].pos
            if item.exclude:
                if any(name.key is None for name in item.path[:-1]):
                    copying.append(start)
                if depth > deepest[0] or (depth == deepest[0] and start < deepest[1]):
                    deepest = (depth, start)
            elif item.group is not None and item.path[-1].key is None:
                copying.append(start)
            if len(item.path) > 1:
                paths.append(start)
            if item.group is not None:
                stack.append((item.group, depth + len(item.path)))
    if copying:
        return min(copying)
    return deepest[1] if deepest[0] >= 0 else min(paths, default=0)


def _restore(mask: Mask, case_insensitive: bool, schema: Schema | None) -> Projection:
    return Projection(mask, case_insensitive=case_insensitive, schema=schema)


# -- canonical text ---------------------------------------------------------------------------


def _quote(name: str) -> str:
    if name and not name.startswith("-") and not _NEEDS_QUOTES.search(name):
        return name
    return "`" + name.replace("`", "``") + "`"


def _selection_text(node: Node) -> str:
    """The comma list that denotes ``node`` (the canonical text)."""
    return "".join(piece for piece, _ in _pieces(node))


def _pieces(node: Node) -> Iterator[tuple[str, bool]]:
    """The canonical text of ``node`` in pieces, each saying whether it is a name.

    Pieces, so that ``parse`` can measure a text against the limits and stop where it passes
    them, without printing it.
    """
    if node.default is DROP:
        if not node.entries:
            yield "-", False
            yield "*", True
            return
        for number, (key, mask) in enumerate(node.entries.items()):
            if number:
                yield ",", False
            yield from _include_pieces(key, mask)
        return
    if node.default is WHOLE:
        exclusions = _exclusion_paths(node)
        if exclusions is not None:
            for number, path in enumerate(exclusions):
                yield ("-" if number == 0 else ",-"), False
                for depth, key in enumerate(path):
                    if depth:
                        yield "/", False
                    yield _quote(key), True
            return
        yield "*", True
    else:
        assert isinstance(node.default, Node)
        yield "*", True
        yield "(", False
        yield from _pieces(node.default)
        yield ")", False
    for key in sorted(node.entries):
        mask = node.entries[key]
        yield ",", False
        if mask is DROP:
            yield "-", False
            yield _quote(key), True
        else:
            yield from _include_pieces(key, mask)


def _include_pieces(key: str, mask: Mask) -> Iterator[tuple[str, bool]]:
    yield _quote(key), True
    if isinstance(mask, Node):
        yield "(", False
        yield from _pieces(mask)
        yield ")", False


def _exclusion_paths(node: Node) -> list[tuple[str, ...]] | None:
    """Sorted paths of a WHOLE-default node that only excludes, or None if it does more."""
    paths: list[tuple[str, ...]] = []
    for key in sorted(node.entries):
        mask = node.entries[key]
        if mask is DROP:
            paths.append((key,))
            continue
        if not (isinstance(mask, Node) and mask.default is WHOLE):
            return None
        inner = _exclusion_paths(mask)
        if inner is None:
            return None
        paths.extend((key, *path) for path in inner)
    return paths


# -- FieldMask paths --------------------------------------------------------------------------

_Trie = dict[Any, "_Trie"]
# Marks a trie level where a path ends: everything below it is kept.
_END: Final = object()


def _paths(node: Node) -> list[str]:
    if node.default is DROP:
        if not node.entries:
            raise ValueError("paths cannot say a projection that keeps an object but no key of it")
        paths: list[str] = []
        for key, mask in node.entries.items():
            segment = _path_segment(key)
            if mask is WHOLE:
                paths.append(segment)
            else:
                assert isinstance(mask, Node)
                paths.extend(f"{segment}.{path}" for path in _paths(mask))
        return paths
    if node.entries or not isinstance(node.default, Node):
        raise ValueError(f"paths cannot say {_selection_text(node)!r}: it excludes or mixes '*'")
    return [f"*.{path}" for path in _paths(node.default)]


def _path_segment(key: str) -> str:
    if key and key != "*" and not _PATH_NEEDS_QUOTES.search(key):
        return key
    return "`" + key.replace("`", "``") + "`"


def _split_path(path: str) -> list[str | None]:
    """The segments of one dotted path; ``None`` is an unquoted ``*``."""
    if not isinstance(path, str):
        raise TypeError(f"a path must be str, not {type(path).__name__}")
    segments: list[str | None] = []
    index = 0
    while True:
        if path.startswith("`", index):
            end = index + 1
            chunks: list[str] = []
            while True:
                close = path.find("`", end)
                if close < 0:
                    raise ValueError(f"unterminated quote at {index} in path {path!r}")
                chunks.append(path[end:close])
                if not path.startswith("`", close + 1):
                    break
                chunks.append("`")
                end = close + 2
            segment: str | None = "".join(chunks)
            index = close + 1
            if index < len(path) and path[index] != ".":
                raise ValueError(f"expected '.' at {index} in path {path!r}")
        else:
            dot = path.find(".", index)
            end = len(path) if dot < 0 else dot
            raw = path[index:end]
            if not raw:
                raise ValueError(f"empty segment at {index} in path {path!r}")
            if "`" in raw:
                raise ValueError(f"unexpected '`' inside segment {raw!r} of path {path!r}")
            segment = None if raw == "*" else raw
            index = end
        segments.append(segment)
        if index == len(path):
            return segments
        index += 1  # past the "."
        if index == len(path):
            raise ValueError(f"empty segment at {index} in path {path!r}")


def _trie_mask(level: _Trie) -> Mask:
    if _END in level:
        return WHOLE
    wildcard = level.get(None)
    named = [(key, _trie_mask(child)) for key, child in level.items() if key is not None]
    if wildcard is not None and named:
        raise ValueError("'*' cannot stand beside named paths at the same level")
    return _mask.node(DROP if wildcard is None else _trie_mask(wildcard), named)
