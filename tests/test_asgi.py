"""The gateway middleware, in process: bare ASGI apps driven with scopes and messages built here."""

from __future__ import annotations

import asyncio
import functools
import gzip
import itertools
import operator
import socket
import string
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
import orjson
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse

import projection
from projection import ExpressionError, Projection, asgi
from projection.asgi import ASGIApp, Message, Receive, ResponseFieldsMiddleware, Scope, Send
from projection.kibo import CustomerAuthTicket, sample_authtickets
from projection.openapi import OpenAPI

from . import in_process
from .strategies import expressions, objects
from .test_mock_server import call

TICKET = orjson.loads(msgspec.json.encode(sample_authtickets(1, seed=5)[0]))
TICKET_BYTES = orjson.dumps(TICKET)
JSON = (b"content-type", b"application/json")
# What apps echo in their error bodies: the resource, with a field the policy must keep out.
SECRET = b"s3cr3t-value"
SECRET_DOCUMENT = {
    "id": 7,
    "name": "Ada",
    "secret": SECRET.decode(),
    "errors": [{"field": "name", "reason": "taken"}],
}
SECRET_BYTES = orjson.dumps(SECRET_DOCUMENT)
SECRET_POLICY = projection.parse("-secret")


@dataclass
class Upstream:
    """A bare ASGI app answering with a fixed start and body chunks, recording how it was called."""

    chunks: Sequence[bytes] = (TICKET_BYTES,)
    status: int = 200
    headers: Sequence[tuple[bytes, bytes]] = (JSON,)
    scopes: list[Scope] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        self.sends.append(send)
        messages: list[Message] = [
            {"type": "http.response.start", "status": self.status, "headers": list(self.headers)}
        ]
        for number, chunk in enumerate(self.chunks):
            more = number < len(self.chunks) - 1
            messages.append({"type": "http.response.body", "body": chunk, "more_body": more})
        for message in messages:
            self.sent.append(message)
            await send(message)


@dataclass
class Response:
    messages: list[Message]

    @property
    def status(self) -> int:
        status: int = self.messages[0]["status"]
        return status

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.messages[0]["headers"])

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key == name]
        assert len(values) <= 1, f"{name!r} sent {len(values)} times"
        return values[0] if values else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


def http_scope(query: str | bytes = b"", method: str = "GET", **extra: Any) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/commerce/customer/authtickets/anonymousshopper",
        "raw_path": b"/commerce/customer/authtickets/anonymousshopper",
        "query_string": query.encode("ascii") if isinstance(query, str) else query,
        "headers": [],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        **extra,
    }


def drive(app: Any, scope: Scope) -> Response:
    """Call ``app`` with ``scope`` and an empty request body; collect what it sends."""
    return Response(in_process.drive(app, scope))


def fields(expression: str) -> str:
    return urlencode({"responseFields": expression})


def request(app: Any, query: str | bytes = b"", method: str = "GET") -> Response:
    return drive(app, http_scope(query, method))


# -- projecting --------------------------------------------------------------------------------


def test_a_body_streamed_in_several_chunks_is_projected_once_complete() -> None:
    chunks = [TICKET_BYTES[i : i + 700] for i in range(0, len(TICKET_BYTES), 700)]
    assert len(chunks) > 3
    upstream = Upstream(chunks=chunks)
    expression = "customerAccount(contacts(address)),accessToken"
    response = request(ResponseFieldsMiddleware(upstream), fields(expression))
    assert response.status == 200
    # One start and one body: the chunks were held back and projected as one document.
    assert [m["type"] for m in response.messages] == ["http.response.start", "http.response.body"]
    assert not response.messages[1].get("more_body", False)
    assert orjson.loads(response.body) == projection.parse(expression).apply(TICKET)
    assert response.body == projection.parse(expression).project(TICKET_BYTES)


def test_content_length_is_right_and_other_headers_are_kept_in_order() -> None:
    headers = [
        (b"x-request-id", b"42"),
        (b"content-length", b"%d" % len(TICKET_BYTES)),
        JSON,
        (b"transfer-encoding", b"chunked"),
        (b"cache-control", b"no-store"),
    ]
    # Derived from the whole body, they would let a client test guesses at what was removed.
    whole_body = [
        (b"ETag", b'"5d41402abc4b2a76b9719d911017c592"'),
        (b"content-md5", b"XUFAKrxLKna5cZ2REBfFkg=="),
        (b"Digest", b"sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="),
        (b"content-digest", b"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
        (b"repr-digest", b"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
    ]
    headers[2:2] = whole_body
    upstream = Upstream(headers=headers)
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert response.body == orjson.dumps({"userId": TICKET["userId"]})
    assert response.headers == [
        (b"x-request-id", b"42"),
        JSON,
        (b"cache-control", b"no-store"),
        (b"content-length", b"%d" % len(response.body)),
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"Application/JSON;charset=UTF-8",
        b"application/json ; charset=utf-8",
        b"text/json",
        b"TEXT/JSON; charset=utf-8",
        b"application/problem+json",
        b"application/vnd.kibo.customer+json; version=2",
        b"application/Merge-Patch+JSON",
    ],
)
def test_json_and_plus_json_content_types_are_projected(content_type: bytes) -> None:
    upstream = Upstream(headers=[(b"content-type", content_type)])
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert response.body == orjson.dumps({"userId": TICKET["userId"]})
    assert response.header(b"content-type") == content_type


def assert_untouched(upstream: Upstream, response: Response) -> None:
    """The app's messages reached the client as they were, one for one: nothing was buffered."""
    assert len(response.messages) == len(upstream.sent)
    assert all(got is sent for got, sent in zip(response.messages, upstream.sent, strict=True))


@pytest.mark.parametrize(
    "content_type",
    [
        b"text/plain",
        b"text/html",
        b"application/jsonl",
        b"application/x-ndjson",
        b"application/json-seq",
        b"application/jsonx",
        b"application/x-json",
        b"json",
        b"+json",
    ],
)
def test_other_content_types_pass_byte_for_byte(content_type: bytes) -> None:
    upstream = Upstream(
        chunks=[b"not ", b"json ", b"at all"], headers=[(b"content-type", content_type)]
    )
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert_untouched(upstream, response)
    assert response.body == b"not json at all"


def test_a_json_body_without_content_type_is_projected() -> None:
    upstream = Upstream(chunks=[b" \r\n", b"", TICKET_BYTES[:10], TICKET_BYTES[10:]], headers=[])
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert response.body == orjson.dumps({"userId": TICKET["userId"]})
    assert response.headers == [(b"content-length", b"%d" % len(response.body))]


@pytest.mark.parametrize(
    "chunks",
    [
        [b"plain text, ", b'then {"userId": 1}'],
        [b"", b"  ", b"<html>", b"</html>"],
        [b'"just a string"'],
        [b"\xff\xd8\xff\xe0 a JPEG"],
        [b" \r\n\t"],
    ],
)
def test_a_body_without_content_type_that_starts_like_no_object_streams_through(
    chunks: list[bytes],
) -> None:
    upstream = Upstream(chunks=chunks, headers=[(b"content-length", b"%d" % len(b"".join(chunks)))])
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY), fields("userId"))
    assert response.messages[0] is upstream.sent[0]
    assert response.body == b"".join(chunks)
    # What was held back to find the first token goes in one message, the rest as it came.
    decided = next(n for n, chunk in enumerate(chunks) if chunk.strip() or n == len(chunks) - 1)
    assert len(response.messages) == len(upstream.sent) - decided


