"""Syntax and masks against a msgspec Struct schema: names resolved to fields, Struct types derived.

``resolve`` respells every name of parsed syntax as the schema's JSON name (exact match first, then
ignoring case) and, when strict, raises ``UnknownFieldError`` for a name the schema lacks; ``fit``
puts DROP-default entries in schema field order (rule 8); ``typed`` derives the Struct of a mask;
``level`` and ``arrange`` say the schema's key order for every object an applier meets (rule 8).
"""

from __future__ import annotations

import collections.abc
import datetime
import decimal
import difflib
import enum
import functools
import operator
import types
import typing
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Final, NamedTuple, TypeAlias, TypeGuard

import msgspec

from ._errors import UnknownFieldError
from ._grammar import Item, Name, Selection
from ._mask import DROP, WHOLE, Mask, Node, node, union

__all__ = [
    "PRIMITIVE",
    "Level",
    "Schema",
    "Scope",
    "arrange",
    "check_schema",
    "fit",
    "level",
    "resolve",
    "root",
    "typed",
]

Schema: TypeAlias = type[msgspec.Struct]

_UNIONS: Final = (typing.Union, types.UnionType)
# Generic types whose arguments are the types of their elements: a mask reaches through them to
# every element (rule 6), so names below a field of such a type are the element type's fields.
_SEQUENCES: Final = (
    list,
    tuple,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
    collections.abc.Collection,
)
# Generic mapping types: a JSON object whose keys are data, each value of the last argument's type.
_MAPPINGS: Final = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
# A mask reaching into a mapping's values through more distinct masks than this keeps the value
# type whole in ``typed``, rather than uniting them all.
_MOST_VALUE_MASKS: Final = 32
# Types that msgspec encodes as JSON primitives: nothing can be selected below them. Any other type
# that is neither a Struct nor a mapping (Any, dataclasses, ...) may hold keys the schema does not
# describe.
_PRIMITIVES: Final = (
    str,
    bytes,
    bytearray,
    memoryview,
    int,
    float,
    type(None),
    msgspec.UnsetType,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
    enum.Enum,
)


class _Scope(NamedTuple):
    """What the names at one level of an expression resolve against.

    ``structs`` are the Struct types whose fields are known there: one for a plain field, several
    below ``*`` or for a union. ``values`` are the value types of the mappings (``dict[str, T]``)
    the value may be: every name is a key, accepted as written, and below it is a ``T``. ``open``
    says the value may also be an object the schema does not describe (``Any``), where every name
    is accepted as written, at any depth. None of them: a primitive.
    """

    structs: tuple[Schema, ...] = ()
    open: bool = False
    values: tuple[Any, ...] = ()

    @property
    def keyed(self) -> bool:
        """Whether any name is a key here: the value may be a mapping or undescribed."""
        return self.open or bool(self.values)


Scope: TypeAlias = _Scope

PRIMITIVE: Final = _Scope()
"""The scope of a value the schema says is a primitive: nothing can be below it."""


_PRIMITIVE: Final = _Scope()


class _Fields(NamedTuple):
    """The JSON names known in a scope, in schema order, each with its types (one per struct)."""

    types: dict[str, tuple[Any, ...]]
    # casefold -> the first JSON name with that casefold, in schema order.
    by_casefold: dict[str, str]
    rank: dict[str, int]


def check_schema(schema: object) -> Schema:
    """``schema`` itself if it is a msgspec Struct type; ``TypeError`` otherwise."""
    if _is_struct(schema):
        return schema
    raise TypeError(f"a schema must be a msgspec.Struct type, not {schema!r}")


def _is_struct(value: object) -> TypeGuard[Schema]:
    return isinstance(value, type) and issubclass(value, msgspec.Struct)


# -- resolution ---------------------------------------------------------------------------------


def resolve(selection: Selection, schema: Schema, text: str, *, strict: bool) -> Selection:
    """``selection`` with each name spelled as the schema spells it (grammar/SEMANTICS.md, rule 10).

    A name matches a field's JSON name exactly, else ignoring case; if several fields differ only
    in case and none matches exactly, the first in schema order wins. Below ``*`` a name matches
    the fields of every Struct the ``*`` reaches. A name that matches nothing is kept as written;
    when ``strict`` it raises ``UnknownFieldError`` instead, as does any name below a primitive
    field, unless the value may be an object the schema does not describe (``Any``, a dict).
    Positions are kept, so errors raised later still point into ``text``.
    """
    return _resolve_selection(selection, _Scope((schema,)), (), text, strict)


