"""Struct types and routes from an OpenAPI 3.0 document, such as Kibo's published REST API.

``OpenAPI.load`` reads a document and checks that it is OpenAPI 3.x, nothing more; a component's
msgspec Struct type is built on first use and cached, and routes are indexed on first use, so the
types feed ``parse(expr, schema=...)`` and ``Projection.typed`` as the hand-written Kibo models do.
"""

from __future__ import annotations

import datetime
import difflib
import importlib
import keyword
import os
import re
import threading
import urllib.parse
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple, TypeGuard

import msgspec
from msgspec import UNSET, UnsetType

from ._errors import OpenAPIError, OpenAPILookupError

__all__ = ["OpenAPI", "OpenAPIError", "OpenAPILookupError", "Operation"]

_METHODS: Final = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")
_SCHEMAS: Final = "#/components/schemas/"
# Inline schemas nested deeper than this (arrays of arrays, chains of aliases) are refused rather
# than followed: the builder recurses once per level, and no real document comes near it.
_MAX_NESTING: Final = 64
_WHOLE_PARAMETER: Final = re.compile(r"\{[^{}/]*\}")
_SUGGESTIONS: Final = 3


class Operation(NamedTuple):
    """One operation of the document.

    ``method`` is upper case; ``path`` the template as the document writes it, without the
    server's base path (``/commerce/orders/{orderId}``); ``schema`` the component whose fields the
    successful JSON response's objects have (the items' for an array), or ``None`` when that is
    not a component with properties; ``response_fields`` whether it takes the ``responseFields``
    query parameter.
    """

    method: str
    path: str
    schema: str | None
    response_fields: bool