def test_gzip_encoded_json_passes_byte_for_byte() -> None:
    packed = gzip.compress(TICKET_BYTES)
    upstream = Upstream(
        chunks=[packed[:100], packed[100:]], headers=[JSON, (b"content-encoding", b"gzip")]
    )
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert_untouched(upstream, response)
    assert gzip.decompress(response.body) == TICKET_BYTES


def test_identity_encoding_is_projected() -> None:
    upstream = Upstream(headers=[JSON, (b"content-encoding", b"identity")])
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert response.body == orjson.dumps({"userId": TICKET["userId"]})


@pytest.mark.parametrize("status", [201, 206, 299])
def test_every_2xx_status_is_projected(status: int) -> None:
    response = request(ResponseFieldsMiddleware(Upstream(status=status)), fields("userId"))
    assert (response.status, response.body) == (status, orjson.dumps({"userId": TICKET["userId"]}))


@pytest.mark.parametrize("status", [301, 304, 400, 404, 500, 503])
def test_other_statuses_pass_byte_for_byte(status: int) -> None:
    error = orjson.dumps({"message": "nope", "errorCode": "ITEM_NOT_FOUND", "userId": "u"})
    upstream = Upstream(chunks=[error], status=status)
    response = request(ResponseFieldsMiddleware(upstream), fields("accessToken"))
    assert_untouched(upstream, response)


@pytest.mark.parametrize("headers", [[JSON], []])
def test_an_empty_body_passes_unchanged(headers: list[tuple[bytes, bytes]]) -> None:
    upstream = Upstream(chunks=[b""], headers=[*headers, (b"content-length", b"0")])
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY), fields("userId"))
    assert response.status == 200
    assert response.body == b""
    assert response.messages[0] is upstream.sent[0]


def test_a_body_that_is_not_json_answers_502_and_is_not_revealed() -> None:
    upstream = Upstream(chunks=[b'{"secret": "s3", ', b"NaN}"])
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"))
    assert response.status == 502
    assert response.header(b"content-type") == b"application/json"
    assert b"s3" not in response.body
    assert orjson.loads(response.body)["message"].startswith("the response is not valid JSON")


@pytest.mark.parametrize("body", [SECRET_BYTES, b"{"])
def test_nothing_the_app_sends_after_its_last_body_goes_out(body: bytes) -> None:
    # Not valid ASGI, but an app could: what follows the projected (or refused) body is dropped.
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [JSON]})
        await send({"type": "http.response.body", "body": body})
        await send({"type": "http.response.body", "body": SECRET_BYTES})

    response = request(ResponseFieldsMiddleware(app, policy=SECRET_POLICY))
    assert len(response.messages) == 2
    assert SECRET not in response.body


# -- responses without content ------------------------------------------------------------------


def test_head_keeps_the_headers_but_those_a_projected_get_would_not_match() -> None:
    headers = [JSON, (b"content-length", b"%d" % len(TICKET_BYTES)), (b"etag", b'"1"')]
    upstream = Upstream(chunks=[b""], headers=headers)
    response = request(ResponseFieldsMiddleware(upstream), fields("userId"), method="HEAD")
    assert response.status == 200
    assert response.headers == [JSON]
    assert response.body == b""


@pytest.mark.parametrize(
    ("method", "status"), [("GET", 204), ("GET", 304), ("GET", 103), ("HEAD", 200), ("HEAD", 404)]
)
@pytest.mark.parametrize("headers", [[JSON], []])
def test_a_response_without_content_sends_no_body_and_no_length(
    method: str, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    # Whatever the app sends anyway: an HTTP/1.1 client would read it as the next response.
    chunks = [SECRET_BYTES[:9], SECRET_BYTES[9:]]
    length = (b"Content-Length", b"%d" % len(SECRET_BYTES))
    upstream = Upstream(chunks=chunks, status=status, headers=[*headers, length, (b"etag", b"1")])
    middleware = ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY)
    response = drive(middleware, http_scope(fields("name"), method=method))
    assert response.status == status
    assert response.headers == headers
    assert [m.get("body") for m in response.messages[1:]] == [b"", b""]
    assert [m.get("more_body") for m in response.messages[1:]] == [True, False]


def test_head_without_a_projection_is_untouched() -> None:
    headers = [JSON, (b"content-length", b"%d" % len(TICKET_BYTES))]
    upstream = Upstream(chunks=[b""], headers=headers)
    response = request(ResponseFieldsMiddleware(upstream), method="HEAD")
    assert_untouched(upstream, response)


# -- the parameter -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["responseFields", "responsefields", "RESPONSEFIELDS", "ResponseFields"]
)
def test_the_parameter_name_matches_in_any_case(name: str) -> None:
    response = request(ResponseFieldsMiddleware(Upstream()), f"{name}=userId")
    assert response.body == orjson.dumps({"userId": TICKET["userId"]})