def _resolve_selection(
    selection: Selection, scope: _Scope, path: tuple[str, ...], text: str, strict: bool
) -> Selection:
    # A plain loop over the items: recursion only into groups, one frame per level, so its depth
    # is bounded by max_depth.
    items: list[Item] = []
    for item in selection:
        items.append(_resolve_item(item, scope, path, text, strict))
    return tuple(items)


def _resolve_item(
    item: Item, scope: _Scope, path: tuple[str, ...], text: str, strict: bool
) -> Item:
    names: list[Name] = []
    for name in item.path:
        key = _resolve_name(name, scope, path, text, strict)
        names.append(name._replace(key=key))
        path = (*path, "*" if key is None else key)
        scope = _child(scope, key)
    if item.group is None:
        return item._replace(path=tuple(names))
    group = _resolve_selection(item.group, scope, path, text, strict)
    return item._replace(path=tuple(names), group=group)


def _resolve_name(
    name: Name, scope: _Scope, path: tuple[str, ...], text: str, strict: bool
) -> str | None:
    fields = _fields(scope)
    if name.key is None:
        if fields.types or scope.keyed or not strict:
            return None
    else:
        key = _match(fields, name.key)
        if key is not None:
            return key
        if scope.keyed or not strict:
            return name.key
    raise _unknown(name, fields, path, text)


def _match(fields: _Fields, name: str) -> str | None:
    if name in fields.types:
        return name
    return fields.by_casefold.get(name.casefold())


def _unknown(name: Name, fields: _Fields, path: tuple[str, ...], text: str) -> UnknownFieldError:
    written = "*" if name.key is None else name.key
    dotted = ".".join((*path, written))
    message = f"unknown field {dotted!r} at column {name.pos + 1}"
    if path and not fields.types:
        message += f": {'.'.join(path)!r} has no sub-fields"
        return UnknownFieldError(message, text, name.pos, dotted, None)
    close = difflib.get_close_matches(written.casefold(), list(fields.by_casefold), n=1)
    suggestion = fields.by_casefold[close[0]] if close else None
    if suggestion is not None:
        message += f": did you mean {suggestion!r}?"
    return UnknownFieldError(message, text, name.pos, dotted, suggestion)


# -- order ----------------------------------------------------------------------------------------


def fit(mask: Mask, schema: Schema, *, strict: bool) -> Mask:
    """``mask`` with the entries of every DROP-default node in the schema's field order (rule 8).

    Names the schema lacks follow the known ones, in their first-mention order. Keys may be
    casefolded (a case-insensitive projection): they are matched as ``resolve`` matches names.
    When ``strict``, entries the schema cannot have at their place are removed: only ``-*/rest``,
    which copies ``rest`` into every entry, puts them there, and they remove nothing from a
    document of the schema. For the same reason a selection below a primitive, which only such a
    copy puts there too (``*(x)`` copied into a field of strings), keeps it whole. So the
    canonical text names only fields and parses again in strict mode.
    """
    return _fit(mask, _Scope((schema,)), strict)


def _fit(mask: Mask, scope: _Scope, strict: bool) -> Mask:
    if not isinstance(mask, Node):
        return mask
    if strict and scope == _PRIMITIVE:
        return WHOLE
    fields = _fields(scope)
    unknown = len(fields.rank)
    ranked: list[tuple[int, str, Mask]] = []
    for key, entry in mask.entries.items():
        field = _match(fields, key)
        if field is None and strict and not scope.keyed:
            continue
        rank = unknown if field is None else fields.rank[field]
        child = _child(scope, key if field is None else field)
        ranked.append((rank, key, _fit(entry, child, strict)))
    if mask.default is DROP:
        ranked.sort(key=lambda entry: entry[0])  # stable: unknown names keep their order
    # Simplified again: an entry may now equal the default, a WHOLE node may have lost its entries.
    default = _fit(mask.default, _child(scope, None), strict)
    return node(default, ((key, entry) for _, key, entry in ranked))


# -- the schema's field tree ----------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _fields(scope: _Scope) -> _Fields:
    found: dict[str, list[Any]] = {}
    for struct in scope.structs:
        tag_field = struct.__struct_config__.tag_field
        if tag_field is not None:
            # A tagged Struct writes its tag first, as one more key with a primitive value.
            found.setdefault(tag_field, []).append(str)
        for field in msgspec.structs.fields(struct):
            found.setdefault(field.encode_name, []).append(field.type)
    by_casefold: dict[str, str] = {}
    for key in found:
        by_casefold.setdefault(key.casefold(), key)
    return _Fields(
        {key: tuple(kinds) for key, kinds in found.items()},
        by_casefold,
        {key: rank for rank, key in enumerate(found)},
    )


