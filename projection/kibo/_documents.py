"""Realistic, deterministic documents of any msgspec type, such as those built from Kibo's OpenAPI.

``sample_document`` walks a type: Structs field by field, arrays with a few items, maps with a few
keys. A leaf takes the value its field's name says it holds (emails, names, dates, ids, amounts,
country codes), drawn from the word tables of the ticket samples, or one of its schema's ``enum``
values. The same seed gives the same document; recursion and size are bounded.
"""

from __future__ import annotations

import base64
import datetime
import functools
import math
import random
import re
import types
import typing
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

import msgspec
from msgspec import UNSET

from projection.kibo._sample import _CATEGORIES, _UTC, _WORDS, _ascii_slug, _Country, _Scope

__all__ = ["FieldSchemas", "Page", "sample_document"]

FieldSchemas = Callable[[type[msgspec.Struct]], Mapping[str, Mapping[str, Any]]]
"""The schema object of each field of a Struct, by JSON name: where ``format`` and ``enum`` are."""

# A Struct type appears at most this many times on the way down: a category's children are
# categories, whose own children are left empty.
_REPEATS: Final = 2
# Past this depth, or once this many values are drawn, objects are left out (null or empty where
# the type allows it): Kibo's own schemas nest deep and wide.
_DEPTH: Final = 8
_BUDGET: Final = 800
_ITEM_BUDGET: Final = 250  # each item of a collection, so that pages agree whatever their size
_DEFAULT_PAGE_SIZE: Final = 20
_MOST_PAGE_SIZE: Final = 200
_NULLS: Final = 0.08  # the share of nullable leaves sent as null, as Kibo does for unset fields

# Dates are drawn in fixed windows, never from the clock: the same seed, the same document.
_PAST: Final = datetime.datetime(2019, 1, 1, tzinfo=_UTC)
_RECENT: Final = datetime.datetime(2025, 6, 30, tzinfo=_UTC)
_FUTURE: Final = (
    datetime.datetime(2026, 1, 1, tzinfo=_UTC),
    datetime.datetime(2027, 12, 31, tzinfo=_UTC),
)
_BIRTH: Final = (
    datetime.datetime(1950, 1, 1, tzinfo=_UTC),
    datetime.datetime(2006, 1, 1, tzinfo=_UTC),
)

_STATUSES: Final = ("Active", "Pending", "Completed", "Cancelled")
_ADDRESS_TYPES: Final = ("Residential", "Residential", "Commercial")
_LINK_KEYS: Final = ("self", "related", "next")
_POSITIVE: Final = ("active", "displayed", "valid", "enabled", "available", "visible", "taxable")
_NEGATIVE: Final = ("deleted", "locked", "expired", "cancelled", "archived", "hidden", "anonymous")
_AMOUNTS: Final = (
    "amount", "total", "price", "cost", "subtotal", "fee", "discount", "tax", "balance",
    "credit", "charge", "shipping", "handling", "refund", "paid", "due",
)  # fmt: skip
_SMALL: Final = ("count", "quantity", "qty")
_ORDINALS: Final = ("sequence", "position", "sortorder", "rank", "index", "priority", "level")
_TEXTS: Final = ("description", "content", "note", "notes", "comment", "comments", "message")


class Page(NamedTuple):
    """The page a collection's request asks for (``startIndex``, ``pageSize``)."""

    start: int = 0
    size: int = _DEFAULT_PAGE_SIZE


def sample_document(
    annotation: Any,
    *,
    seed: str,
    name: str = "",
    fields: FieldSchemas | None = None,
    echo: Mapping[str, str] | None = None,
    page: Page | None = None,
) -> Any:
    """A document of type ``annotation`` as JSON-ready values (dicts, lists, datetimes).

    ``seed`` fixes it; ``name`` says what the document is (``status``), as a field's name does.
    ``fields`` tells the schema of each field (its ``enum`` and ``format``).
    ``echo``: path parameters by name, whose values the top-level object's fields of the same
    name take (ignoring case), and its ``id`` the last one's unless it has a field of that
    name; for an array, each element's fields of the same name. A collection (a Struct with
    ``items`` and ``totalCount``) at the top holds ``page``'s slice of a few items, with
    ``totalCount``, ``pageSize``, ``startIndex`` and ``pageCount`` that agree; its items do not
    depend on the page.
    """
    drawer = _Drawer(seed, fields)
    return drawer.top(annotation, name, dict(echo or {}), page or Page())