def test_another_parameter_name_can_be_configured() -> None:
    app = ResponseFieldsMiddleware(Upstream(), param="fields")
    assert request(app, "fields=userId").body == orjson.dumps({"userId": TICKET["userId"]})
    assert request(app, "responseFields=userId").body == TICKET_BYTES


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("responseFields=customerAccount%28contacts%29", "customerAccount(contacts)"),
        ("responseFields=customerAccount(contacts)", "customerAccount(contacts)"),
        ("responseFields=userId%2CaccessToken", "userId,accessToken"),
        ("responseFields=userId,+accessToken+", "userId,accessToken"),
        ("responseFields=-customerAccount%2Fcontacts", "-customerAccount/contacts"),
        ("x=1&responseFields=userId&y=2", "userId"),
    ],
)
def test_the_value_is_percent_decoded_and_plus_is_a_space(query: str, expression: str) -> None:
    upstream = Upstream()
    response = request(ResponseFieldsMiddleware(upstream), query)
    assert response.body == projection.parse(expression).project(TICKET_BYTES)
    assert upstream.scopes[0]["projection"] == projection.parse(expression)


def test_several_occurrences_are_united() -> None:
    upstream = Upstream()
    response = request(
        ResponseFieldsMiddleware(upstream), "responseFields=userId&RESPONSEFIELDS=accessToken"
    )
    assert orjson.loads(response.body) == {
        "userId": TICKET["userId"],
        "accessToken": TICKET["accessToken"],
    }
    # United, not joined with a comma: each keeps its own exclusions to itself.
    response = request(
        ResponseFieldsMiddleware(upstream), "responseFields=userId&responseFields=-userId"
    )
    assert response.body == TICKET_BYTES


@pytest.mark.parametrize(
    "query",
    ["responseFields=a(", "responseFields=userId&responseFields=a,,b", "responseFields=%60open"],
)
def test_a_malformed_expression_answers_400_with_the_problem_and_never_calls_the_app(
    query: str,
) -> None:
    upstream = Upstream()
    response = request(ResponseFieldsMiddleware(upstream), query)
    faulty = query.rsplit("=", 1)[1].replace("%60", "`")
    with pytest.raises(ExpressionError) as raised:
        projection.parse(faulty)
    error = raised.value
    assert upstream.scopes == []
    assert response.status == 400
    expected = orjson.dumps(
        {"message": error.message, "pos": error.pos, "column": error.column, "expression": faulty}
    )
    assert response.body == expected
    assert response.headers == [JSON, (b"content-length", b"%d" % len(expected))]


def test_an_expression_longer_than_max_length_answers_400() -> None:
    upstream = Upstream()
    response = request(
        ResponseFieldsMiddleware(upstream, max_length=10), fields("userId,accessToken")
    )
    assert upstream.scopes == []
    assert response.status == 400
    assert orjson.loads(response.body)["pos"] == 10
    assert (
        request(ResponseFieldsMiddleware(upstream, max_length=10), fields("userId")).status == 200
    )


def test_repeating_the_parameter_is_no_way_round_max_length() -> None:
    upstream = Upstream()
    middleware = ResponseFieldsMiddleware(upstream, max_length=10)
    response = request(middleware, "&".join(fields(f"key{number}") for number in range(4)))
    assert upstream.scopes == []
    assert response.status == 400
    problem = orjson.loads(response.body)
    assert (problem["expression"], problem["pos"]) == ("key2", 2)


def test_repeating_the_parameter_is_no_way_round_max_items() -> None:
    """Names count together across occurrences: the one that passes 1024 is named."""
    upstream = Upstream()
    middleware = ResponseFieldsMiddleware(upstream)
    # Occurrences of eight two-letter names each: 1024 names in 128, 3,071 characters in all.
    names = ["".join(pair) for pair in itertools.product(string.ascii_letters, repeat=2)]
    texts = [",".join(names[start : start + 8]) for start in range(0, 1040, 8)]
    response = request(middleware, "&".join(fields(text) for text in texts[:128]))
    assert response.status == 200
    response = request(middleware, "&".join(fields(text) for text in texts[:129]))
    assert response.status == 400
    problem = orjson.loads(response.body)
    assert problem["expression"] == texts[128]
    assert problem["pos"] == 0  # its first name is the 1025th
    assert "1024" in problem["message"]