@functools.lru_cache(maxsize=1024)
def _child(scope: _Scope, key: str | None) -> _Scope:
    """The scope below ``key``: a resolved name, a name the scope lacks, or ``None`` for ``*``."""
    fields = _fields(scope)
    if key is None:
        annotations = [kind for kinds in fields.types.values() for kind in kinds]
    else:
        annotations = list(fields.types.get(key, ()))
    return _below(scope, annotations)


def _below(scope: _Scope, annotations: list[Any]) -> _Scope:
    """The scope of a value of ``scope`` whose field types are ``annotations`` (none for a name
    the schema lacks)."""
    # Any name below a mapping, ``*`` included, is one of its keys: it holds a value.
    annotations.extend(scope.values)
    structs: dict[Schema, None] = {}
    values: dict[Any, None] = {}
    is_open = scope.open
    for annotation in annotations:
        for leaf in _leaves(annotation):
            if _is_struct(leaf):
                structs[leaf] = None
            elif _is_mapping(leaf):
                values[_mapping_value(leaf)] = None
            elif not _is_primitive(leaf):
                is_open = True
    return _Scope(tuple(structs), is_open, tuple(values))


# -- the schema along a document (rule 8) ---------------------------------------------------------


def root(schema: Schema) -> _Scope:
    """The scope of a whole document of ``schema``."""
    return _Scope((schema,))


class Level(NamedTuple):
    """What the schema says of an object met at one scope.

    ``rank`` gives each JSON name its place in schema order (empty where no Struct is known:
    keys are data or unknown), ``by_casefold`` the first name of each casefold. ``below`` is the
    scope of each field's value and ``beyond`` that of a key the schema lacks: ``None`` where the
    schema says nothing (``Any``, a name it does not know), ``PRIMITIVE`` where the value is a
    primitive. ``struct`` is the one Struct type the object is, if exactly one.
    """

    rank: dict[str, int]
    by_casefold: dict[str, str]
    below: dict[str, _Scope | None]
    beyond: _Scope | None
    struct: Schema | None


def _known(scope: _Scope) -> _Scope | None:
    """``scope``, or None where the value may be anything (``Any`` and no Struct or mapping)."""
    if scope.open and not scope.structs and not scope.values:
        return None
    return scope


@functools.lru_cache(maxsize=256)
def level(scope: _Scope) -> Level:
    """The ``Level`` of an object at ``scope``."""
    fields = _fields(scope)
    below = {key: _known(_child(scope, key)) for key in fields.types}
    # A key the schema lacks: a mapping's value, or nothing known.
    beyond = _known(_below(scope, [])) if scope.values else None
    sole = len(scope.structs) == 1 and not scope.open and not scope.values
    return Level(fields.rank, fields.by_casefold, below, beyond, scope.structs[0] if sole else None)


def arrange(
    pairs: Iterable[tuple[str, Mask]], at: Level, case_insensitive: bool, keys: Iterable[str] = ()
) -> list[tuple[str, Mask, _Scope | None]]:
    """The keys an object keeps (``kept``'s pairs) in the order rule 8 gives with a schema, each
    with its mask and the scope of its value.

    The schema's fields come first, in schema order, then the keys it lacks in the order of the
    object's ``keys`` (the document's order); with ``case_insensitive``, a key is the field of its
    casefold, and several spellings of one field keep their order. Without fields (a mapping,
    nothing known) the order of ``pairs`` is kept.
    """
    rank = at.rank
    if not rank:
        beyond = at.beyond
        return [(key, mask, beyond) for key, mask in pairs]
    below, last = at.below, len(rank)
    placed: list[tuple[int, str, Mask, _Scope | None]] = []
    unknown = 0
    for key, mask in pairs:
        field = at.by_casefold.get(key.casefold()) if case_insensitive else key
        if field is not None and field in rank:
            placed.append((rank[field], key, mask, below[field]))
        else:
            placed.append((last, key, mask, at.beyond))
            unknown += 1
    placed.sort(key=operator.itemgetter(0))  # stable: several spellings keep their order
    if unknown > 1:
        # A node with a DROP default gives them in its entries' order: the document's instead.
        position = {key: number for number, key in enumerate(keys)}
        placed[-unknown:] = sorted(placed[-unknown:], key=lambda item: position[item[1]])
    return [(key, mask, scope) for _, key, mask, scope in placed]