class OpenAPI:
    """An OpenAPI 3.x document: its component schemas as msgspec types, its operations as routes.

    The document is kept as given, never copied: treat a mapping handed to ``OpenAPI`` or
    ``load`` as read-only from then on. Types are built on first request, each once (together
    with the components it references), and shared by later calls; the instance is thread-safe.
    """

    __slots__ = (
        "_base_paths",
        "_built",
        "_document",
        "_done",
        "_lock",
        "_queue",
        "_raw",
        "_responses",
        "_routes",
        "_schemas",
        "_sources",
        "_types",
        "_visiting",
        "version",
    )

    version: str

    def __init__(self, document: Mapping[str, Any]) -> None:
        if not _is_map(document):
            raise TypeError(f"an OpenAPI document must be a mapping, not {type(document).__name__}")
        version = document.get("openapi")
        if not isinstance(version, str) or not version.startswith("3."):
            raise OpenAPIError(_not_openapi(document))
        components = document.get("components", {})
        schemas = components.get("schemas", {}) if _is_map(components) else None
        if not _is_map(schemas):
            raise OpenAPIError(
                "not a usable OpenAPI document: 'components.schemas' is not an object"
            )
        if not _is_map(document.get("paths", {})):
            raise OpenAPIError("not a usable OpenAPI document: 'paths' is not an object")
        self.version = version
        self._document = document
        self._schemas: Mapping[str, Any] = schemas
        self._lock = threading.RLock()
        # Complete types by component name, read without the lock; ``_types`` also holds the
        # shells of the build under way, and only the lock's holder reads it.
        self._done: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._built: list[str] = []
        self._queue: list[tuple[type[msgspec.Struct], list[tuple[str, Any]]]] = []
        self._visiting: set[str] = set()
        self._responses: dict[tuple[str, str], Any] = {}
        self._routes: _Router | None = None
        self._raw: dict[tuple[str, str], Mapping[str, Any]] = {}
        self._base_paths = _base_paths(document.get("servers"))
        # The properties each Struct was built from: what its types leave out (formats, enums).
        self._sources: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()

    @classmethod
    def load(cls, source: str | os.PathLike[str] | bytes | Mapping[str, Any]) -> OpenAPI:
        """The document at a path (JSON, or YAML when PyYAML is installed), in ``bytes``, or
        already decoded (a mapping, used as is). ``OSError`` if the file cannot be read."""
        if _is_map(source):
            return cls(source)
        if isinstance(source, (bytes, bytearray, memoryview)):
            return cls(_decode(bytes(source), yaml=None))
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            with open(path, "rb") as file:
                data = file.read()
            suffix = os.path.splitext(path)[1].lower()
            yaml = True if suffix in (".yaml", ".yml") else False if suffix == ".json" else None
            return cls(_decode(data, yaml=yaml))
        raise TypeError(
            "OpenAPI.load takes a path, bytes or a mapping, not " + type(source).__name__
        )

    def __repr__(self) -> str:
        info = self._document.get("info")
        title = info.get("title") if _is_map(info) else None
        return f"<OpenAPI {self.version} {title!r}: {len(self._schemas)} schemas>"

    # -- schemas --------------------------------------------------------------------------------

    def schema_names(self) -> list[str]:
        """The names of the document's component schemas, in document order."""
        return [str(name) for name in self._schemas]

    @property
    def built_schemas(self) -> tuple[str, ...]:
        """The components whose types are built so far, in the order they were built: building
        one builds the components it references, and nothing is built at load."""
        return tuple(self._built)

    def schema(self, name: str) -> type[msgspec.Struct]:
        """The msgspec Struct type of the component schema ``name`` (built once, then shared).

        Fields keep the document's names (a JSON name that is not a Python identifier gets a
        Python one and is renamed on the wire), in document order with ``allOf`` parts first;
        each defaults to ``UNSET``. ``OpenAPILookupError`` names the closest components if there
        is none by that name; ``OpenAPIError`` if it is not an object with properties.
        """
        built = self._type(name)
        if not _is_struct(built):
            raise OpenAPIError(
                f"schema {name!r} is not an object with properties: its type is {built!r}"
            )
        return built

    def _type(self, name: str) -> Any:
        if not isinstance(name, str):
            raise TypeError(f"a schema name must be a str, not {type(name).__name__}")
        built = self._done.get(name)
        if built is not None:
            return built
        if name not in self._schemas:
            raise _unknown("schema", name, self.schema_names())
        with self._lock:
            return self._build(lambda: self._component(name, 0))

    # -- routes -----------------------------------------------------------------------------------

    def operations(self) -> list[Operation]:
        """The operations that take ``responseFields``, in document order."""
        return [op for op in self._router().operations if op.response_fields]

    def match(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method`` on the concrete request ``path``, or ``None``.

        ``path`` may carry the server's base path (``/api`` on Kibo) or not, a query string and a
        trailing slash. Methods and literal segments match ignoring case, as Kibo's (ASP.NET)
        routing does; a parameter matches one non-empty segment; where both match, a literal
        segment wins over a parameter, the leftmost difference deciding. A HEAD request without
        a HEAD operation matches GET.
        """
        if not isinstance(method, str) or not isinstance(path, str):
            raise TypeError("match takes a method and a path, both str")
        return self._router().match(method.upper(), path, self._base_paths)

    def response_schema(self, method: str, path: str) -> Any:
        """The type of the successful JSON response of an operation, built once, then shared.

        ``path`` is a template of the document or a concrete request path. The type is a Struct
        for an object, ``tuple[T, ...]`` for an array, ``dict[str, T]`` for a map, a primitive
        type, or ``Any``. ``OpenAPILookupError`` if there is no such route (naming the closest)
        or it has no JSON body.
        """
        if not isinstance(method, str) or not isinstance(path, str):
            raise TypeError("response_schema takes a method and a path, both str")
        router = self._router()
        key = (method.upper(), path)
        if key not in self._raw:
            op = router.match(key[0], path, self._base_paths)
            if op is None:
                candidates = [f"{other.method} {other.path}" for other in router.operations]
                raise _unknown("route", f"{key[0]} {path}", candidates)
            key = (op.method, op.path)
        built = self._responses.get(key)
        if built is not None:
            return built
        schema = _response(self._raw[key], self._document)
        if schema is None:
            raise OpenAPILookupError(
                f"{key[0]} {key[1]} has no JSON response body", f"{key[0]} {key[1]}"
            )
        hint = _class_name(f"{key[0].title()}{key[1]}Response")
        with self._lock:
            built = self._build(lambda: self._convert(schema, hint, 0))
            self._responses[key] = built
        return built

    def _router(self) -> _Router:
        router = self._routes
        if router is None:
            with self._lock:
                router = self._routes
                if router is None:
                    router = self._routes = self._index()
        return router

    def _index(self) -> _Router:
        router = _Router()
        paths = self._document.get("paths", {})
        for template, item in paths.items():
            if not _is_map(item):
                continue
            shared = _parameters(item.get("parameters"), self._document)
            for method, operation in item.items():
                upper = str(method).upper()
                if upper not in _METHODS or not _is_map(operation):
                    continue
                names = shared + _parameters(operation.get("parameters"), self._document)
                op = Operation(
                    upper,
                    str(template),
                    self._response_component(operation),
                    "responsefields" in names,
                )
                self._raw.setdefault((upper, op.path), operation)
                router.add(op)
        return router

    def _response_component(self, operation: Mapping[str, Any]) -> str | None:
        schema = _response(operation, self._document)
        if _is_map(schema) and schema.get("type") == "array":
            schema = schema.get("items")
        if not _is_map(schema):
            return None
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith(_SCHEMAS):
            return None
        name = _unescape(ref[len(_SCHEMAS) :])
        if name not in self._schemas or not self._properties(self._schemas[name], first=True):
            return None
        return name

    # -- building -------------------------------------------------------------------------------

    def _build(self, make: Any) -> Any:
        """``make()`` with every Struct shell it creates filled in; the lock is held."""
        start = len(self._built)
        try:
            built = make()
            while self._queue:
                struct, fields = self._queue.pop()
                annotations = struct.__annotations__
                for python_name, field_schema in fields:
                    hint = struct.__name__ + python_name[:1].upper() + python_name[1:]
                    annotations[python_name] = self._convert(field_schema, hint, 0, field=True)
        except BaseException:
            # Shells of a failed build may lack their types: none of them is kept.
            for name in self._built[start:]:
                self._types.pop(name, None)
            del self._built[start:]
            self._queue.clear()
            self._visiting.clear()
            raise
        for name in self._built[start:]:
            self._done[name] = self._types[name]
        return built

    def _component(self, name: str, depth: int) -> Any:
        """The type of component ``name``: a Struct shell (queued to be filled) or an alias."""
        built = self._types.get(name)
        if built is not None:
            return built
        if name in self._visiting:  # an alias of itself, through arrays or references
            return Any
        schema = self._schemas[name]
        properties = self._properties(schema)
        if properties:
            built = self._shell(name, properties)
        else:
            self._visiting.add(name)
            try:
                built = self._convert(schema, _class_name(name), depth)
            finally:
                self._visiting.discard(name)
        self._types[name] = built
        self._built.append(name)
        return built

    def _shell(self, name: str, properties: Mapping[str, Any]) -> type[msgspec.Struct]:
        """A Struct with the fields of ``properties`` typed ``Any`` for now, queued to be typed.

        Fields are typed after the class exists, so a schema that references itself (a category
        and its children) gets a type that references itself, without forward references.
        """
        names = _python_names(list(properties))
        struct = msgspec.defstruct(
            _class_name(name),
            [(python_name, Any, UNSET) for python_name in names],
            module=__name__,
            rename={
                python_name: json_name
                for python_name, json_name in zip(names, properties, strict=True)
                if python_name != json_name
            }
            or None,
            kw_only=True,
            frozen=True,
        )
        self._queue.append((struct, list(zip(names, properties.values(), strict=True))))
        self._sources[struct] = dict(properties)
        return struct

    def _field_schemas(self, struct: type[msgspec.Struct]) -> dict[str, Mapping[str, Any]]:
        """The schema object of each field of a Struct this document built, by JSON name, with
        ``$ref`` and one-part ``allOf`` followed; ``{}`` for a Struct it did not build.

        What the types leave out (``format``, ``enum``): the mock draws its values by them.
        """
        found: dict[str, Mapping[str, Any]] = {}
        for name, schema in self._sources.get(struct, {}).items():
            seen: set[int] = set()
            while _is_map(schema) and id(schema) not in seen:
                seen.add(id(schema))
                if isinstance(schema.get("$ref"), str):
                    schema = self._dereference(schema)
                    continue
                members = schema.get("allOf")
                if isinstance(members, list) and len(members) == 1 and "properties" not in schema:
                    schema = members[0]
                    continue
                break
            if _is_map(schema):
                found[name] = schema
        return found

    def _convert(self, schema: Any, hint: str, depth: int, *, field: bool = False) -> Any:
        """The msgspec type of one schema object; ``field``: a Struct field's (``| UnsetType``)."""
        if depth > _MAX_NESTING:
            raise OpenAPIError(f"schema {hint!r} nests deeper than {_MAX_NESTING} levels")
        if not _is_map(schema):
            return Any
        nullable = schema.get("nullable") is True
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._reference(ref, hint, depth + 1)
            # OpenAPI 3.0 cannot mark a bare ``$ref`` nullable, and Kibo's (.NET) serializer
            # writes null for an object it has not set: a referenced object may be null.
            nullable = nullable or (field and _is_struct(target))
            return _finish(target, nullable, field)
        kind, null = _kind(schema.get("type"))
        return _finish(self._of_kind(schema, kind, hint, depth), nullable or null, field)

    def _of_kind(self, schema: Mapping[str, Any], kind: Any, hint: str, depth: int) -> Any:
        """The type of a schema object that is not a ``$ref``, whose ``type`` is ``kind``."""
        if "oneOf" in schema or "anyOf" in schema or "not" in schema:
            return Any
        if "allOf" in schema:
            return self._all_of(schema, hint, depth)
        if kind == "string":
            return datetime.datetime if schema.get("format") == "date-time" else str
        if isinstance(kind, str) and kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            return tuple[self._convert(schema.get("items"), hint + "Item", depth + 1), ...]  # type: ignore[misc]
        if kind == "object" or (
            kind is None and ("properties" in schema or _is_map(schema.get("additionalProperties")))
        ):
            return self._object(schema, hint, depth)
        return Any

    def _object(self, schema: Mapping[str, Any], hint: str, depth: int) -> Any:
        """A Struct for an object with properties; else a dict of its ``additionalProperties``."""
        properties = _own_properties(schema)
        if properties:
            return self._shell(hint, properties)
        values = schema.get("additionalProperties")
        value_type = (
            self._convert(values, hint + "Value", depth + 1) if _is_map(values) and values else Any
        )
        return dict[str, value_type]  # type: ignore[valid-type]

    def _all_of(self, schema: Mapping[str, Any], hint: str, depth: int) -> Any:
        members = schema.get("allOf")
        if isinstance(members, list) and len(members) == 1 and not _own_properties(schema):
            # The usual way to give a reference siblings (``nullable``) in OpenAPI 3.0: the
            # member's own type, not a copy of it.
            return self._convert(members[0], hint, depth + 1)
        properties = self._properties(schema)
        if properties:
            return self._shell(hint, properties)
        return Any

    def _reference(self, ref: str, hint: str, depth: int) -> Any:
        if ref.startswith(_SCHEMAS) and "/" not in ref[len(_SCHEMAS) :]:
            name = _unescape(ref[len(_SCHEMAS) :])
            if name not in self._schemas:
                raise _broken(ref, self.schema_names())
            return self._component(name, depth)
        if not ref.startswith("#"):
            return Any  # another document: not followed
        if ref in self._visiting:
            return Any
        target = _pointer(self._document, ref)
        self._visiting.add(ref)
        try:
            return self._convert(target, hint, depth)
        finally:
            self._visiting.discard(ref)

    def _properties(self, schema: Any, *, first: bool = False) -> dict[str, Any]:
        """The properties of ``schema`` merged with those of its ``allOf`` parts, parts first.

        A property named again later keeps its first position and takes the later schema. The
        walk is a loop over a stack, whatever the depth of the chain of parts. ``first``: stop
        at the first part with properties (enough to know that there are some).
        """
        merged: dict[str, Any] = {}
        seen: set[int] = set()
        stack: list[tuple[Any, bool]] = [(schema, False)]
        while stack:
            current, expanded = stack.pop()
            current = self._dereference(current)
            if not _is_map(current):
                continue
            if expanded:
                merged.update(_own_properties(current))
                if first and merged:
                    break
                continue
            if id(current) in seen:
                continue
            seen.add(id(current))
            stack.append((current, True))
            members = current.get("allOf")
            if isinstance(members, list):
                stack.extend((member, False) for member in reversed(members))
        return merged

    def _dereference(self, schema: Any) -> Any:
        """``schema`` with a chain of ``$ref`` followed (``None`` where it breaks or loops)."""
        seen: set[str] = set()
        while _is_map(schema) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            if ref in seen or not ref.startswith("#"):
                return None
            seen.add(ref)
            try:
                schema = _pointer(self._document, ref)
            except OpenAPIError:
                return None
        return schema


# -- types ----------------------------------------------------------------------------------------


# The types of the schema objects whose ``type`` alone says it (strings: also their format).
_SCALARS: Final[dict[str, Any]] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}