def test_occurrences_are_united_in_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thousand occurrences are united at once: two at a time cost their number squared."""
    unions: list[int] = []
    union = projection._mask.union

    def counted(*masks: Any, **limits: Any) -> Any:
        unions.append(len(masks))
        return union(*masks, **limits)

    monkeypatch.setattr(projection._mask, "union", counted)
    upstream = Upstream()
    names = ["".join(pair) for pair in itertools.product(string.ascii_letters, repeat=2)]
    query = "&".join(map(fields, names[:1000]))
    assert request(ResponseFieldsMiddleware(upstream), query).status == 200
    assert unions == [1000]


@given(st.lists(expressions, min_size=1, max_size=4))
def test_occurrences_united_are_the_union_of_each(texts: list[str]) -> None:
    united = projection._projection.parse_united(texts)
    expected = functools.reduce(operator.or_, map(projection.parse, texts))
    assert united == expected
    assert str(united) == str(expected)


# -- the scope ---------------------------------------------------------------------------------


def test_the_effective_projection_is_in_the_scope_and_the_state() -> None:
    upstream = Upstream()
    scope = http_scope(fields("customerAccount(id)"), state={"lifespan": "kept"})
    drive(ResponseFieldsMiddleware(upstream), scope)
    seen = upstream.scopes[0]
    assert seen["projection"] == projection.parse("customerAccount(id)")
    assert seen["state"] == {"lifespan": "kept", "projection": seen["projection"]}
    assert "projection" not in scope  # the caller's scope is not changed


def test_without_parameter_or_policy_nothing_is_touched() -> None:
    upstream = Upstream()
    scope = http_scope(b"other=1")
    middleware = ResponseFieldsMiddleware(upstream)
    response = drive(middleware, scope)
    assert upstream.scopes[0] is scope
    assert_untouched(upstream, response)


@pytest.mark.parametrize(
    "query", ["responseFields=", "responseFields", "responseFields=*", "responseFields=+*+"]
)
def test_an_expression_keeping_everything_costs_nothing(query: str) -> None:
    upstream = Upstream(chunks=[TICKET_BYTES[:10], TICKET_BYTES[10:]])
    response = request(ResponseFieldsMiddleware(upstream), query)
    assert_untouched(upstream, response)
    assert upstream.scopes[0]["projection"] == projection.parse("")


def test_a_repeated_expression_is_parsed_once() -> None:
    upstream = Upstream()
    middleware = ResponseFieldsMiddleware(upstream, cache_size=1)
    for query in ["responseFields=userId", "responseFields=userId", "responseFields=accessToken"]:
        request(middleware, query)
    first, again, other = (scope["projection"] for scope in upstream.scopes)
    assert again is first
    assert other is not first


def test_file_sending_extensions_are_hidden_from_the_app_while_projecting() -> None:
    extensions: dict[str, Any] = {"http.response.pathsend": {}, "http.response.trailers": {}}
    upstream = Upstream()
    drive(ResponseFieldsMiddleware(upstream), http_scope(fields("userId"), extensions=extensions))
    assert upstream.scopes[0]["extensions"] == {"http.response.trailers": {}}


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_other_scope_types_pass_untouched(kind: str) -> None:
    upstream = Upstream()
    scope = {"type": kind, "asgi": {"version": "3.0"}, "query_string": b"responseFields=a("}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": f"{kind}.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(
        ResponseFieldsMiddleware(upstream, policy=projection.parse("userId"))(scope, receive, send)
    )
    assert upstream.scopes[0] is scope
    assert upstream.sends[0] is send
    assert all(got is sent for got, sent in zip(sent, upstream.sent, strict=True))


# -- the policy --------------------------------------------------------------------------------

POLICY = projection.parse(
    "customerAccount(id,isAnonymous,contacts(address(cityOrTown,countryCode))),userId,"
    "-customerAccount/contacts/address/countryCode"
)


def through_policy(query: str, policy: Any = POLICY) -> Any:
    return orjson.loads(request(ResponseFieldsMiddleware(Upstream(), policy=policy), query).body)


def test_without_the_parameter_the_policy_alone_applies() -> None:
    assert through_policy("") == POLICY.apply(TICKET)
    assert through_policy(fields("")) == POLICY.apply(TICKET)
    assert through_policy(fields("*")) == POLICY.apply(TICKET)


def test_the_client_can_only_narrow_what_the_policy_keeps() -> None:
    contacts = TICKET["customerAccount"]["contacts"]
    assert contacts, "the sample should have contacts"
    assert through_policy(fields("customerAccount(contacts(address))")) == {
        "customerAccount": {
            "contacts": [{"address": {"cityOrTown": c["address"]["cityOrTown"]}} for c in contacts]
        }
    }
    # Fields the policy leaves out stay out, however they are asked for.
    assert through_policy(fields("accessToken,customerAccount(firstName)")) == {
        "customerAccount": {}
    }
    assert through_policy(fields("customerAccount/contacts/address/countryCode")) == {
        "customerAccount": {"contacts": [{"address": {}} for _ in contacts]}
    }
    assert through_policy(fields("*(*(*))")) == POLICY.apply(TICKET)
    assert through_policy(fields("-userId")) == {
        k: v for k, v in POLICY.apply(TICKET).items() if k != "userId"
    }


def test_the_policy_applies_first_and_the_request_narrows_it_in_its_own_key_order() -> None:
    # Either order of "&" keeps the same paths; "request & policy" (the request after the policy)
    # also lets the client choose the key order, as Kibo does: the order of first mention.
    policy = projection.parse("userId,accessToken,customerAccount(id)")
    asked = projection.parse("customerAccount,userId,jwtAccessToken")
    response = request(ResponseFieldsMiddleware(Upstream(), policy=policy), fields(str(asked)))
    expected = {
        "customerAccount": {"id": TICKET["customerAccount"]["id"]},
        "userId": TICKET["userId"],
    }
    assert response.body == orjson.dumps(expected)
    assert response.body == orjson.dumps(asked.apply(policy.apply(TICKET)))
    assert list((policy & asked).apply(TICKET)) == ["userId", "customerAccount"]


def test_a_callable_policy_is_asked_per_request_with_the_scope() -> None:
    asked: list[Scope] = []

    def policy(scope: Scope) -> Projection | None:
        asked.append(scope)
        trusted = (b"x-role", b"staff") in scope["headers"]
        return None if trusted else projection.parse("userId,customerAccount(isAnonymous)")

    middleware = ResponseFieldsMiddleware(Upstream(), policy=policy)
    public = drive(middleware, http_scope(fields("userId,accessToken")))
    assert orjson.loads(public.body) == {"userId": TICKET["userId"]}
    staff = http_scope(fields("userId,accessToken"), headers=[(b"x-role", b"staff")])
    assert orjson.loads(drive(middleware, staff).body) == {
        "userId": TICKET["userId"],
        "accessToken": TICKET["accessToken"],
    }
    bare = drive(middleware, http_scope())
    assert orjson.loads(bare.body) == {
        "userId": TICKET["userId"],
        "customerAccount": {"isAnonymous": TICKET["customerAccount"]["isAnonymous"]},
    }
    assert len(asked) == 3


def test_a_case_insensitive_policy_parses_the_request_the_same_way() -> None:
    policy = projection.parse("userid,accesstoken", case_insensitive=True)
    assert through_policy(fields("USERID"), policy) == {"userId": TICKET["userId"]}


def test_with_a_policy_an_encoded_json_body_answers_502_rather_than_leak() -> None:
    packed = gzip.compress(TICKET_BYTES)
    upstream = Upstream(chunks=[packed], headers=[JSON, (b"content-encoding", b"gzip")])
    response = request(ResponseFieldsMiddleware(upstream, policy=POLICY))
    assert response.status == 502
    assert orjson.loads(response.body) == {
        "message": "cannot apply responseFields to a body with Content-Encoding gzip"
    }
    assert len(response.messages) == 2


def is_within(value: Any, allowed: Any) -> bool:
    """Whether ``value`` keeps nothing that ``allowed`` lacks: keys, elements and leaves."""
    if isinstance(value, dict):
        return isinstance(allowed, dict) and all(
            key in allowed and is_within(item, allowed[key]) for key, item in value.items()
        )
    if isinstance(value, list):
        return (
            isinstance(allowed, list)
            and len(value) == len(allowed)
            and all(is_within(a, b) for a, b in zip(value, allowed, strict=True))
        )
    return bool(value == allowed)


@given(request_text=expressions, policy_text=expressions, document=objects)
def test_a_response_never_holds_a_path_the_policy_leaves_out(
    request_text: str, policy_text: str, document: dict[str, Any]
) -> None:
    policy = projection.parse(policy_text)
    data = orjson.dumps(document)
    upstream = Upstream(chunks=[data], headers=[JSON, (b"content-length", b"%d" % len(data))])
    response = request(ResponseFieldsMiddleware(upstream, policy=policy), fields(request_text))
    body = orjson.loads(response.body)
    assert body == (projection.parse(request_text) & policy).apply(document)
    assert body == projection.parse(request_text).apply(policy.apply(document))
    assert is_within(body, policy.apply(document))
    assert response.header(b"content-length") == b"%d" % len(response.body)


@given(request_text=st.one_of(expressions, st.sampled_from(["*", "customerAccount", "-userId"])))
def test_a_ticket_never_shows_a_path_the_policy_leaves_out(request_text: str) -> None:
    response = request(ResponseFieldsMiddleware(Upstream(), policy=POLICY), fields(request_text))
    body = orjson.loads(response.body)
    assert body == (projection.parse(request_text) & POLICY).apply(TICKET)
    assert is_within(body, POLICY.apply(TICKET))


# -- the policy on every JSON response -----------------------------------------------------------

# Every spelling of a JSON response; None: no Content-Type at all.
JSON_TYPES = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"Application/JSON;Charset=UTF-8",
    b"  application/json  ;charset=utf-8",
    b"text/json",
    b"Text/Json; charset=utf-8",
    b"application/problem+json",
    b"application/vnd.kibo.error+json; version=2",
    None,
]


def case_variants(name: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from([name, name.title(), name.upper()])


def lengths(body: bytes) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """No length header, or ``Content-Length`` and ``Transfer-Encoding`` in any letter case."""
    length = st.tuples(case_variants(b"content-length"), st.just(b"%d" % len(body)))
    chunked = st.tuples(case_variants(b"transfer-encoding"), st.just(b"chunked"))
    return st.lists(st.one_of(length, chunked), max_size=2)


def chunked(body: bytes) -> st.SearchStrategy[list[bytes]]:
    """``body`` cut anywhere into chunks, empty ones included."""
    cuts = st.lists(st.integers(0, len(body)), max_size=6).map(sorted)
    return cuts.map(lambda at: [body[a:b] for a, b in zip([0, *at], [*at, len(body)], strict=True)])


def assert_one_right_length(response: Response) -> None:
    names = [name.lower() for name, _ in response.headers]
    assert names.count(b"content-length") == 1
    assert b"transfer-encoding" not in names
    assert response.header(b"content-length") == b"%d" % len(response.body)


@given(
    status=st.integers(200, 599).filter(lambda status: status not in (204, 304)),
    content_type=st.sampled_from(JSON_TYPES),
    type_name=case_variants(b"content-type"),
    body=st.sampled_from([SECRET_BYTES, orjson.dumps(SECRET_DOCUMENT, option=orjson.OPT_INDENT_2)]),
    data=st.data(),
    asked=st.sampled_from([None, "name", "secret", "secret,id", "*", "-id"]),
)
def test_every_json_response_goes_out_through_the_policy(
    status: int,
    content_type: bytes | None,
    type_name: bytes,
    body: bytes,
    data: st.DataObject,
    asked: str | None,
) -> None:
    typed = [] if content_type is None else [(type_name, content_type)]
    headers = [*typed, *data.draw(lengths(body)), (b"x-kept", b"1")]
    upstream = Upstream(chunks=data.draw(chunked(body)), status=status, headers=headers)
    query = "" if asked is None else fields(asked)
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY), query)
    assert response.status == status
    assert SECRET not in response.body
    # The client's expression narrows successful responses only.
    effective = SECRET_POLICY
    if asked is not None and 200 <= status < 300:
        effective = projection.parse(asked) & SECRET_POLICY
    assert orjson.loads(response.body) == effective.apply(SECRET_DOCUMENT)
    assert_one_right_length(response)
    assert [pair for pair in response.headers if pair[0].lower() != b"content-length"] == [
        *typed,
        (b"x-kept", b"1"),
    ]


@pytest.mark.parametrize(
    "types",
    [
        [b"text/plain", b"application/json"],
        [b"application/json", b"text/html"],
        [b"text/html, application/json"],
        [b"text/plain", b"application/problem+json; charset=utf-8"],
    ],
)
def test_any_content_type_saying_json_makes_it_json(types: list[bytes]) -> None:
    headers = [(b"content-type", value) for value in types]
    upstream = Upstream(chunks=[SECRET_BYTES], status=422, headers=headers)
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY))
    assert response.body == SECRET_POLICY.project(SECRET_BYTES)


NOT_JSON = [
    b'{"secret": "s3cr3t-value", "id": NaN}',
    b'{"id": 7} {"secret": "s3cr3t-value"}',
    b"{id: 7, secret: 's3cr3t-value'}",
    b'\xef\xbb\xbf{"secret": "s3cr3t-value"}',
    '{"secret": "s3cr3t-value"}'.encode("utf-16"),
    '{"secret": "s3cr3t-value"}'.encode("utf-32-be"),
    b'[{"secret": "s3cr3t-value"',
]


@given(
    status=st.sampled_from([200, 201, 302, 400, 404, 409, 422, 500, 503]),
    content_type=st.sampled_from(JSON_TYPES),
    body=st.sampled_from(NOT_JSON),
    data=st.data(),
)
def test_a_json_body_the_policy_cannot_read_answers_502(
    status: int, content_type: bytes | None, body: bytes, data: st.DataObject
) -> None:
    # Typed JSON, or untyped and starting like an object or an array: some client would read it.
    typed = [] if content_type is None else [(b"content-type", content_type)]
    upstream = Upstream(chunks=data.draw(chunked(body)), status=status, headers=typed)
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY))
    assert response.status == 502
    assert SECRET not in response.body
    assert orjson.loads(response.body)["message"].startswith("the response is not valid JSON: ")


@pytest.mark.parametrize("status", [200, 404, 500])
@pytest.mark.parametrize("body", [b"<html>s3cr3t-value</html>", b"s3cr3t-value", b" "])
def test_a_body_claiming_to_be_json_that_is_not_answers_502(status: int, body: bytes) -> None:
    upstream = Upstream(chunks=[body], status=status)
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY))
    assert response.status == 502
    assert SECRET not in response.body


@pytest.mark.parametrize("status", [200, 422, 500])
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([JSON, (b"content-encoding", b"gzip")], "Content-Encoding gzip"),
        ([(b"Content-Encoding", b"GZIP")], "Content-Encoding gzip"),
        ([JSON, (b"content-encoding", b"identity, br")], "Content-Encoding br"),
        ([(b"content-type", b"application/json-seq")], "a JSON sequence"),
        ([(b"content-type", b"application/geo+json-seq")], "a JSON sequence"),
        ([(b"content-type", b"Application/X-NDJSON")], "a JSON sequence"),
    ],
)
def test_with_a_policy_json_it_cannot_read_answers_502_at_any_status(
    status: int, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    upstream = Upstream(chunks=[SECRET_BYTES, b"\n", SECRET_BYTES], status=status, headers=headers)
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY))
    assert response.status == 502
    assert orjson.loads(response.body) == {
        "message": f"cannot apply responseFields to a body with {message}"
    }


@pytest.mark.parametrize("status", [200, 400, 500])
@pytest.mark.parametrize("content_type", [b"text/plain", b"text/html", b"application/jsonx"])
def test_with_a_policy_bodies_of_other_types_pass_byte_for_byte(
    status: int, content_type: bytes
) -> None:
    upstream = Upstream(
        chunks=[b"{", b"}"], status=status, headers=[(b"content-type", content_type)]
    )
    response = request(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY), fields("id"))
    assert_untouched(upstream, response)


@pytest.mark.parametrize("status", [302, 404, 422, 500])
@pytest.mark.parametrize("headers", [[JSON], [(b"content-type", b"text/json")], []])
def test_without_a_policy_other_statuses_pass_byte_for_byte(
    status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    upstream = Upstream(chunks=[SECRET_BYTES], status=status, headers=headers)
    response = request(ResponseFieldsMiddleware(upstream), fields("id"))
    assert_untouched(upstream, response)


def test_a_policy_keeping_everything_leaves_every_response_alone() -> None:
    upstream = Upstream(chunks=[b"{not json"], status=500)
    response = request(ResponseFieldsMiddleware(upstream, policy=projection.parse("*")))
    assert_untouched(upstream, response)


# -- what the app is asked for ------------------------------------------------------------------

WHOLE_BODY_HEADERS = [
    (b"accept-encoding", b"gzip, br"),
    (b"Accept-Encoding", b"gzip"),
    (b"range", b"bytes=0-10"),
    (b"if-range", b'"1"'),
]


@pytest.mark.parametrize(
    ("query", "policy"), [(fields("id"), None), ("", SECRET_POLICY), (fields("id"), SECRET_POLICY)]
)
def test_while_projecting_the_app_is_asked_for_the_whole_body_uncompressed(
    query: str, policy: Projection | None
) -> None:
    upstream = Upstream(chunks=[SECRET_BYTES])
    headers = [(b"x-kept", b"1"), *WHOLE_BODY_HEADERS, (b"accept", b"*/*")]
    drive(ResponseFieldsMiddleware(upstream, policy=policy), http_scope(query, headers=headers))
    assert upstream.scopes[0]["headers"] == [(b"x-kept", b"1"), (b"accept", b"*/*")]


@pytest.mark.parametrize("query", ["", fields(""), fields("*")])
def test_without_projecting_the_app_sees_every_request_header(query: str) -> None:
    upstream = Upstream(chunks=[SECRET_BYTES])
    scope = http_scope(query, headers=WHOLE_BODY_HEADERS)
    drive(ResponseFieldsMiddleware(upstream), scope)
    assert upstream.scopes[0]["headers"] == WHOLE_BODY_HEADERS


def test_a_range_request_cannot_cut_a_secret_value_out_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "customer.json"
    path.write_bytes(SECRET_BYTES)
    start = SECRET_BYTES.index(b'"' + SECRET)
    cut = (b"range", b"bytes=%d-%d" % (start, start + len(SECRET) + 1))
    app = FileResponse(path, media_type="application/json")
    # The attack: a range holding only the secret value, which is valid JSON on its own.
    alone = drive(app, http_scope(headers=[cut]))
    assert (alone.status, alone.body) == (206, b'"' + SECRET + b'"')
    response = drive(ResponseFieldsMiddleware(app, policy=SECRET_POLICY), http_scope(headers=[cut]))
    assert (response.status, response.body) == (200, SECRET_POLICY.project(SECRET_BYTES))


# -- compression, under uvicorn ------------------------------------------------------------------

# Big enough for GZipMiddleware to compress (500 bytes at least), even once projected.
LARGE_DOCUMENT = {
    **SECRET_DOCUMENT,
    "errors": [{"field": f"f{n}", "reason": "x"} for n in range(50)],
}
LARGE_BYTES = orjson.dumps(LARGE_DOCUMENT)


@contextmanager
def serving(app: ASGIApp) -> Iterator[int]:
    """``app`` served by uvicorn on 127.0.0.1 from a thread, for the block; yields the port.

    ``projection.mock.running`` serves only the mock; this serves any app, in process.
    """
    config = uvicorn.Config(app, lifespan="off", ws="none", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
        thread.start()
        try:
            while not server.started:
                assert thread.is_alive(), "uvicorn stopped before serving"
                thread.join(0.01)
            yield listener.getsockname()[1]
        finally:
            server.should_exit = True
            thread.join()


@pytest.mark.parametrize("status", [200, 422])
@pytest.mark.parametrize("query", ["", fields("name,errors,secret")])
def test_a_compressor_inside_leaves_the_body_to_be_projected(status: int, query: str) -> None:
    upstream = Upstream(chunks=[LARGE_BYTES], status=status)
    app = ResponseFieldsMiddleware(GZipMiddleware(upstream), policy=SECRET_POLICY)
    with serving(app) as port:
        reply = call(port, query, headers={"Accept-Encoding": "gzip"})
    assert reply.status == status
    assert "content-encoding" not in reply.headers
    expected = SECRET_POLICY.project(LARGE_BYTES)
    if query and status == 200:
        expected = (projection.parse("name,errors,secret") & SECRET_POLICY).project(LARGE_BYTES)
    assert reply.body == expected
    assert SECRET not in reply.body


@pytest.mark.parametrize("status", [200, 422])
def test_a_compressor_outside_compresses_the_projected_body(status: int) -> None:
    upstream = Upstream(chunks=[LARGE_BYTES], status=status)
    app = GZipMiddleware(ResponseFieldsMiddleware(upstream, policy=SECRET_POLICY))
    with serving(app) as port:
        reply = call(port, headers={"Accept-Encoding": "gzip"})
    assert reply.status == status
    assert reply.headers["content-encoding"] == "gzip"
    assert gzip.decompress(reply.body) == SECRET_POLICY.project(LARGE_BYTES)
    assert len(reply.body) < len(SECRET_POLICY.project(LARGE_BYTES))


# -- rejected expressions ----------------------------------------------------------------------


def counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the middleware parses from now on, in order."""
    parsed: list[str] = []
    parse_united = projection._projection.parse_united

    def counted(texts: Sequence[str], **options: Any) -> Projection:
        parsed.extend(texts)
        return parse_united(texts, **options)

    monkeypatch.setattr(asgi, "parse_united", counted)
    return parsed


