"""The ``Projection`` value: a mask with its options, and ``parse``, which makes one.

``parse`` is text -> syntax (``_grammar``) -> mask (``_mask``), the canonical text held to the
limits (``_canonical``). A ``Projection`` is immutable and hashable; equality is equality of masks
and of ``case_insensitive``, and ``str(p)`` is canonical (``_canonical``):
``parse(str(p), <p's options>) == p``, and ``p == q`` exactly when ``str(p) == str(q)``. Its
methods hand the mask to the stage that does the work: ``_reference`` for values, ``_compile``
and ``_bulk`` for bytes, ``_paths`` for FieldMask paths, ``_schema`` for typed models.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Final, final

from . import _bulk, _canonical, _mask, _paths, _reference, _schema
from ._compile import Compiled
from ._errors import PayloadError, ProjectionLimitError
from ._grammar import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_LENGTH,
    Limits,
    Selection,
    check_depth_and_items,
    names_in,
    parse_syntax,
)
from ._mask import Mask, Node
from ._scan import invalid_utf8
from ._schema import Schema

__all__ = ["Projection", "compiled", "mask_of", "parse", "parse_united"]


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
        fast = self._compiled
        if fast is None:
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
            fast = compiled(self)
        return fast.project(data)

    def project_lines(self, lines: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
        """NDJSON projected line by line, lazily: each output line ends with ``b"\\n"``.

        ``lines`` is NDJSON bytes, a binary file or any iterable of lines; blank lines are skipped.
        An invalid line raises ``PayloadError`` with its 1-based ``line`` number.
        """
        return _bulk.project_lines(compiled(self), lines)

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
            text = _canonical.text(self._mask) if isinstance(self._mask, Node) else ""
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
        return _paths.paths(self._mask) if isinstance(self._mask, Node) else ["*"]

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
        mask = _paths.mask(paths, case_insensitive=case_insensitive, max_depth=max_depth)
        return cls(mask, case_insensitive=case_insensitive)


_DEFAULT_LIMITS: Final = Limits().checked()


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
    # The default limits are made and checked once: a new expression's first use pays for little.
    if (max_length, max_depth, max_items) == _DEFAULT_LIMITS:
        limits = _DEFAULT_LIMITS
    else:
        limits = Limits(max_length, max_depth, max_items).checked()
    if schema is not None:
        _schema.check_schema(schema)
    elif strict:
        raise ValueError("strict=True needs a schema to check names against")
    _, mask = _built(text, limits, case_insensitive, schema, strict)
    return Projection(mask, case_insensitive=case_insensitive, schema=schema)


def _built(
    text: str, limits: Limits, case_insensitive: bool, schema: Schema | None, strict: bool
) -> tuple[Selection, Mask]:
    """``text``'s syntax and mask, held to ``limits``: ``parse`` past its checks of arguments."""
    syntax = parse_syntax(text, limits)
    if schema is not None:
        syntax = _schema.resolve(syntax, schema, text, strict=strict)
    # The canonical text can outgrow the expression ("-*/x" copies x into every entry): it is
    # held to the same limits, refused while the mask is built, then measured unprinted.
    try:
        mask = _mask.build(syntax, case_insensitive=case_insensitive, max_entries=limits.max_items)
    except _mask.MaskTooLargeError:
        raise _canonical.limit_error(text, syntax, f"more than {limits.max_items} names") from None
    if schema is not None:
        mask = _schema.fit(mask, schema, strict=strict)
    excess = _canonical.excess(
        text, mask, case_insensitive=case_insensitive, schema=schema, limits=limits
    )
    if excess is not None:
        raise _canonical.limit_error(text, syntax, excess)
    return syntax, mask


def parse_united(
    texts: Sequence[str],
    *,
    case_insensitive: bool = False,
    schema: Schema | None = None,
    strict: bool = False,
    max_length: int = MAX_LENGTH,
) -> Projection:
    """The union (``|``) of ``texts`` parsed, held to the limits as one expression is: their
    names count together against ``max_items``, and so does what their union's canonical text
    names; ``max_length`` bounds each text (the caller bounds their sum). Each is parsed on its
    own, so an error points into the text at fault; the union is made in one step, at a cost
    that grows with the texts, not with their number squared.

    For a query that gives an expression several times (the middleware), where parsing each
    and uniting them two by two would let repeating it pass ``max_items`` at a square's cost.
    """
    if not texts:
        raise ValueError("parse_united needs at least one expression")
    limits = Limits(max_length, MAX_DEPTH, MAX_ITEMS).checked()
    left = MAX_ITEMS  # names the texts not yet parsed may hold
    built = []
    for text in texts:
        syntax, mask = _built(text, limits, case_insensitive, schema, strict)
        names = names_in(syntax)
        if names > left:
            try:  # the name that crosses: the check of one text, with what is left
                check_depth_and_items(text, syntax, limits._replace(max_items=left))
            except ProjectionLimitError as crossing:
                raise ProjectionLimitError(
                    f"the expressions name more than {MAX_ITEMS} fields together",
                    text,
                    crossing.pos,
                ) from None
        left -= names
        built.append((text, syntax, mask))
    text, syntax, _ = built[-1]
    try:
        united = _mask.union(*(mask for _, _, mask in built), max_entries=MAX_ITEMS)
    except _mask.MaskTooLargeError:
        raise _canonical.limit_error(text, syntax, f"more than {MAX_ITEMS} names") from None
    if schema is not None:
        united = _schema.fit(united, schema, strict=False)
    # Measured as one expression's would be, against all the texts: the last one, whose
    # joining made the union, takes the refusal.
    excess = _canonical.excess(
        ",".join(texts),
        united,
        case_insensitive=case_insensitive,
        schema=schema,
        limits=limits,
    )
    if excess is not None:
        raise _canonical.limit_error(text, syntax, excess)
    return Projection(united, case_insensitive=case_insensitive, schema=schema)


def _restore(mask: Mask, case_insensitive: bool, schema: Schema | None) -> Projection:
    return Projection(mask, case_insensitive=case_insensitive, schema=schema)


# -- for the package's own modules: what a Projection holds, in the package's own types ----------


def mask_of(projection: Projection) -> Mask:
    """The mask ``projection`` holds (grammar/SEMANTICS.md, section 2)."""
    return projection._mask


def compiled(projection: Projection) -> Compiled:
    """The fast path for ``projection``, built on first use and kept with it: what bulk input
    (``_bulk``, the command, ``dask``) projects with."""
    found = projection._compiled
    if found is None:
        found = Compiled(
            projection._mask,
            case_insensitive=projection._case_insensitive,
            schema=projection._schema,
        )
        object.__setattr__(projection, "_compiled", found)
    return found