def _kind(kind: Any) -> tuple[Any, bool]:
    """A schema object's ``type``, and whether it also admits null: OpenAPI 3.1 writes
    ``"type": ["string", "null"]``."""
    if not isinstance(kind, list):
        return kind, False
    kinds = [item for item in kind if item != "null"]
    return (kinds[0] if len(kinds) == 1 else None if kinds else "null"), "null" in kind


def _finish(built: Any, nullable: bool, field: bool) -> Any:
    if built is Any:
        return Any
    if nullable and built is not type(None):
        built = built | None
    return built | UnsetType if field else built


def _is_map(value: object) -> TypeGuard[Mapping[str, Any]]:
    # ``dict`` first: an ABC check costs a microsecond, and documents are made of dicts.
    return type(value) is dict or isinstance(value, Mapping)


def _is_struct(value: object) -> TypeGuard[type[msgspec.Struct]]:
    return isinstance(value, type) and issubclass(value, msgspec.Struct)


def _own_properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    if not _is_map(properties):
        return {}
    return {str(name): value for name, value in properties.items()}


def _class_name(text: str) -> str:
    name = re.sub(r"\W", "_", text)
    if not name or name[0].isdigit():
        name = "_" + name
    return name


def _python_names(json_names: list[str]) -> list[str]:
    """A distinct Python attribute name for each JSON name: the name itself where it is a usable
    identifier (not a keyword, not a dunder), else a respelling with ``_``."""
    usable = [
        name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")
        for name in json_names
    ]
    taken = {name for name, ok in zip(json_names, usable, strict=True) if ok}
    names: list[str] = []
    for name, ok in zip(json_names, usable, strict=True):
        if ok:
            names.append(name)
            continue
        candidate = re.sub(r"\W", "_", name).lstrip("_") or "field"
        if candidate[0].isdigit() or keyword.iskeyword(candidate):
            candidate = f"_{candidate}" if candidate[0].isdigit() else f"{candidate}_"
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        names.append(candidate)
    return names