def test_a_rejected_expression_is_remembered_like_a_parsed_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = counting_parses(monkeypatch)
    upstream = Upstream()
    middleware = ResponseFieldsMiddleware(upstream, cache_size=2)
    first = request(middleware, fields("a("))
    assert first.status == 400
    assert [request(middleware, fields("a(")).body for _ in range(3)] == [first.body] * 3
    assert parsed == ["a("]
    # The same bound, least recently used first out: two others push it out.
    request(middleware, fields("b("))
    request(middleware, fields("userId"))
    assert request(middleware, fields("a(")).body == first.body
    assert parsed == ["a(", "b(", "userId", "a("]
    assert [scope["query_string"] for scope in upstream.scopes] == [b"responseFields=userId"]


def test_an_expression_over_max_length_is_refused_without_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed = counting_parses(monkeypatch)
    response = request(ResponseFieldsMiddleware(Upstream(), max_length=10), fields("x" * 11))
    assert response.status == 400
    assert parsed == []


@pytest.mark.parametrize("length", [255, 256, 257, 4000])
def test_the_400_body_echoes_at_most_256_characters_of_the_expression(length: int) -> None:
    expression = "a" * (length - 1) + "("
    response = request(ResponseFieldsMiddleware(Upstream()), fields(expression))
    problem = orjson.loads(response.body)
    assert problem["expression"] == expression[:256]
    assert (problem["pos"], problem["column"]) == (length, length + 1)


