"""The expressions measured and the contenders measured on them, each JSON bytes in, JSON bytes out.

Contenders: this library's fast path and reference applier, the msgspec scan floor (no output), and
what users write without it: orjson with a hand-written filter, jsonmask, glom and pysimdjson. A
contender that is missing or cannot say an expression raises ``UnavailableError`` with the reason.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgspec
import orjson

import projection
from projection.kibo import CustomerAuthTicket

__all__ = [
    "CONTENDERS",
    "EXPRESSIONS",
    "FAST_PATH",
    "FAST_PATH_SCHEMA",
    "HAND_FILTER",
    "SCAN",
    "Contender",
    "Expression",
    "UnavailableError",
]

Spec: TypeAlias = "bool | dict[str, Spec]"
"""The hand-written filter's spec: ``True`` keeps a value whole; in a dict, each named key gets its
spec, ``False`` drops it, and ``"*"`` gives the spec of every key not named (default: dropped)."""

Projector: TypeAlias = Callable[[bytes], Any]
"""JSON bytes to JSON bytes (the scan floor returns what it decoded: nothing worth keeping)."""


class UnavailableError(Exception):
    """This contender cannot take part here; the message says why."""


@dataclass(frozen=True)
class Expression:
    """An expression, with what each peer needs to do the same."""

    label: str
    text: str
    spec: Spec
    # jsonmask: True where it lists exclusions (its negated mode), None where it cannot say it.
    jsonmask_negated: bool | None
    # glom: builds the spec from the glom module; None where glom has no equivalent spec.
    glom: Callable[[Any], object] | None


def _glom_optional(glom: Any, key: str, inner: object = None) -> object:
    """A glom spec for ``key`` that leaves the key out when the document lacks it (rule 4)."""
    return glom.Coalesce(key if inner is None else (key, inner), default=glom.SKIP)


def _glom_typical(glom: Any) -> object:
    opt = _glom_optional
    contacts = [{"address": opt(glom, "address")}]
    return {
        "customerAccount": opt(
            glom, "customerAccount", {"contacts": opt(glom, "contacts", contacts)}
        ),
        "accessToken": opt(glom, "accessToken"),
    }


def _glom_wide(glom: Any) -> object:
    opt = _glom_optional
    address = {key: opt(glom, key) for key in ("cityOrTown", "countryCode")}
    contacts = [{"email": opt(glom, "email"), "address": opt(glom, "address", address)}]
    summary = {key: opt(glom, key) for key in ("orderCount", "totalOrderAmount")}
    account = {key: opt(glom, key) for key in ("id", "emailAddress", "firstName", "lastName")}
    account["contacts"] = opt(glom, "contacts", contacts)
    account["commerceSummary"] = opt(glom, "commerceSummary", summary)
    spec = {key: opt(glom, key) for key in ("accessToken", "accessTokenExpiration")}
    spec |= {key: opt(glom, key) for key in ("refreshToken", "userId")}
    spec["customerAccount"] = opt(glom, "customerAccount", account)
    return spec


EXPRESSIONS = (
    Expression(
        label="narrow",
        text="accessToken",
        spec={"accessToken": True},
        jsonmask_negated=False,
        glom=lambda glom: {"accessToken": _glom_optional(glom, "accessToken")},
    ),
    Expression(
        label="typical",
        text="customerAccount(contacts(address)),accessToken",
        spec={"customerAccount": {"contacts": {"address": True}}, "accessToken": True},
        jsonmask_negated=False,
        glom=_glom_typical,
    ),
    Expression(
        label="wide",
        text=(
            "accessToken,accessTokenExpiration,refreshToken,userId,customerAccount(id,emailAddress,"
            "firstName,lastName,contacts(email,address(cityOrTown,countryCode)),"
            "commerceSummary(orderCount,totalOrderAmount))"
        ),
        spec={
            "accessToken": True,
            "accessTokenExpiration": True,
            "refreshToken": True,
            "userId": True,
            "customerAccount": {
                "id": True,
                "emailAddress": True,
                "firstName": True,
                "lastName": True,
                "contacts": {"email": True, "address": {"cityOrTown": True, "countryCode": True}},
                "commerceSummary": {"orderCount": True, "totalOrderAmount": True},
            },
        },
        jsonmask_negated=False,
        glom=_glom_wide,
    ),
    Expression(
        label="exclusion",
        text="-jwtAccessToken,-accessToken",
        spec={"*": True, "jwtAccessToken": False, "accessToken": False},
        jsonmask_negated=True,
        glom=lambda glom: (
            glom.Delete("jwtAccessToken", ignore_missing=True),
            glom.Delete("accessToken", ignore_missing=True),
        ),
    ),
    Expression(
        label="wildcard",
        text="customerAccount(contacts(*(cityOrTown)))",
        spec={"customerAccount": {"contacts": {"*": {"cityOrTown": True}}}},
        jsonmask_negated=None,
        glom=None,
    ),
)


@dataclass(frozen=True)
class Contender:
    """A way to project: ``make(expression, array)`` gives the callable for that expression, on
    a single document or, with ``array``, on a JSON array of them."""

    name: str
    how: str
    make: Callable[[Expression, bool], Projector]
    produces_output: bool = True


class _Empty(msgspec.Struct):
    """No fields: decoding into it validates and skips the whole object, building nothing."""


def _fast_path(expression: Expression, array: bool) -> Projector:
    return projection.parse(expression.text).project


def _fast_path_schema(expression: Expression, array: bool) -> Projector:
    return projection.parse(expression.text, schema=CustomerAuthTicket).project


def _scan(expression: Expression, array: bool) -> Projector:
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[_Empty] if array else _Empty)
    return decoder.decode


def _reference(expression: Expression, array: bool) -> Projector:
    apply = projection.parse(expression.text).apply
    return lambda data: orjson.dumps(apply(orjson.loads(data)))


def _filter(
    mapping: type[Any], sequence: type[Any], whole: Callable[[Any], Any]
) -> Callable[[Any, Spec], Any]:
    """What users write by hand: one recursive filter driven by a nested dict spec.

    ``mapping`` and ``sequence`` are the decoded object and array types; ``whole`` turns a value
    kept whole into Python (the identity for values decoded already).
    """

    def select(value: Any, spec: Spec) -> Any:
        if spec is True or not isinstance(spec, dict):
            return whole(value)
        if isinstance(value, sequence):
            return [select(item, spec) for item in value]
        if not isinstance(value, mapping):
            return value
        if "*" not in spec:
            return {key: select(value[key], sub) for key, sub in spec.items() if key in value}
        other = spec["*"]
        kept = {}
        # By key, not ``items()``: on pysimdjson's proxies that converts every value, read or not.
        for key in value.keys():  # noqa: SIM118 (not always a dict)
            sub = spec.get(key, other)
            if sub is not False:
                kept[key] = select(value[key], sub)
        return kept

    return select


_hand_filter = _filter(dict, list, lambda value: value)


def _orjson(expression: Expression, array: bool) -> Projector:
    spec = expression.spec
    return lambda data: orjson.dumps(_hand_filter(orjson.loads(data), spec))


def _import(module: str, distribution: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnavailableError(
            f"{distribution} is not installed (pip install --group bench)"
        ) from None


def _jsonmask(expression: Expression, array: bool) -> Projector:
    jsonmask = _import("jsonmask", "jsonmask")
    negated = expression.jsonmask_negated
    if negated is None:
        raise UnavailableError("jsonmask has no wildcard segment that maps over arrays")
    # Its negated mode takes the keys to remove, without our leading "-".
    text = (
        ",".join(item.removeprefix("-") for item in expression.text.split(","))
        if negated
        else expression.text
    )
    mask = jsonmask.parse_fields(text)
    apply = jsonmask.apply_json_mask

    def one(document: Any) -> Any:
        return apply(document, mask, is_negated=negated)

    if array:
        return lambda data: orjson.dumps([one(document) for document in orjson.loads(data)])
    return lambda data: orjson.dumps(one(orjson.loads(data)))


def _glom(expression: Expression, array: bool) -> Projector:
    glom = _import("glom", "glom")
    if expression.glom is None:
        raise UnavailableError("glom has no equivalent spec: no wildcard key segment")
    spec = expression.glom(glom)
    if array:
        spec = [spec]
    run = glom.glom
    return lambda data: orjson.dumps(run(orjson.loads(data), spec))


def _simdjson(expression: Expression, array: bool) -> Projector:
    simdjson = _import("simdjson", "pysimdjson")
    parser = simdjson.Parser()
    json_object, json_array = simdjson.Object, simdjson.Array

    def whole(value: Any) -> Any:
        if isinstance(value, json_object):
            return value.as_dict()
        return value.as_list() if isinstance(value, json_array) else value

    # Only the selected values are read from the lazy proxies.
    select = _filter(json_object, json_array, whole)
    spec = expression.spec
    # The proxies must be gone before the parser is used again: ``select`` copies what it keeps.
    return lambda data: orjson.dumps(select(parser.parse(data), spec))


FAST_PATH = Contender(
    "p.project", "`p.project(data)`: the compiled fast path (msgspec, Raw leaves)", _fast_path
)
FAST_PATH_SCHEMA = Contender(
    "p.project (schema)",
    "`parse(text, schema=CustomerAuthTicket).project(data)`: the fast path knowing the Kibo "
    "model, so that every node is a Struct, exclusions and `*` included",
    _fast_path_schema,
)
SCAN = Contender(
    "scan floor",
    "`msgspec.json.Decoder(Empty)` (or `list[Empty]`), `Empty` a field-less Struct: validates "
    "and skips every byte, builds nothing; the practical floor",
    _scan,
    produces_output=False,
)
HAND_FILTER = Contender(
    "orjson + hand filter",
    "`orjson.loads`, one recursive filter driven by a nested dict spec per expression "
    "(`{'customerAccount': {'contacts': {'address': True}}, ...}`), `orjson.dumps`",
    _orjson,
)
CONTENDERS = (
    FAST_PATH,
    FAST_PATH_SCHEMA,
    SCAN,
    Contender(
        "p.apply (reference)",
        "`orjson.dumps(p.apply(orjson.loads(data)))`: the reference applier on Python values",
        _reference,
    ),
    HAND_FILTER,
    Contender(
        "jsonmask",
        "`jsonmask.apply_json_mask(orjson.loads(data), jsonmask.parse_fields(text))` "
        "(`is_negated=True` for exclusions), `orjson.dumps`",
        _jsonmask,
    ),
    Contender(
        "glom",
        "`orjson.loads`, `glom(doc, spec)` with a hand-written spec "
        "(`Coalesce(key, default=SKIP)` per field, `Delete` for exclusions), `orjson.dumps`",
        _glom,
    ),
    Contender(
        "pysimdjson",
        "`simdjson.Parser().parse(data)`, the hand filter reading only the selected fields from "
        "its lazy proxies, `orjson.dumps`",
        _simdjson,
    ),
)