# -- types -----------------------------------------------------------------------------------------


class _Shape(NamedTuple):
    """What one annotation is: its kind, the type of its items or values, whether null fits."""

    kind: str  # struct, array, map, datetime, bool, int, float, str, any
    inner: Any  # the Struct type, or the items' or values' annotation
    nullable: bool


@functools.lru_cache(maxsize=4096)
def _shape(annotation: Any) -> _Shape:
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = []
        for member in typing.get_args(annotation):
            if member is type(None):
                nullable = True
            elif member is not msgspec.UnsetType:
                members.append(member)
        annotation = members[0] if members else Any
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return _Shape("struct", annotation, nullable)
    if origin in (tuple, list, set, frozenset) and arguments:
        return _Shape("array", arguments[0], nullable)
    if origin is dict and len(arguments) == 2:
        return _Shape("map", arguments[1], nullable)
    for kind, python in (
        ("datetime", datetime.datetime),
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("str", str),
    ):
        if annotation is python:
            return _Shape(kind, None, nullable)
    return _Shape("any", None, nullable)


def _words(name: str) -> list[str]:
    """``postalOrZipCode`` -> ``["postal", "or", "zip", "code"]``; ``_links`` -> ``["links"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [word for word in re.split(r"[^0-9A-Za-z]+", spaced.lower()) if word]


def _is_id(words: list[str]) -> bool:
    return bool(words) and words[-1] == "id"


# -- drawing ---------------------------------------------------------------------------------------


class _Drawer:
    """One document's draws: its generator, the schemas of fields, what is left of its budget."""

    def __init__(self, seed: str, fields: FieldSchemas | None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.fields = fields
        self.budget = _BUDGET
        self.path: dict[type, int] = {}

    def scope(self, parent: _Scope | None = None, *, person: bool = True) -> _Scope:
        """A scope for one object: the facts of ``parent`` (a person's, but for ``person``)."""
        scope = _Scope(parent or {})
        if not person:
            for fact in ("first", "last", "email", "place"):
                scope.pop(fact, None)
        scope.rng = self.rng
        return scope

    # -- the top level ------------------------------------------------------------------------

    def top(self, annotation: Any, name: str, echo: dict[str, str], page: Page) -> Any:
        shape = _shape(annotation)
        if shape.kind == "struct" and _is_collection(shape.inner):
            return self.collection(shape.inner, self.scope(), 0, page)
        if shape.kind == "struct":
            return self.struct(shape.inner, self.scope(), 0, echo, own_id=True)
        if shape.kind == "array" and _shape(shape.inner).kind == "struct":
            struct = _shape(shape.inner).inner
            count = self.rng.randint(1, 4)
            parent = self.scope()
            return [
                self.struct(struct, self.scope(parent, person=index == 0), 1, echo, own_id=False)
                for index in range(count)
            ]
        return self.value(annotation, _Where(name, self.scope(), 0, {}, []))

    def collection(
        self, struct: type[msgspec.Struct], scope: _Scope, depth: int, page: Page
    ) -> Any:
        """A page of a collection: items drawn each by its index, so pages agree."""
        total = self.rng.randint(3, 8)
        size = min(page.size, _MOST_PAGE_SIZE) if page.size > 0 else _DEFAULT_PAGE_SIZE
        start = max(page.start, 0)
        # Items at the top are seeded by the document's seed, those of a collection inside one
        # by a draw of its own: two collections in one document hold different items.
        base = self.seed if depth == 0 else f"{self.seed}|{self.rng.getrandbits(64)}"
        indices = range(start, min(start + size, total))
        item_annotation = _shape(_field_type(struct, "items")).inner
        item = _shape(item_annotation)
        items: list[Any] = []
        # Each item has a budget of its own, so it does not depend on those before it; a
        # collection inside a document shares out what is left of the document's.
        share = _ITEM_BUDGET if depth == 0 else self.budget // max(len(indices), 1)
        for index in indices:
            drawer = _Drawer(f"{base}|item {index}", self.fields)
            drawer.budget = share
            self.budget -= share if depth else 0
            if item.kind == "struct":
                items.append(drawer.struct(item.inner, drawer.scope(), depth + 1, {}, own_id=False))
            else:
                where = _Where("item", drawer.scope(), depth + 1, {}, [])
                items.append(drawer.value(item_annotation, where))
        facts = {
            "startIndex": start,
            "pageSize": size,
            "pageCount": math.ceil(total / size),
            "totalCount": total,
            "items": items,
        }
        return self.struct(struct, scope, depth, {}, own_id=False, given=facts)

    # -- objects --------------------------------------------------------------------------------

    def struct(
        self,
        struct: type[msgspec.Struct],
        scope: _Scope,
        depth: int,
        echo: Mapping[str, str],
        *,
        own_id: bool,
        given: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.path[struct] = self.path.get(struct, 0) + 1
        try:
            schemas = self.fields(struct) if self.fields is not None else {}
            fields = msgspec.structs.fields(struct)
            folded = {name.casefold(): value for name, value in echo.items()}
            last = next(reversed(list(echo)), None) if own_id else None
            if last is not None and any(
                f.encode_name.casefold() == last.casefold() for f in fields
            ):
                last = None  # the parameter has a field of its own name
            owner = _words(struct.__name__)
            drawn: dict[str, Any] = dict(given or {})
            # The id first: the objects inside may name it (a contact's accountId).
            for field in sorted(fields, key=lambda field: field.encode_name != "id"):
                name = field.encode_name
                if name in drawn:
                    value = drawn[name]
                else:
                    value = UNSET
                    if name.casefold() in folded or (name == "id" and last is not None):
                        text = folded.get(name.casefold(), echo[last] if last is not None else "")
                        value = _echoed(text, field.type)
                    if value is UNSET:
                        schema = schemas.get(name, {})
                        where = _Where(name, scope, depth + 1, schema, owner)
                        value = self.value(field.type, where)
                if value is UNSET:
                    continue
                drawn[name] = value
                # Beside the facts, under names no fact has: later fields read earlier ones.
                scope["." + name] = value
                if name == "id" and value is not None and owner:
                    scope["id:" + "".join(owner)] = scope["id:" + owner[-1]] = value
            return {
                field.encode_name: drawn[field.encode_name]
                for field in fields
                if field.encode_name in drawn
            }
        finally:
            self.path[struct] -= 1

    def enterable(self, struct: type[msgspec.Struct], depth: int) -> bool:
        return self.path.get(struct, 0) < _REPEATS and depth <= _DEPTH and self.budget > 0

    # -- any value --------------------------------------------------------------------------------

    def value(self, annotation: Any, where: _Where) -> Any:
        shape = _shape(annotation)
        self.budget -= 1
        scope, depth = where.scope, where.depth
        if shape.kind == "struct":
            if not self.enterable(shape.inner, depth):
                return None if shape.nullable else UNSET
            child = self.scope(scope)
            if _is_collection(shape.inner):
                return self.collection(shape.inner, child, depth, Page())
            return self.struct(shape.inner, child, depth, {}, own_id=False)
        if shape.kind == "array":
            return self.array(shape, where)
        if shape.kind == "map":
            return self.mapping(shape, where)
        words = _words(where.name)
        if shape.nullable and not _is_id(words) and self.rng.random() < _NULLS:
            return None
        enum = _enum(where.schema, shape.kind)
        if enum:
            return self.rng.choice(enum)
        return _LEAVES[shape.kind](self, words, scope, where.schema, where.owner)

    def array(self, shape: _Shape, where: _Where) -> Any:
        item = _shape(shape.inner)
        depth = where.depth
        if item.kind == "struct" and not self.enterable(item.inner, depth + 1):
            return []
        most = 3 if depth <= 2 else 2 if depth <= 4 else 1
        count = 0 if self.budget <= 0 else self.rng.randint(0 if depth > 1 else 1, most)
        items_schema = where.schema.get("items")
        items_schema = items_schema if isinstance(items_schema, Mapping) else {}
        singular = where.name[:-1] if where.name.endswith("s") else where.name
        values = []
        for index in range(count):
            child = self.scope(where.scope, person=index == 0)
            value = self.value(
                shape.inner, _Where(singular, child, depth + 1, items_schema, where.owner)
            )
            if value is not UNSET:  # an object past the bounds, that cannot be null
                values.append(value)
        return values

    def mapping(self, shape: _Shape, where: _Where) -> Any:
        keys = _LINK_KEYS if "link" in where.name.lower() else _WORDS.property_keys
        count = 0 if self.budget <= 0 else self.rng.randint(1, 2)
        document = {}
        for key in self.rng.sample(keys, count):
            child = _Where(key, self.scope(where.scope), where.depth + 1, {}, where.owner)
            value = self.value(shape.inner, child)
            if value is not UNSET:
                document[key] = value
        return document


class _Where(NamedTuple):
    """Where a value is drawn: for a field of this name, in this object's scope, at this depth,
    with the field's schema, in a type whose name has these words (``owner``)."""

    name: str
    scope: _Scope
    depth: int
    schema: Mapping[str, Any]
    owner: list[str]


def _is_collection(struct: type[msgspec.Struct]) -> bool:
    names = {field.encode_name for field in msgspec.structs.fields(struct)}
    return {"items", "totalCount"} <= names


def _field_type(struct: type[msgspec.Struct], name: str) -> Any:
    for field in msgspec.structs.fields(struct):
        if field.encode_name == name:
            return field.type
    return None


def _echoed(text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation``'s kind, or ``UNSET`` when it cannot be one."""
    kind = _shape(annotation).kind
    if kind in ("str", "any"):
        return text
    try:
        if kind == "int":
            return int(text)
        if kind == "float" and math.isfinite(float(text)):  # JSON has no NaN
            return float(text)
    except ValueError:
        pass
    return UNSET


_ENUM_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


def _enum(schema: Mapping[str, Any], kind: str) -> list[Any]:
    values = schema.get("enum")
    if not isinstance(values, list):
        return []
    python = _ENUM_TYPES.get(kind)
    if python is None:
        return []
    return [
        v for v in values if isinstance(v, python) and (kind == "bool" or not isinstance(v, bool))
    ]


# -- leaves, by what the name says -----------------------------------------------------------------


def _country(scope: _Scope) -> _Country:
    country = scope.get("country")
    if not isinstance(country, _Country):
        country = scope["country"] = scope.country()
    return country


def _person(scope: _Scope) -> tuple[str, str]:
    if "first" not in scope:
        country = _country(scope)
        scope["first"] = scope.pick(country.first_names)
        scope["last"] = scope.pick(country.last_names)
    return scope["first"], scope["last"]


def _place(scope: _Scope) -> Any:
    if "place" not in scope:
        scope["place"] = scope.pick(_country(scope).places)
    return scope["place"]


def _email(scope: _Scope) -> str:
    if "email" not in scope:
        scope["email"] = scope.email(*_person(scope))
    email: str = scope["email"]
    return email


def _product(scope: _Scope) -> str:
    if "product" not in scope:
        scope["product"] = scope.pick(_WORDS.products)
    product: str = scope["product"]
    return product


def _named(scope: _Scope) -> str:
    """What the object, or the one it is inside of, is named; else a product's name."""
    named = scope.get(".name")
    return named if isinstance(named, str) else _product(scope)


def _slug(scope: _Scope) -> str:
    ascii = unicodedata.normalize("NFKD", _named(scope)).encode("ascii", "ignore").decode("ascii")
    return "-".join(_words(ascii)) or "item"


def _code(text: str, scope: _Scope) -> str:
    letters = _ascii_slug(text).upper()[:4] or "ITEM"
    return f"{letters}-{scope.rng.randrange(1000, 10_000)}"


class _Named(NamedTuple):
    """What a string leaf's name says: the rules of ``_string`` read it."""

    words: list[str]
    key: str  # the words run together: "postalorzipcode"
    last: str  # the last word, "" for none
    owner: list[str]  # the words of the type's name the field is in
    form: Any  # the schema's ``format``, if any


# A string drawn from the generator, the object's scope and what its name says.
_StringDraw = Callable[[random.Random, _Scope, _Named], str]


def _string(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> str:
    """What the field's name says it holds, asked in this order: its format and the name's
    shape (``_by_format``), the whole name (``_BY_KEY``), words anywhere in it (``_by_words``),
    its last word (``_BY_LAST``); else the name and a number."""
    named = _Named(words, "".join(words), words[-1] if words else "", owner, schema.get("format"))
    draw = (
        _by_format(named)
        or _BY_KEY.get(named.key)
        or _by_words(named)
        or _BY_LAST.get(named.last)
        or _labelled
    )
    return draw(drawer.rng, scope, named)


def _by_format(named: _Named) -> _StringDraw | None:
    """The draw for a format, or for an email or a link, which the format may also say."""
    form, key, last = named.form, named.key, named.last
    if form == "date":
        return lambda rng, scope, _: scope.between(_PAST, _RECENT).date().isoformat()
    if form == "uuid":
        return lambda rng, scope, _: str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if form == "byte":
        return lambda rng, scope, _: base64.b64encode(rng.randbytes(12)).decode("ascii")
    if form == "email" or last == "email" or key.endswith("emailaddress"):
        return lambda rng, scope, _: _email(scope)
    if form in ("uri", "url") or last in ("url", "uri", "href", "link", "src"):
        return _url
    return None


def _by_words(named: _Named) -> _StringDraw | None:
    """The draw for a phone number, a text or an image's alternative text."""
    key = named.key
    if "phone" in key or "fax" in key or ("phone" in named.owner and key in _PHONES):
        return lambda rng, scope, _: scope.fill(_country(scope).phone)
    if named.last in _TEXTS:
        return _text
    if "alt" in named.words:
        return lambda rng, scope, _: _named(scope)
    return None


_PHONES: Final = ("home", "mobile", "work")


def _url(rng: random.Random, scope: _Scope, named: _Named) -> str:
    slug = _slug(scope)
    if "image" in named.key or "image" in named.owner:
        return f"https://cdn.example.com/images/{slug}-{rng.randrange(100, 1000)}.jpg"
    return f"https://www.example.com/{slug}/{rng.randrange(1, 10_000)}"


def _text(rng: random.Random, scope: _Scope, named: _Named) -> str:
    return " ".join(rng.sample(_WORDS.note_sentences, rng.randint(1, 2)))


def _street(rng: random.Random, scope: _Scope, named: _Named) -> str:
    country = _country(scope)
    street = scope.pick(country.streets)
    return country.street_format.format(number=rng.randrange(1, 9_999), street=street)


def _known_id(rng: random.Random, scope: _Scope, named: _Named) -> str:
    """The id of an object drawn before, where the name says whose (``accountId``)."""
    known = scope.get("id:" + "".join(named.words[:-1]))
    return known if isinstance(known, str) else scope.hex32()


def _code_of(rng: random.Random, scope: _Scope, named: _Named) -> str:
    about = named.words[:-1] or named.owner[-1:]
    product = "product" in about or "product" in named.owner
    return _code(_product(scope) if product else " ".join(about), scope)


def _name_of(rng: random.Random, scope: _Scope, named: _Named) -> str:
    # What the object is: the field's name says (productName), else its type's name, read from
    # its last word back (CategoryContent: a category's); a type's type is unknown.
    words, owner = named.words, named.owner
    kinds = words[-2:-1] or [word for word in reversed(owner) if word not in _VAGUE]
    kind = next((kind for kind in kinds if kind in _NAMES), None)
    if kind is not None and (owner[-1:] != ["type"] or len(words) > 1):
        return _NAMES[kind](scope)
    return f"{' '.join(owner or words).capitalize()} {rng.randrange(1, 1000)}"


def _labelled(rng: random.Random, scope: _Scope, named: _Named) -> str:
    label = " ".join(named.words) or "value"
    return f"{label} {rng.randrange(1, 1000)}"


def _secret(rng: random.Random, scope: _Scope, named: _Named) -> str:
    return base64.b64encode(rng.randbytes(48)).decode("ascii")


def _ip(rng: random.Random, scope: _Scope, named: _Named) -> str:
    return f"192.0.2.{rng.randrange(1, 255)}"  # a documentation address (RFC 5737)


def _keyed(keys: tuple[str, ...], draw: _StringDraw) -> dict[str, _StringDraw]:
    return dict.fromkeys(keys, draw)


# By the whole name, run together.
_BY_KEY: Final[dict[str, _StringDraw]] = {
    **_keyed(("username", "login"), lambda rng, scope, _: _email(scope)),
    **_keyed(("firstname", "givenname"), lambda rng, scope, _: _person(scope)[0]),
    **_keyed(
        ("lastname", "lastnameorsurname", "surname", "familyname"),
        lambda rng, scope, _: _person(scope)[1],
    ),
    **_keyed(
        ("middlename", "middlenameorinitial", "middleinitial"),
        lambda rng, scope, _: f"{chr(65 + rng.randrange(26))}.",
    ),
    **_keyed(
        ("fullname", "displayname", "contactname", "customername", "recipientname"),
        lambda rng, scope, _: " ".join(_person(scope)),
    ),
    **_keyed(("countrycode", "country"), lambda rng, scope, _: _country(scope).code),
    **_keyed(("currencycode", "currency"), lambda rng, scope, _: _country(scope).currency),
    **_keyed(
        ("localecode", "locale", "language", "languagecode"),
        lambda rng, scope, _: _country(scope).locale,
    ),
    **_keyed(("cityortown", "city", "town"), lambda rng, scope, _: str(_place(scope).city)),
    **_keyed(
        ("stateorprovince", "province", "statecode", "region"),
        lambda rng, scope, _: str(_place(scope).state),
    ),
    **_keyed(
        ("postalorzipcode", "postalcode", "zipcode", "zip", "postcode"),
        lambda rng, scope, _: scope.fill(_place(scope).postal),
    ),
    **_keyed(("address1", "street", "streetaddress", "line1", "addressline1"), _street),
    **_keyed(
        ("address2", "address3", "address4", "line2", "addressline2"),
        lambda rng, scope, _: scope.pick(_WORDS.address_lines),
    ),
    **_keyed(
        ("companyororganization", "company", "organization", "companyname"),
        lambda rng, scope, _: scope.pick(_WORDS.companies),
    ),
    "addresstype": lambda rng, scope, _: scope.pick(_ADDRESS_TYPES),
    "label": lambda rng, scope, _: scope.pick(_WORDS.labels),
    **_keyed(("summary", "body", "text"), _text),
    "slug": lambda rng, scope, _: _slug(scope),
    "fullyqualifiedname": lambda rng, scope, _: "tenant~" + scope.pick(_WORDS.property_keys),
    "externalid": lambda rng, scope, _: f"CRM-{rng.randrange(10**7):07d}",
    "ipaddress": _ip,
}

# By the last word of the name.
_BY_LAST: Final[dict[str, _StringDraw]] = {
    "id": _known_id,
    "by": lambda rng, scope, _: scope.hex32(),
    **_keyed(("token", "secret", "password", "ticket"), _secret),
    **_keyed(("sku", "code"), _code_of),
    "name": _name_of,
    **_keyed(("status", "state"), lambda rng, scope, _: scope.pick(_STATUSES)),
    "ip": _ip,
}


_VAGUE: Final = frozenset({"content", "summary", "info", "details", "data", "runtime", "contracts"})
_NAMES: Final[dict[str, Callable[[_Scope], str]]] = {
    **dict.fromkeys(("product", "item", "variant", "bundle"), _product),
    **dict.fromkeys(("category", "catalog"), lambda scope: scope.pick(_CATEGORIES)),
    "segment": lambda scope: scope.pick(_WORDS.segments).name,
    **dict.fromkeys(
        ("tenant", "site", "company", "organization", "store", "vendor", "supplier"),
        lambda scope: scope.pick(_WORDS.companies),
    ),
    **dict.fromkeys(
        ("contact", "customer", "user", "person", "account", "shopper", "recipient"),
        lambda scope: " ".join(_person(scope)),
    ),
    **dict.fromkeys(
        ("attribute", "property", "properties"), lambda scope: scope.pick(_WORDS.property_keys)
    ),
}


def _integer(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> int:
    rng = drawer.rng
    key = "".join(words)
    last = words[-1] if words else ""
    wide = schema.get("format") == "int64"
    if last == "id" or key.endswith("id"):
        known = scope.get("id:" + "".join(words[:-1]))
        if isinstance(known, int) and not isinstance(known, bool):
            return known
        return rng.randrange(1, 10**12 if wide else 5_000_000)
    if any(word in key for word in _SMALL):
        return rng.randrange(1, 6)
    if any(key.endswith(word) for word in _ORDINALS):
        return rng.randrange(0, 10)
    if last == "year":
        return rng.randrange(2015, 2026)
    if last == "number" or key.endswith("number"):
        return rng.randrange(1_000, 100_000)
    if any(word in key for word in ("percent", "rate")):
        return rng.randrange(0, 101)
    if any(word in key for word in _AMOUNTS):
        return rng.randrange(1, 500)
    return rng.randrange(0, 1_000)


def _number(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> float:
    rng = drawer.rng
    key = "".join(words)
    if any(word in key for word in _AMOUNTS):
        return round(rng.uniform(1, 500), 2)
    if "weight" in key:
        return round(rng.uniform(0.1, 20), 2)
    if any(word in key for word in ("percent", "rate")):
        return round(rng.uniform(0, 100), 2)
    if key in ("latitude", "lat"):
        return round(rng.uniform(-60, 70), 6)
    if key in ("longitude", "lng", "lon"):
        return round(rng.uniform(-180, 180), 6)
    return round(rng.uniform(0, 100), 2)


def _boolean(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> bool:
    key = "".join(words)
    if any(word in key for word in _POSITIVE):
        return drawer.rng.random() < 0.85
    if any(word in key for word in _NEGATIVE):
        return drawer.rng.random() < 0.1
    return drawer.rng.random() < 0.5


def _moment(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> datetime.datetime:
    key = "".join(words)
    if any(word in key for word in ("expir", "expiry", "expires", "validto", "until", "end")):
        return scope.between(*_FUTURE)
    if "birth" in key:
        return scope.between(*_BIRTH)
    if any(word in key for word in ("update", "modified", "changed")):
        created = scope.get("_created")
        start = created if isinstance(created, datetime.datetime) else _PAST
        return scope.between(start, _RECENT)
    moment = scope.between(_PAST, _RECENT)
    if "create" in key:
        scope["_created"] = moment
    return moment


def _anything(
    drawer: _Drawer, words: list[str], scope: _Scope, schema: Mapping[str, Any], owner: list[str]
) -> Any:
    # Undescribed: what its name says if it says something, else a word.
    return _string(drawer, words, scope, schema, owner)


_LEAVES: Final[
    dict[str, Callable[[_Drawer, list[str], _Scope, Mapping[str, Any], list[str]], Any]]
] = {
    "str": _string,
    "int": _integer,
    "float": _number,
    "bool": _boolean,
    "datetime": _moment,
    "any": _anything,
}