# -- per route, from an OpenAPI document -------------------------------------------------------

SPEC = OpenAPI.load(Path(__file__).resolve().parent / "fixtures" / "kibo_openapi.json")
ORDER = {
    "id": "o-1",
    "orderNumber": 7,
    "total": 12.5,
    "items": [{"id": "i-1", "product": {"productCode": "P1", "name": "Tent", "price": 12.5}}],
}
ORDER_BYTES = orjson.dumps(ORDER)
CONTACTS_BYTES = orjson.dumps([{"id": 1, "email": "a@example.com", "firstName": "Ada"}] * 2)


def at(path: str, query: str, method: str = "GET") -> Scope:
    return http_scope(query, method, path=path, raw_path=path.encode())


def order_app(**options: Any) -> tuple[Upstream, ResponseFieldsMiddleware]:
    upstream = Upstream(chunks=[ORDER_BYTES])
    return upstream, ResponseFieldsMiddleware(upstream, openapi=SPEC, **options)


def test_names_resolve_against_the_schema_of_the_route_ignoring_case() -> None:
    expression = "TOTAL,Items(PRODUCT(name)),ID"
    _, middleware = order_app()
    response = drive(middleware, at("/api/commerce/orders/o-1", fields(expression)))
    # Spelt as the schema spells them, in the schema's order (id before total).
    expected = projection.parse(expression, schema=SPEC.schema("Order"))
    assert str(expected) == "id,total,items(product(name))"
    assert response.body == expected.project(ORDER_BYTES)
    assert orjson.loads(response.body) == {
        "id": "o-1",
        "total": 12.5,
        "items": [{"product": {"name": "Tent"}}],
    }
    # Without the document, names are matched exactly and in the expression's order.
    plain = drive(
        ResponseFieldsMiddleware(Upstream(chunks=[ORDER_BYTES])), at("/x", fields("total,ID"))
    )
    assert orjson.loads(plain.body) == {"total": 12.5}


