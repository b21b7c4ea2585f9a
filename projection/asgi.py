"""The gateway middleware: trims JSON responses to a policy and to the client's ``responseFields``.

The policy covers every JSON response, whatever its status; the client's expression narrows the
successful ones (``request & policy``), so a client never sees what the policy leaves out. A body
that should be projected but cannot be answers 502, a malformed expression 400 before the app runs;
responses that are not JSON pass through untouched. Given an OpenAPI document, names resolve
against the response schema of the operation a request matches.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias
from urllib.parse import parse_qsl

import orjson

from . import _schema
from ._errors import ExpressionError, PayloadError, ProjectionLimitError
from ._projection import Projection, mask_of, parse_united
from ._schema import Schema

if TYPE_CHECKING:
    from .openapi import OpenAPI

__all__ = ["ResponseFieldsMiddleware"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
Policy: TypeAlias = Projection | Callable[[Scope], Projection | None] | None
Headers: TypeAlias = Iterable[tuple[bytes, bytes]]

# Responses sent from a file never pass through ``send`` as bytes, so they could not be projected;
# without these extensions in the scope, apps (Starlette's FileResponse) send the body as messages.
_FILE_EXTENSIONS: Final = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
# Request headers that let the app answer with something other than the whole representation in
# plain bytes: a compressed body or a byte range cannot be projected, and a range of a JSON
# document can be a secret value on its own that parses as JSON.
_WHOLE_BODY: Final = frozenset({b"accept-encoding", b"range", b"if-range"})
# Headers that describe the body's bytes: the projected body's differ, and a validator or digest
# of the whole body (an ETag most apps derive from it) would let a client test guesses at what
# the projection removed, a short secret in a few thousand tries.
_BODY_HEADERS: Final = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"etag",
        b"content-md5",
        b"digest",
        b"content-digest",
        b"repr-digest",
    }
)
# The JSON MIME types of the WHATWG MIME Sniffing standard, plus any ``*/*+json``.
_JSON_TYPES: Final = frozenset({b"application/json", b"text/json"})
# Several JSON texts in one body: not one document ``project`` can read, but JSON objects all the
# same, so a policy must not let them pass.
_SEQUENCE_TYPES: Final = frozenset(
    {
        b"application/json-seq",
        b"application/x-ndjson",
        b"application/ndjson",
        b"application/jsonl",
        b"application/x-jsonl",
        b"application/jsonlines",
        b"application/x-jsonlines",
    }
)
# What may come before the first token of a JSON text as some client decodes it: white space,
# byte order marks, and the zero bytes of UTF-16 and UTF-32.
_LEADING: Final = b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"
# The 400 body echoes no more of the expression than this: the answer stays small.
_ECHO: Final = 256

_Kind: TypeAlias = Literal["json", "sequence", "untyped", "other"]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one request's responses get."""

    projection: Projection  # for 2xx responses: ``request & policy``
    guard: Projection | None  # for every response: the policy, unless it keeps everything
    keeps_all: bool  # both keep the whole document: nothing to do


