"""The case tables of ``tests/cases`` through every way of applying a projection to bytes.

``test_cases.py`` runs each case through the reference applier and each way of the fast path
alone (reached inside, through ``tests/internals.py``); here the same cases go through every
applier to bytes by the public API only:

- ``Projection.project``, first on the generic path (a fresh projection's first document), then
  compiled (its second);
- ``project_lines``, line by line (NDJSON shorter than a block) and in blocks (NDJSON longer than
  a block, about 4 MB, which goes through the block engine of ``projection apply``);
- worker processes: ``projection apply --workers 2`` on a file longer than a block, the cases of
  a table in one run (below); of the cases with a schema, those the command line can name
  (``--schema authticket``);
- the ASGI middleware, with the expression in the query (and, for a case with a schema, the
  schema given by an OpenAPI document whose route answers with it);
- ``typed()``, for a case with a schema its document follows.

Rule 11 fixes the bytes: selected values are copied byte for byte and the structure around them
is written compact. So for a document written compactly by a standard encoder, every applier
must give exactly that encoder's writing of the expected value; for a document written with white
space, every applier must give the same bytes as the others, decoding to the expected value.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import msgspec
import orjson
import pytest

import projection
from projection.asgi import ResponseFieldsMiddleware
from projection.openapi import OpenAPI

from .in_process import respond
from .schemas import SCHEMAS
from .test_cases import load, options

CASES = [case for table in ("apply", "schema_order") for case in load(table)]
# More than one block of ``projection apply`` (about 4 MB, README "The command line"): input this
# long is read in blocks, and ``--workers 2`` starts a worker process.
BEYOND_A_BLOCK = 9 << 19
# A line longer than a block, which pushes the lines before it into a block of their own. Any
# projection takes it, and its output line is left out; white space instead would cost more.
PADDING = b'{"~": "' + b"~" * BEYOND_A_BLOCK + b'"}\n'


Encoder = Callable[[Any], bytes]
ENCODINGS: dict[str, Encoder] = {
    # Compact, as orjson writes it: the output is the expected value written the same way.
    "compact": orjson.dumps,
    # White space after every comma and colon: values kept whole keep theirs.
    "spaced": lambda document: json.dumps(document, ensure_ascii=False).encode(),
}


def case_id(case: dict[str, Any]) -> str:
    return str(case["id"])


def parsed(case: dict[str, Any]) -> projection.Projection:
    """A fresh projection of the case: its first ``project`` takes the generic path."""
    return projection.parse(case["expression"], **options(case))


# -- in this process ------------------------------------------------------------------------------


def in_process(case: dict[str, Any]) -> dict[str, dict[str, bytes]]:
    """What each applier in this process makes of the case's document, in each encoding."""
    encoded = {encoding: encode(case["document"]) for encoding, encode in ENCODINGS.items()}
    outputs: dict[str, dict[str, bytes]] = {}
    for encoding, data in encoded.items():
        fresh = parsed(case)
        outputs[encoding] = {"generic": fresh.project(data), "compiled": fresh.project(data)}
        outputs[encoding]["middleware"] = middleware(case, data)
    # NDJSON: each encoding's document on two lines, the second ending in CRLF, a blank line
    # between the pairs.
    lines = b"\n\n".join(data + b"\n" + data + b"\r\n" for data in encoded.values())
    # Longer than a block: the case's lines in a block of their own, the padding after them.
    blocks = b"\n".join(data + b"\n" + data for data in encoded.values()) + b"\n" + PADDING
    for applier, output in (
        ("lines", b"".join(parsed(case).project_lines(lines))),
        ("blocks", b"".join(parsed(case).project_lines(blocks))),
    ):
        found = output.split(b"\n")
        for encoding in encoded:
            first, second = found.pop(0), found.pop(0)
            outputs[encoding][applier] = first if first == second else b"differs: " + second
    return outputs


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_applier_in_process_gives_the_same_bytes(case: dict[str, Any]) -> None:
    outputs = in_process(case)
    # Compact input: exactly the expected value written compact.
    compact = outputs["compact"]
    assert compact == dict.fromkeys(compact, orjson.dumps(case["expected"]))
    # With white space: the same bytes from every applier, decoding to the expected value.
    spaced = outputs["spaced"]
    assert spaced == dict.fromkeys(spaced, spaced["generic"])
    # Serialised again, so that key order counts.
    assert orjson.dumps(orjson.loads(spaced["generic"])) == orjson.dumps(case["expected"])


# -- the middleware -------------------------------------------------------------------------------

ROUTES = {"Doc": "/doc", "CustomerAuthTicket": "/ticket"}