def test_a_policy_parsed_without_the_schema_gets_the_route_s() -> None:
    # The policy is parsed once for every route, so without the route's schema; combined with a
    # request parsed with it, the projection keeps that schema, and the schema's key order.
    body = b'{"total":12.5,"orderNumber":7,"id":"o-1","items":[]}'
    other = projection.parse("-items", schema=CustomerAuthTicket)
    for policy in (projection.parse("-items"), other):
        upstream = Upstream(chunks=[body])
        middleware = ResponseFieldsMiddleware(upstream, openapi=SPEC, policy=policy)
        response = drive(middleware, at("/api/commerce/orders/o-1", fields("-orderNumber")))
        effective = upstream.scopes[0]["projection"]
        assert effective.schema is SPEC.schema("Order")
        assert effective == projection.parse("-orderNumber") & policy
        assert response.body == b'{"id":"o-1","total":12.5}'
        # A selection below a field the schema calls a number still applies where the body
        # holds an object there: the route's schema orders the keys, it does not widen a mask.
        upstream = Upstream(chunks=[b'{"total":{"a":1,"b":2},"id":"o-1"}'])
        middleware = ResponseFieldsMiddleware(upstream, openapi=SPEC, policy=policy)
        response = drive(middleware, at("/api/commerce/orders/o-1", fields("id,total(a)")))
        assert response.body == b'{"id":"o-1","total":{"a":1}}'
    # Without the route's schema, the document's order.
    upstream = Upstream(chunks=[body])
    middleware = ResponseFieldsMiddleware(upstream, policy=projection.parse("-items"))
    response = drive(middleware, at("/api/commerce/orders/o-1", fields("-orderNumber")))
    assert upstream.scopes[0]["projection"].schema is None
    assert response.body == b'{"total":12.5,"id":"o-1"}'