# -- documents ------------------------------------------------------------------------------------


def _decode(data: bytes, *, yaml: bool | None) -> Mapping[str, Any]:
    """JSON, or YAML when ``yaml`` (``None``: YAML unless it starts like JSON, ``{`` or ``[``)."""
    if data.startswith(b"\xef\xbb\xbf"):  # a byte order mark, as some editors write
        data = data[3:]
    if yaml is None:
        yaml = data.lstrip()[:1] not in (b"{", b"[")
    if yaml:
        return _decode_yaml(data)
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as error:
        raise OpenAPIError(f"not a JSON document: {error}") from None
    if not _is_map(document):
        raise OpenAPIError(_not_openapi(document))
    return document


def _decode_yaml(data: bytes) -> Mapping[str, Any]:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise OpenAPIError(
            "reading a YAML document needs PyYAML (pip install pyyaml), or give the JSON form"
        ) from None
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    try:
        document = yaml.load(data, Loader=loader)
    except yaml.YAMLError as error:
        raise OpenAPIError(f"not a YAML document: {error}") from None
    if not _is_map(document):
        raise OpenAPIError(_not_openapi(document))
    return document


def _not_openapi(document: object) -> str:
    if not _is_map(document):
        return f"not an OpenAPI 3.x document: the document is a {type(document).__name__}"
    if "swagger" in document:
        return (
            f"not an OpenAPI 3.x document: it is Swagger {document['swagger']!r}; convert it to "
            "OpenAPI 3 first"
        )
    if "openapi" in document:
        return f"not an OpenAPI 3.x document: it says openapi {document['openapi']!r}"
    return "not an OpenAPI 3.x document: it has no 'openapi' version field"