def _inside(annotation: Any) -> tuple[Any, ...]:
    """The types a mask reaches inside ``annotation`` (unions, sequences, ``Annotated``); ``()``
    for any other type. ``Annotated`` metadata and a variadic tuple's ``...`` are left out."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return typing.get_args(annotation)[:1]
    if origin in _UNIONS or origin in _SEQUENCES:
        return tuple(arg for arg in typing.get_args(annotation) if arg is not Ellipsis)
    return ()


def _leaves(annotation: Any) -> Iterator[Any]:
    inner = _inside(annotation)
    if not inner:
        yield annotation
    for arg in inner:
        yield from _leaves(arg)


def _is_mapping(leaf: Any) -> bool:
    """A parametrized mapping type (``dict[str, T]``): a bare ``dict`` is as open as ``Any``."""
    return typing.get_origin(leaf) in _MAPPINGS and len(typing.get_args(leaf)) == 2


def _mapping_value(leaf: Any) -> Any:
    return typing.get_args(leaf)[1]


def _is_primitive(leaf: Any) -> bool:
    if typing.get_origin(leaf) is typing.Literal:
        return True
    return isinstance(leaf, type) and issubclass(leaf, _PRIMITIVES)


# -- typed ----------------------------------------------------------------------------------------


def typed(mask: Mask, schema: Schema, *, case_insensitive: bool) -> Schema:
    """The Struct type holding what ``mask`` keeps of ``schema``, cached: equal masks, same type.

    Fields keep the schema's names, encode names and order; each defaults to ``UNSET``, so a
    partial document decodes without invented values. A field the mask keeps whole keeps its
    type; one kept as a node gets a derived Struct in the same list/optional wrappers, and a
    mapping's values (``dict[str, T]``) the union of what its keys keep. Types the mask cannot
    narrow (primitives, ``Any``) are kept as they are.
    """
    return _derive(mask, schema, case_insensitive)


@functools.lru_cache(maxsize=256)
def _derive(mask: Mask, struct: Schema, case_insensitive: bool) -> Schema:
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for field in msgspec.structs.fields(struct):
        key = field.encode_name.casefold() if case_insensitive else field.encode_name
        part = mask.gives(key) if isinstance(mask, Node) else mask
        if part is DROP:
            continue
        annotation = field.type if part is WHOLE else _narrow(field.type, part, case_insensitive)
        fields.append((field.name, annotation | msgspec.UnsetType, msgspec.UNSET))
        if field.encode_name != field.name:
            rename[field.name] = field.encode_name
    config = struct.__struct_config__
    # kw_only: every field has a default anyway, and keyword construction reads like the schema.
    return msgspec.defstruct(
        struct.__name__,
        fields,
        module=__name__,
        rename=rename or None,
        kw_only=True,
        frozen=config.frozen,
        tag=config.tag,
        tag_field=config.tag_field,
    )


def _narrow(annotation: Any, mask: Node, case_insensitive: bool) -> Any:
    """``annotation`` with each Struct inside it replaced by the Struct derived for ``mask``."""
    if _is_mapping(annotation):
        return _narrow_mapping(annotation, mask, case_insensitive)
    inner = _inside(annotation)
    if not inner:
        if _is_struct(annotation):
            return _derive(mask, annotation, case_insensitive)
        return annotation
    # A loop, not a generator: each mask level costs as few frames as the other mask walks.
    rebuilt: list[Any] = []
    for arg in inner:
        rebuilt.append(_narrow(arg, mask, case_insensitive))
    narrowed = tuple(rebuilt)
    if narrowed == inner:
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return typing.Annotated[(narrowed[0], *annotation.__metadata__)]
    if origin in _UNIONS:
        return functools.reduce(operator.or_, narrowed)
    if typing.get_args(annotation)[-1] is Ellipsis:
        return origin[(*narrowed, ...)]
    return origin[narrowed]


def _narrow_mapping(annotation: Any, mask: Node, case_insensitive: bool) -> Any:
    """``dict[K, V]`` with ``V`` narrowed to what ``mask`` keeps of any value.

    The mask names keys, and each key's mask applies to its value: ``V`` is narrowed to the union
    of the masks the keys get, which decodes every kept value. Past ``_MOST_VALUE_MASKS``
    distinct masks, ``V`` stays whole: the union would cost more than it saves.
    """
    parts = {mask.default: None, **dict.fromkeys(mask.entries.values())}
    parts.pop(DROP, None)
    if not parts or len(parts) > _MOST_VALUE_MASKS:
        return annotation
    merged = functools.reduce(union, parts)
    if not isinstance(merged, Node):
        return annotation
    key, value = typing.get_args(annotation)
    narrowed = _narrow(value, merged, case_insensitive)
    if narrowed == value:
        return annotation
    return typing.get_origin(annotation)[key, narrowed]