def test_an_array_response_resolves_against_its_items_schema() -> None:
    upstream = Upstream(chunks=[CONTACTS_BYTES])
    middleware = ResponseFieldsMiddleware(upstream, openapi=SPEC, strict=True)
    response = drive(middleware, at("/commerce/customer/accounts/3/contacts", fields("EMAIL")))
    assert orjson.loads(response.body) == [{"email": "a@example.com"}] * 2


def strict_problem(expression: str, schema: str) -> Any:
    with pytest.raises(projection.UnknownFieldError) as raised:
        projection.parse(expression, schema=SPEC.schema(schema), strict=True)
    error = raised.value
    return {
        "message": error.message,
        "pos": error.pos,
        "column": error.column,
        "expression": expression,
    }


def test_strict_rejects_an_unknown_name_with_400_and_the_closest_field() -> None:
    upstream, middleware = order_app(strict=True)
    response = drive(middleware, at("/commerce/orders/o-1", fields("id,itemz(id)")))
    assert response.status == 400
    assert response.header(b"content-type") == b"application/json"
    problem = orjson.loads(response.body)
    assert problem == strict_problem("id,itemz(id)", "Order")
    assert (problem["pos"], problem["column"]) == (3, 4)
    assert "'items'" in problem["message"]  # the suggestion
    assert upstream.scopes == []  # the app never ran


def test_each_route_checks_against_its_own_schema() -> None:
    _, middleware = order_app(strict=True)
    # orderNumber is a field of an order, not of a page of orders.
    assert drive(middleware, at("/commerce/orders/1", fields("orderNumber"))).status == 200
    response = drive(middleware, at("/commerce/orders", fields("orderNumber")))
    assert response.status == 400
    assert orjson.loads(response.body) == strict_problem("orderNumber", "OrderCollection")
    assert drive(middleware, at("/commerce/orders", fields("items(orderNumber)"))).status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/not/in/the/document",  # matches no operation
        "/commerce/orders/1/data",  # an operation whose response has no fields (a map)
        "/commerce/orders",  # matches a route, but not with this method
    ],
)
def test_requests_without_a_schema_behave_as_without_a_document(path: str) -> None:
    method = "POST" if path == "/commerce/orders" else "GET"
    _, middleware = order_app(strict=True)
    response = drive(middleware, at(path, fields("ID,total,bogus"), method))
    assert response.status == 200
    assert response.body == projection.parse("ID,total,bogus").project(ORDER_BYTES)


def test_the_policy_still_bounds_what_the_route_s_expression_selects() -> None:
    policy = projection.parse("-total,-items/product/price")
    _, middleware = order_app(policy=policy, strict=True)
    response = drive(middleware, at("/commerce/orders/o-1", fields("TOTAL,id,items")))
    assert orjson.loads(response.body) == {
        "id": "o-1",
        "items": [{"id": "i-1", "product": {"productCode": "P1", "name": "Tent"}}],
    }
    # Unknown names are refused before the policy is consulted.
    assert drive(middleware, at("/commerce/orders/o-1", fields("totl"))).status == 400


def test_each_route_s_expression_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = counting_parses(monkeypatch)
    _, middleware = order_app(strict=True)
    for _ in range(3):
        for path in ("/commerce/orders/1", "/api/commerce/orders/2", "/commerce/carts/c"):
            drive(middleware, at(path, fields("id")))
        drive(middleware, at("/commerce/orders", fields("idd")))
    # Once for the schema of an order (whatever the order), once for a cart's, once for the
    # rejection against a page of orders.
    assert parsed == ["id", "id", "idd"]


def test_strict_needs_a_document() -> None:
    with pytest.raises(ValueError, match="openapi="):
        ResponseFieldsMiddleware(Upstream(), strict=True)


def test_per_route_validation_over_a_real_socket() -> None:
    routes = {
        "/api/commerce/orders/o-1": ORDER_BYTES,
        "/api/commerce/customer/accounts/3/contacts": CONTACTS_BYTES,
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = routes[scope["path"]]
        await send({"type": "http.response.start", "status": 200, "headers": [JSON]})
        await send({"type": "http.response.body", "body": body})

    with serving(ResponseFieldsMiddleware(app, openapi=SPEC, strict=True)) as port:
        order = call(port, fields("Items(Product(Name)),ID"), path="/api/commerce/orders/o-1")
        contacts = call(
            port, fields("firstname"), path="/api/commerce/customer/accounts/3/contacts"
        )
        refused = call(port, fields("id,itemz"), path="/api/commerce/orders/o-1")
    assert (order.status, order.json()) == (
        200,
        {"id": "o-1", "items": [{"product": {"name": "Tent"}}]},
    )
    assert contacts.json() == [{"firstName": "Ada"}] * 2
    assert refused.status == 400
    assert refused.json() == strict_problem("id,itemz", "Order")


def _answering(*messages: Message) -> ASGIApp:
    """An app that sends ``messages`` as they are."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    return app


TRAILERS: Message = {
    "type": "http.response.trailers",
    "headers": [(b"x-checksum", b"1")],
    "more_trailers": False,
}


@pytest.mark.parametrize(
    ("body", "through"), [(TICKET_BYTES, True), (b'{"accessToken": "x",', False)]
)
def test_trailers_follow_a_projected_body_not_an_error_sent_in_its_place(
    body: bytes, through: bool
) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [JSON], "trailers": True}
    end = {"type": "http.response.body", "body": body, "more_body": False}
    app = ResponseFieldsMiddleware(_answering(start, end, TRAILERS))
    messages = drive(app, at("/x", fields("accessToken"))).messages
    assert (messages[-1] == TRAILERS) is through
    assert [m["type"] for m in messages].count("http.response.trailers") == int(through)


def test_a_response_without_content_ends_where_its_body_does() -> None:
    start = {"type": "http.response.start", "status": 204, "headers": [JSON]}
    app = ResponseFieldsMiddleware(_answering(start, {"type": "http.response.body"}))
    messages = drive(app, at("/x", fields("accessToken"))).messages
    assert messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