def _unescape(token: str) -> str:
    return urllib.parse.unquote(token).replace("~1", "/").replace("~0", "~")


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    """The value a local JSON pointer (``#/a/b``) points at; ``OpenAPIError`` if nothing."""
    target: Any = document
    for token in ref[1:].split("/")[1:] if ref != "#" else ():
        key = _unescape(token)
        if _is_map(target) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            raise OpenAPIError(f"$ref {ref!r} points to nothing in the document")
    return target


def _broken(ref: str, names: list[str]) -> OpenAPIError:
    name = _unescape(ref[len(_SCHEMAS) :])
    close = _closest(name, names)
    message = f"$ref {ref!r} points to no component schema"
    return OpenAPIError(message + _did_you_mean(close))


def _unknown(kind: str, name: str, names: Iterable[str]) -> OpenAPILookupError:
    close = _closest(name, names)
    return OpenAPILookupError(
        f"no {kind} {name!r} in the document{_did_you_mean(close)}", name, close
    )


def _closest(name: str, names: Iterable[str]) -> tuple[str, ...]:
    by_fold: dict[str, str] = {}
    for candidate in names:
        by_fold.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_fold), n=_SUGGESTIONS, cutoff=0.5)
    return tuple(by_fold[fold] for fold in close)


def _did_you_mean(close: tuple[str, ...]) -> str:
    if not close:
        return ""
    quoted = [repr(name) for name in close]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f": did you mean {listed}?"