class ResponseFieldsMiddleware:
    """Pure ASGI 3 middleware applying ``responseFields`` (and a policy) to JSON responses.

    - The parameter ``param`` is read from the query string, percent-decoded (``+`` is a space),
      its name matched ignoring case. Given several times, the expressions are united (``|``):
      each is parsed on its own, so an error points into the one at fault, and the limits hold
      for all of them together (``max_length`` characters, 1024 names).
    - ``policy``: a ``Projection``, or a callable taking the scope and returning one (or ``None``).
      It projects every JSON response, whatever its status; a 2xx response gets ``request &
      policy``, so a client never sees a field the policy leaves out. Requests are parsed with the
      policy's ``case_insensitive`` flag, so the two compose. Without a policy, only 2xx JSON
      responses are projected, by the client's expression.
    - ``openapi``: an ``OpenAPI`` document. A request whose method and path match one of its
      operations (``OpenAPI.match``) has its expression resolved against the fields of that
      operation's response schema (the items' for an array): names match ignoring case, as Kibo's
      do, and are written as the schema spells them, in its order; ``request & policy`` keeps
      that schema, whether the policy was parsed without it or with another. With ``strict``, a
      name the schema lacks is rejected, with the closest field suggested. Requests that match no
      operation, or one without such a schema, are parsed as without a document.
    - A malformed expression, one longer than ``max_length``, or (``strict``) one naming an
      unknown field answers 400 with the JSON body ``{"message", "pos", "column",
      "expression"}`` (the expression cut to its first 256 characters) and the app is never
      called. Rejections are cached like parsed expressions.
    - The app finds the effective projection in ``scope["projection"]`` and, for Starlette and
      FastAPI, ``request.state.projection``; without parameter and policy the scope is untouched.
    - A JSON response is one whose ``Content-Type`` (any of them, compared ignoring case and
      parameters) is ``application/json``, ``text/json`` or ``*/*+json``, or, without a
      ``Content-Type``, one whose body starts like a JSON object or array (after white space, byte
      order marks and zero bytes); an untyped body that starts otherwise cannot hold an object and
      streams through unchanged. A JSON body is buffered to the end and sent projected with the
      right ``Content-Length``, without the app's ``ETag`` and digests (``Content-MD5``,
      ``Digest``, ``Content-Digest``, ``Repr-Digest``), which describe the whole body and would
      let a client check guesses at what was removed; an empty one passes unchanged.
    - When a response should be projected and cannot be, it answers 502, since passing it on could
      reveal what the projection removes: a body that is not valid JSON, or, when a policy is
      set, a JSON or untyped body with a ``Content-Encoding``, or a JSON sequence
      (``application/json-seq``, ``*/*+json-seq``, NDJSON). Without a policy, these pass untouched.
    - While projecting, the app does not see the request's ``Accept-Encoding``, ``Range`` and
      ``If-Range``: a compressor inside this middleware leaves the body alone, one outside it
      compresses the projected body.
    - Responses without content (HEAD, 1xx, 204, 304) that would be projected lose their
      ``Content-Length``, ``ETag`` and digests, which a projected body would not match, and any
      body the app sends.
      Everything else (other types, statuses without a policy, scopes, expressions that keep the
      whole document) passes through byte for byte, unbuffered.

    ``cache_size`` bounds the cache of parsed and combined projections and of rejections, kept
    per response schema. A document that cannot build the schema of a matched operation (a
    ``$ref`` that points nowhere) raises its ``OpenAPIError`` to the server, for that request.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        param: str = "responseFields",
        policy: Policy = None,
        openapi: OpenAPI | None = None,
        strict: bool = False,
        max_length: int = 4096,
        cache_size: int = 1024,
    ) -> None:
        if strict and openapi is None:
            raise ValueError("strict=True needs openapi=, the document to check names against")
        self.app = app
        self.param = param
        self.policy = policy
        self.openapi = openapi
        self.strict = strict
        self.max_length = max_length
        self._name = param.casefold()
        # Keyed by the request's expressions, the policy and the response schema: a hit gives a
        # projection already combined, and compiled since its first use, or the 400 body of a
        # rejected expression, so a repeated request parses nothing, whether its expression is
        # good or bad.
        self._plans = functools.lru_cache(maxsize=cache_size)(self._plan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        expressions = self._expressions(scope.get("query_string", b""))
        policy = self.policy(scope) if callable(self.policy) else self.policy
        if not expressions and policy is None:
            await self.app(scope, receive, send)
            return
        # Checked before the cache, which then holds no key longer than ``max_length``.
        too_long = self._too_long(expressions)
        if too_long:
            plan: _Plan | bytes = _problem(too_long)
        else:
            schema = self._schema(scope) if expressions and self.openapi is not None else None
            plan = self._plans(expressions, policy, schema)
        if isinstance(plan, bytes):
            await _answer(send, 400, plan)
            return
        scope = {**scope, "projection": plan.projection}
        scope.setdefault("state", {})["projection"] = plan.projection
        if plan.keeps_all:
            await self.app(scope, receive, send)
            return
        scope["headers"] = [
            pair for pair in scope.get("headers", ()) if pair[0].lower() not in _WHOLE_BODY
        ]
        extensions = scope.get("extensions")
        if extensions and not _FILE_EXTENSIONS.isdisjoint(extensions):
            scope["extensions"] = {
                name: value for name, value in extensions.items() if name not in _FILE_EXTENSIONS
            }
        await _Responder(self.app, plan, head=scope.get("method") == "HEAD")(scope, receive, send)

    def _expressions(self, query_string: bytes) -> tuple[str, ...]:
        if not query_string:
            return ()
        # Invalid UTF-8, raw or percent-encoded, becomes U+FFFD: a name like any other.
        query = query_string.decode("utf-8", "replace")
        pairs = parse_qsl(query, keep_blank_values=True, errors="replace")
        return tuple(value for name, value in pairs if name.casefold() == self._name)

    def _too_long(self, expressions: tuple[str, ...]) -> ProjectionLimitError | None:
        # The limit holds for all occurrences together: repeating the parameter is no way round.
        total = 0
        for text in expressions:
            total += len(text)
            if total > self.max_length:
                return ProjectionLimitError(
                    f"the expressions are longer than {self.max_length} characters together",
                    text,
                    len(text) - (total - self.max_length),
                )
        return None

    def _schema(self, scope: Scope) -> Schema | None:
        """The Struct type of the response of the operation the request matches, if any."""
        assert self.openapi is not None
        operation = self.openapi.match(scope.get("method", "GET"), scope.get("path", ""))
        if operation is None or operation.schema is None:
            return None
        return self.openapi.schema(operation.schema)

    def _plan(
        self, expressions: tuple[str, ...], policy: Projection | None, schema: Schema | None
    ) -> _Plan | bytes:
        """The plan for these expressions, policy and schema, or the 400 body rejecting an
        expression."""
        case_insensitive = policy is not None and policy.case_insensitive
        strict = self.strict and schema is not None
        requested: Projection | None = None
        if expressions:
            try:
                requested = parse_united(
                    expressions,
                    case_insensitive=case_insensitive,
                    schema=schema,
                    strict=strict,
                    max_length=self.max_length,
                )
            except ExpressionError as error:
                # The body, not the error: a cached error would keep its traceback's frames alive.
                return _problem(error)
        guard = None if policy is None or _keeps_all(policy) else policy
        if requested is None:
            assert policy is not None
            effective = policy
        else:
            effective = requested if policy is None else requested & policy
        if schema is not None and effective.schema is not schema:
            # A policy is made once for every route, without a route's schema or with another,
            # and ``&`` keeps only a schema both sides share: the route's describes the response,
            # so the effective projection takes it, for its key order (rule 8) and typed paths.
            # Its mask stays as it is, names and all: the schema orders what it keeps.
            mask = _schema.fit(mask_of(effective), schema, strict=False)
            effective = Projection(mask, case_insensitive=case_insensitive, schema=schema)
        return _Plan(effective, guard, guard is None and _keeps_all(effective))


class _Responder:
    """One response: decides from its start whether to project it, then does so."""

    def __init__(self, app: ASGIApp, plan: _Plan, *, head: bool) -> None:
        self.app = app
        self.plan = plan
        self.head = head
        self.send: Send
        self.projection = plan.projection
        self.start: Message = {}
        self.chunks: list[bytes] = []
        # "decide", then one of: "pass" (untouched), "sniff" (untyped: look for the first token),
        # "hold" (buffer, then project), "empty" (no content: drop any body); after "hold",
        # "done" (the body is out: more would be unprojected) or "discard" (an error went out in
        # the response's place: the rest of it goes nowhere).
        self.mode = "decide"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.send = send
        await self.app(scope, receive, self.send_projected)

    async def send_projected(self, message: Message) -> None:
        if self.mode == "pass":
            await self.send(message)
        elif self.mode == "decide":
            await self.decide(message)
        elif message["type"] != "http.response.body":
            if self.mode != "discard":
                await self.send(message)
        elif self.mode == "empty":
            more = message.get("more_body", False)
            await self.send({"type": "http.response.body", "body": b"", "more_body": more})
        elif self.mode == "sniff":
            await self.sniff(message)
        elif self.mode == "hold":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self.finish()
        # "done" and "discard" drop what body comes.

    async def decide(self, start: Message) -> None:
        status: int = start["status"]
        headers: list[tuple[bytes, bytes]] = list(start.get("headers", ()))
        projection = self.plan.projection if 200 <= status < 300 else self.plan.guard
        kind = _kind(headers)
        encoding = _encoding(headers)
        if projection is None or kind == "other":
            self.mode = "pass"
            await self.send(start)
        elif self.head or status < 200 or status in (204, 304):
            # No content by definition (RFC 9110 6.4.1): the length would be the unprojected
            # one, and bytes sent anyway could be read as the next response.
            self.mode = "empty"
            await self.send(_unsized(start))
        elif kind == "sequence" or encoding:
            if self.plan.guard is None:
                self.mode = "pass"
                await self.send(start)
            else:
                self.mode = "discard"
                what = f"Content-Encoding {encoding}" if encoding else "a JSON sequence"
                await _refuse(self.send, f"cannot apply responseFields to a body with {what}")
        else:
            self.mode = "hold" if kind == "json" else "sniff"
            self.projection = projection
            self.start = start

    async def sniff(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        self.chunks.append(body)
        token = body.lstrip(_LEADING)[:1]
        if token in (b"{", b"["):
            self.mode = "hold"
            if not more:
                await self.finish()
        elif token or not more:
            # Neither an object nor an array, so nothing the projection could remove: the body
            # streams on as it comes.
            self.mode = "pass"
            await self.send(self.start)
            held = b"".join(self.chunks)
            self.chunks = []
            await self.send({"type": "http.response.body", "body": held, "more_body": more})

    async def finish(self) -> None:
        self.mode = "done"
        body = b"".join(self.chunks)
        self.chunks = []
        if not body:
            await self.send(self.start)
            await self.send({"type": "http.response.body", "body": b""})
            return
        try:
            body = self.projection.project(body)
        except PayloadError as error:
            self.mode = "discard"
            await _refuse(self.send, f"the response is not valid JSON: {error}")
            return
        start = _unsized(self.start)
        start["headers"].append((b"content-length", b"%d" % len(body)))
        await self.send(start)
        await self.send({"type": "http.response.body", "body": body})


def _keeps_all(projection: Projection) -> bool:
    return str(projection) == ""


def _values(headers: Headers, name: bytes) -> list[bytes]:
    """The comma-separated items of every ``name`` header, stripped and lowercased."""
    return [
        item.strip().lower()
        for key, value in headers
        if key.lower() == name
        for item in value.split(b",")
    ]


def _kind(headers: Headers) -> _Kind:
    """What the ``Content-Type`` headers say; JSON wins over anything else they say too."""
    media = [item.split(b";", 1)[0].strip() for item in _values(headers, b"content-type")]
    media = [item for item in media if item]
    if not media:
        return "untyped"
    if any(item in _JSON_TYPES or (b"/" in item and item.endswith(b"+json")) for item in media):
        return "json"
    if any(item in _SEQUENCE_TYPES or item.endswith(b"+json-seq") for item in media):
        return "sequence"
    return "other"


def _encoding(headers: Headers) -> str:
    """The content codings applied to the body, ``""`` for none."""
    codings = [item for item in _values(headers, b"content-encoding") if item != b"identity"]
    return b", ".join(item for item in codings if item).decode("latin-1")


def _unsized(start: Message) -> Message:
    """``start`` with a fresh header list lacking the headers that describe the body's bytes."""
    headers = [pair for pair in start.get("headers", ()) if pair[0].lower() not in _BODY_HEADERS]
    return {**start, "headers": headers}


def _problem(error: ExpressionError) -> bytes:
    return orjson.dumps(
        {
            "message": error.message,
            "pos": error.pos,
            "column": error.column,
            "expression": error.expression[:_ECHO],
        }
    )


async def _refuse(send: Send, message: str) -> None:
    await _answer(send, 502, orjson.dumps({"message": message}))


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