def openapi_document(schemas: dict[str, type[msgspec.Struct]]) -> dict[str, Any]:
    """An OpenAPI document with one route per schema (``ROUTES``), answering with it.

    The components are msgspec's JSON Schema of the types, where "X or null" is said as OpenAPI
    3.0 says it; the types ``OpenAPI`` builds from them have the same fields, in the same order,
    of the same kinds (Struct, array, mapping, any, primitive), which is all the projection reads.
    """
    _, components = msgspec.json.schema_components(
        schemas.values(), ref_template="#/components/schemas/{name}"
    )
    paths = {
        ROUTES[name]: {
            "get": {
                "responses": {
                    "200": {
                        "description": name,
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                        },
                    }
                }
            }
        }
        for name in schemas
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "the schemas of the case tables", "version": "1"},
        "paths": paths,
        "components": {"schemas": _nullable(components)},
    }


def _nullable(schema: Any) -> Any:
    """``schema`` with every ``anyOf: [X, null]`` written ``allOf: [X], nullable: true``."""
    if isinstance(schema, list):
        return [_nullable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    alternatives = schema.get("anyOf")
    null = {"type": "null"}
    if isinstance(alternatives, list) and len(alternatives) == 2 and null in alternatives:
        (other,) = [item for item in alternatives if item != null]
        return {"allOf": [_nullable(other)], "nullable": True}
    return {key: _nullable(value) for key, value in schema.items()}


SPEC = OpenAPI.load(openapi_document({name: SCHEMAS[name] for name in ROUTES}))


def middleware(case: dict[str, Any], body: bytes) -> bytes:
    """The body the middleware sends for a JSON response ``body`` and the case's expression."""
    # Requests are parsed with the policy's case folding: a case that folds names gets a policy
    # that keeps everything, with the route's schema, which ``request & policy`` keeps only when
    # both sides have it (rule 12).
    path = ROUTES.get(case.get("schema", ""), "/plain")
    policy = None
    if case.get("case_insensitive", False):
        schema = SPEC.schema(case["schema"]) if "schema" in case else None
        policy = projection.parse("", case_insensitive=True, schema=schema)
    app = ResponseFieldsMiddleware(_answering(body), policy=policy, openapi=SPEC)
    query = urlencode({"responseFields": case["expression"]}).encode()
    status, headers, sent = respond(app, query, path=path)
    assert status == 200, sent
    assert [value for name, value in headers if name.lower() == b"content-length"] == [
        b"%d" % len(sent)
    ]
    return sent


def _answering(body: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


# -- typed() --------------------------------------------------------------------------------------


def within(value: Any, kind: msgspec.inspect.Type) -> Any:
    """``value`` without the keys that the type ``kind`` has no field for, at any depth."""
    if isinstance(kind, msgspec.inspect.UnionType):
        fitting = [member for member in kind.types if _fits(value, member)]
        return within(value, fitting[0]) if fitting else value
    if isinstance(kind, (msgspec.inspect.StructType, msgspec.inspect.DataclassType)):
        fields = {field.encode_name: field.type for field in kind.fields}
        return {key: within(item, fields[key]) for key, item in value.items() if key in fields}
    if isinstance(kind, msgspec.inspect.DictType):
        return {key: within(item, kind.value_type) for key, item in value.items()}
    if isinstance(kind, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
        return [within(item, kind.item_type) for item in value]
    return value


def _fits(value: Any, kind: msgspec.inspect.Type) -> bool:
    if isinstance(value, dict):
        return isinstance(kind, (msgspec.inspect.StructType, msgspec.inspect.DictType))
    if isinstance(value, list):
        return isinstance(kind, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType))
    return False


def fields_set(value: Any) -> Any:
    """The fields set in the Structs of ``value``, through Structs and arrays: what a Struct type
    decides. (Below a mapping or ``Any``, which keys come is the document's business.)"""
    if isinstance(value, msgspec.Struct):
        return {
            name: fields_set(getattr(value, name))
            for name in value.__struct_fields__
            if getattr(value, name) is not msgspec.UNSET
        }
    if isinstance(value, (list, tuple)):
        return [fields_set(item) for item in value]
    return None


SCHEMA_CASES = [case for case in CASES if "schema" in case]


def follows_its_schema(case: dict[str, Any]) -> bool:
    schema = SCHEMAS[case["schema"]]
    try:
        msgspec.json.decode(orjson.dumps(case["document"]), type=schema | list[schema])  # type: ignore[valid-type]
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=case_id)
def test_typed_holds_what_the_projection_keeps_of_the_schema(case: dict[str, Any]) -> None:
    if not follows_its_schema(case):
        pytest.skip("the document does not follow the schema: typed() does not apply")
    projected = parsed(case)
    struct: Any = projected.typed()
    kind = msgspec.inspect.type_info(SCHEMAS[case["schema"]])
    if isinstance(case["document"], list):
        struct, kind = list[struct], msgspec.inspect.ListType(kind)
    for encode in ENCODINGS.values():
        data = encode(case["document"])
        decoded = msgspec.json.decode(projected.project(data), type=struct)
        # The fields the projection keeps, of the schema's, with the values it keeps ...
        assert orjson.loads(msgspec.json.encode(decoded)) == within(case["expected"], kind)
        # ... and the whole document decodes to no more fields.
        assert fields_set(msgspec.json.decode(data, type=struct)) == fields_set(decoded)


# -- worker processes -----------------------------------------------------------------------------
#
# ``projection apply`` projects with one expression, so each table goes through it as one run:
# line N of the input is ``{"cN": document}``, and the expression ``c0(e0),c1(e1),...`` gives each
# case's expression to its own key (rule 2), where it applies as it does at the top: an array
# element by element (rule 6), a primitive as it is (rule 7), the empty expression (``cN`` alone)
# keeping all. So the output line is ``{"cN":`` and the case's output ``}``. The cases are split
# into runs only where the expression would pass the limits. Cases with a schema need the schema
# at the top, which only ``--schema authticket`` gives on the command line: one run each.


@functools.cache
def runs() -> list[tuple[list[dict[str, Any]], str, list[str]]]:
    """Each run of ``projection apply``: its cases, its expression and its options."""
    found: list[tuple[list[dict[str, Any]], str, list[str]]] = []
    for folded in (False, True):
        plain = [
            case
            for case in CASES
            if "schema" not in case and case.get("case_insensitive", False) == folded
        ]
        flags = ["--case-insensitive"] if folded else []
        found.extend((cases, wrapped(cases), flags) for cases in _within_limits(plain, folded))
    for case in CASES:
        if case.get("schema") == "CustomerAuthTicket":
            flags = ["--schema", "authticket"]
            if case.get("case_insensitive", False):
                flags.append("--case-insensitive")
            found.append(([case], case["expression"], flags))
    return found


def _within_limits(cases: list[dict[str, Any]], folded: bool) -> list[list[dict[str, Any]]]:
    """``cases`` in as few runs as the expression's limits allow, halved until they fit."""
    try:
        projection.parse(wrapped(cases), case_insensitive=folded)
    except projection.ProjectionLimitError:
        assert len(cases) > 1, "a case too large to wrap"
        half = len(cases) // 2
        return _within_limits(cases[:half], folded) + _within_limits(cases[half:], folded)
    return [cases]


def wrapped(cases: list[dict[str, Any]]) -> str:
    return ",".join(
        f"c{number}({case['expression']})" if case["expression"].strip() else f"c{number}"
        for number, case in enumerate(cases)
    )


@pytest.fixture(scope="module")
def through_workers(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], bytes]:
    """Each case's output line from ``projection apply --workers 2``, by case and encoding."""
    found: dict[tuple[str, str], bytes] = {}
    for number, (cases, expression, flags) in enumerate(runs()):
        alone = len(cases) == 1 and "schema" in cases[0]
        lines = []
        for index, case in enumerate(cases):
            for encode in ENCODINGS.values():
                data = encode(case["document"])
                lines.append(data if alone else b'{"c%d": %s}' % (index, data))
        source = tmp_path_factory.mktemp("workers") / f"run{number}.ndjson"
        source.write_bytes(b"\n".join(lines) + b"\n" + PADDING)
        command = [sys.executable, "-m", "projection", "apply", expression, str(source)]
        result = subprocess.run(
            [*command, "--workers", "2", *flags],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        output = result.stdout.split(b"\n")
        assert output.pop() == b""
        output.pop()  # the padding's
        assert len(output) == len(lines)
        for index, case in enumerate(cases):
            for encoding in ENCODINGS:
                line = output.pop(0)
                if not alone:
                    prefix = b'{"c%d":' % index
                    assert line.startswith(prefix), line
                    assert line.endswith(b"}"), line
                    line = line[len(prefix) : -1]
                found[case_id(case), encoding] = line
    return found


WORKER_CASES = [
    case for case in CASES if case.get("schema", "CustomerAuthTicket") == "CustomerAuthTicket"
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("case", WORKER_CASES, ids=case_id)
def test_worker_processes_give_the_same_bytes(
    case: dict[str, Any], encoding: str, through_workers: dict[tuple[str, str], bytes]
) -> None:
    data = ENCODINGS[encoding](case["document"])
    if encoding == "compact":
        expected = orjson.dumps(case["expected"])
    else:
        expected = parsed(case).project(data)  # as every applier in this process gives it
    assert through_workers[case_id(case), encoding] == expected


def test_every_case_the_command_line_can_take_goes_through_the_workers() -> None:
    covered = [case_id(case) for cases, _, _ in runs() for case in cases]
    assert sorted(covered) == sorted(map(case_id, WORKER_CASES))
    assert len(covered) == len(set(covered))


def test_a_run_s_expression_gives_each_key_its_case() -> None:
    # The wrapping itself, on the reference applier: cN gets the N-th case's expression.
    for cases, expression, flags in runs():
        if "--schema" in flags:
            continue
        combined = projection.parse(expression, case_insensitive=bool(flags))
        for index, case in enumerate(cases):
            wrapper = {f"c{index}": case["document"]}
            expected = {f"c{index}": case["expected"]}
            assert orjson.dumps(combined.apply(wrapper)) == orjson.dumps(expected)