def _follow(value: Any, document: Mapping[str, Any]) -> Any:
    """``value``, or what its ``$ref`` points at (responses, parameters); ``None`` if nothing."""
    if _is_map(value) and isinstance(value.get("$ref"), str):
        ref = value["$ref"]
        if not ref.startswith("#"):
            return None
        try:
            return _pointer(document, ref)
        except OpenAPIError:
            return None
    return value


def _parameters(parameters: Any, document: Mapping[str, Any]) -> tuple[str, ...]:
    """The casefolded names of the query parameters in a ``parameters`` list."""
    if not isinstance(parameters, list):
        return ()
    names = []
    for parameter in parameters:
        parameter = _follow(parameter, document)
        if _is_map(parameter) and parameter.get("in") == "query":
            names.append(str(parameter.get("name")).casefold())
    return tuple(names)


def _response(operation: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    """The schema of the successful JSON response: ``200`` first, then other 2xx codes; the JSON
    media type first, then other ``json`` types, then ``*/*``. ``None`` if there is none."""
    responses = operation.get("responses")
    if not _is_map(responses):
        return None
    by_code = {str(code).upper(): response for code, response in responses.items()}
    codes = sorted(
        (code for code in by_code if code.startswith("2")),
        key=lambda code: (code != "200", code == "2XX", code),
    )
    for code in codes:
        response = _follow(by_code[code], document)
        content = response.get("content") if _is_map(response) else None
        if not _is_map(content):
            continue
        media = {str(name).split(";")[0].strip().lower(): value for name, value in content.items()}
        chosen = media.get("application/json")
        if chosen is None:
            chosen = next((value for name, value in media.items() if name.endswith("json")), None)
        if chosen is None:
            chosen = media.get("*/*")
        if _is_map(chosen) and "schema" in chosen:
            return chosen["schema"]
    return None


def _base_paths(servers: Any) -> tuple[str, ...]:
    """The distinct path prefixes of the server URLs (``/api``), longest first; ``/`` left out."""
    found: set[str] = set()
    for server in servers if isinstance(servers, list) else ():
        if not _is_map(server) or not isinstance(server.get("url"), str):
            continue
        url: str = server["url"]
        variables = server.get("variables")
        if _is_map(variables):
            for variable, spec in variables.items():
                if _is_map(spec) and "default" in spec:
                    url = url.replace("{" + str(variable) + "}", str(spec["default"]))
        path = urllib.parse.urlsplit(url).path.rstrip("/")
        if path:
            found.add(path)
    return tuple(sorted(found, key=lambda path: (-len(path), path)))


# -- routes ---------------------------------------------------------------------------------------


class _Route:
    """One node of the segment trie: children by literal segment (casefolded), by a segment
    pattern (``{id}.json``), by a whole-segment parameter; and the operations ending here."""

    __slots__ = ("literals", "operations", "parameter", "patterns")

    def __init__(self) -> None:
        self.literals: dict[str, _Route] = {}
        self.patterns: dict[str, tuple[re.Pattern[str], _Route]] = {}
        self.parameter: _Route | None = None
        self.operations: dict[str, Operation] = {}


class _Router:
    """Operations by path template, matched segment by segment.

    All the nodes a path can reach are followed together, in preference order (a literal before
    a pattern before a parameter, leftmost difference first), so a match costs one pass over the
    segments whatever the templates, with no backtracking.
    """

    def __init__(self) -> None:
        self.root = _Route()
        self.operations: list[Operation] = []

    def add(self, op: Operation) -> None:
        route = self.root
        for segment in _segments(op.path):
            if "{" not in segment:
                key = segment.casefold()
                child = route.literals.get(key)
                if child is None:
                    child = route.literals[key] = _Route()
                route = child
            elif _WHOLE_PARAMETER.fullmatch(segment):
                if route.parameter is None:
                    route.parameter = _Route()
                route = route.parameter
            else:
                key = _WHOLE_PARAMETER.sub("{}", segment).casefold()
                if key not in route.patterns:
                    # Kibo has one such segment, a typo ("{tagValue}}"). Two parameters in one
                    # segment ("{a}-{b}.tar.gz") can cost the square of the segment's length.
                    pieces = _WHOLE_PARAMETER.split(segment)
                    source = "[^/]+?".join(re.escape(piece) for piece in pieces)
                    route.patterns[key] = (re.compile(source, re.IGNORECASE), _Route())
                route = route.patterns[key][1]
        # Two templates that differ only in their parameters' names serve the same requests
        # (Kibo has a few): the first in the document answers them.
        route.operations.setdefault(op.method, op)
        self.operations.append(op)

    def match(self, method: str, path: str, bases: tuple[str, ...]) -> Operation | None:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for base in bases:
            size = len(base)
            if path[:size].casefold() == base.casefold() and path[size : size + 1] in ("", "/"):
                found = self._match(method, path[len(base) :])
                if found is not None:
                    return found
        return self._match(method, path)

    def _match(self, method: str, path: str) -> Operation | None:
        states = [self.root]
        for segment in _segments(path):
            key = segment.casefold()
            following: list[_Route] = []
            for route in states:
                literal = route.literals.get(key)
                if literal is not None:
                    following.append(literal)
                if segment:
                    following.extend(
                        child
                        for pattern, child in route.patterns.values()
                        if pattern.fullmatch(segment)
                    )
                    if route.parameter is not None:
                        following.append(route.parameter)
            if not following:
                return None
            states = following
        for wanted in (method, "GET") if method == "HEAD" else (method,):
            for route in states:
                op = route.operations.get(wanted)
                if op is not None:
                    return op
        return None


def _segments(path: str) -> list[str]:
    path = path.strip()
    if path.endswith("/"):
        path = path[:-1]
    if not path:
        return []
    return path[1:].split("/") if path.startswith("/") else path.split("/")
