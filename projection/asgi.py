"""The gateway middleware: trims JSON responses to the ``responseFields`` a client asks for.

The effective projection is ``request & policy``: the client can only narrow what the policy keeps.
It is put in the scope for the app; successful identity-encoded JSON responses are projected, a
malformed expression answers 400 before the app runs, and anything else passes through untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qsl

import orjson

from ._errors import ExpressionError, PayloadError, ProjectionLimitError
from ._tree import Projection, parse

__all__ = ["ResponseFieldsMiddleware"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
Policy: TypeAlias = Projection | Callable[[Scope], Projection | None] | None

# Responses sent from a file never pass through ``send`` as bytes, so they could not be projected;
# without these extensions in the scope, apps (Starlette's FileResponse) send the body as messages.
_FILE_EXTENSIONS: Final = frozenset({"http.response.pathsend", "http.response.zerocopysend"})
_LENGTH_HEADERS: Final = frozenset({b"content-length", b"transfer-encoding"})
# The 400 body echoes no more of the expression than this: the answer stays small.
_ECHO: Final = 256


class ResponseFieldsMiddleware:
    """Pure ASGI 3 middleware applying ``responseFields`` (and a policy) to JSON responses.

    - The parameter ``param`` is read from the query string, percent-decoded (``+`` is a space),
      its name matched ignoring case. Given several times, the expressions are united (``|``):
      each is parsed on its own, so an error points into the one at fault.
    - ``policy``: a ``Projection``, or a callable taking the scope and returning one (or ``None``).
      The effective projection is ``request & policy``, the policy alone without the parameter, so
      a client never sees a field the policy leaves out. Requests are parsed with the policy's
      ``case_insensitive`` flag, so the two compose.
    - A malformed expression, or one longer than ``max_length``, answers 400 with the JSON body
      ``{"message", "pos", "column", "expression"}`` (the expression cut to its first 256
      characters) and the app is never called. Rejections are cached like parsed expressions.
    - The app finds the effective projection in ``scope["projection"]`` and, for Starlette and
      FastAPI, ``request.state.projection``; without parameter and policy the scope is untouched.
    - Projected: 2xx responses of type ``application/json`` or ``*/*+json`` without
      ``Content-Encoding`` (or ``identity``), buffered to the end and given the right
      ``Content-Length``; a body that is not valid JSON answers 502, since passing it on could
      reveal what the projection removes. With a policy, an encoded JSON response answers 502 for
      the same reason: put compression outside this middleware. An empty body passes unchanged.
    - HEAD responses keep their (empty) body but lose a ``Content-Length`` that a projected GET
      would not match. Everything else (other statuses, types, scopes, expressions that keep the
      whole document) passes through byte for byte, unbuffered.

    ``cache_size`` bounds the cache of parsed and combined projections and of rejections.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        param: str = "responseFields",
        policy: Policy = None,
        max_length: int = 4096,
        cache_size: int = 1024,
    ) -> None:
        self.app = app
        self.param = param
        self.policy = policy
        self.max_length = max_length
        self._name = param.casefold()
        # Keyed by the request's expressions and the policy: a hit gives a projection already
        # combined, and compiled since its first use, or the 400 body of a rejected expression,
        # so a repeated request parses nothing, whether its expression is good or bad.
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
        plan = _problem(too_long) if too_long else self._plans(expressions, policy)
        if isinstance(plan, bytes):
            await _answer(send, 400, plan)
            return
        projection, keeps_all = plan
        scope = {**scope, "projection": projection}
        scope.setdefault("state", {})["projection"] = projection
        if keeps_all:
            # ``project`` would return the body itself: no need to hold anything back.
            await self.app(scope, receive, send)
            return
        extensions = scope.get("extensions")
        if extensions and not _FILE_EXTENSIONS.isdisjoint(extensions):
            scope["extensions"] = {
                name: value for name, value in extensions.items() if name not in _FILE_EXTENSIONS
            }
        responder = _Responder(self.app, projection, guarded=policy is not None)
        await responder(scope, receive, send)

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

    def _plan(
        self, expressions: tuple[str, ...], policy: Projection | None
    ) -> tuple[Projection, bool] | bytes:
        """The effective projection and whether it keeps the whole document, or a 400 body."""
        fold = policy is not None and policy.case_insensitive
        requested: Projection | None = None
        for text in expressions:
            try:
                parsed = parse(text, case_insensitive=fold, max_length=self.max_length)
            except ExpressionError as error:
                # The body, not the error: a cached error would keep its traceback's frames alive.
                return _problem(error)
            requested = parsed if requested is None else requested | parsed
        if requested is None:
            assert policy is not None
            effective = policy
        else:
            effective = requested if policy is None else requested & policy
        return effective, str(effective) == ""


class _Responder:
    """One response: holds back its start, buffers a projectable body, sends it projected."""

    def __init__(self, app: ASGIApp, projection: Projection, *, guarded: bool) -> None:
        self.app = app
        self.projection = projection
        self.guarded = guarded
        self.send: Send
        self.head = False
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.mode = "decide"  # then "pass", "hold" or "discard"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.send = send
        self.head = scope.get("method") == "HEAD"
        await self.app(scope, receive, self.send_projected)

    async def send_projected(self, message: Message) -> None:
        if self.mode == "pass":
            await self.send(message)
        elif self.mode == "decide":
            await self.decide(message)
        elif self.mode == "hold" and message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self.finish()
        elif self.mode == "hold":
            await self.send(message)
        # "discard": the app's response was replaced by an error; the rest of it goes nowhere.

    async def decide(self, start: Message) -> None:
        headers = {name.lower(): value for name, value in start.get("headers", ())}
        status = start["status"]
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        encoded = encoding not in (b"", b"identity")
        projectable = 200 <= status < 300 and _is_json(headers.get(b"content-type", b""))
        if not projectable or (encoded and not self.guarded):
            self.mode = "pass"
            await self.send(start)
        elif self.head:
            self.mode = "pass"
            await self.send(_without_length(start))
        elif encoded:
            self.mode = "discard"
            name = encoding.decode("latin-1")
            message = f"cannot apply responseFields to a body with Content-Encoding {name}"
            await _answer(self.send, 502, orjson.dumps({"message": message}))
        else:
            self.mode = "hold"
            self.start = start

    async def finish(self) -> None:
        assert self.start is not None
        self.mode = "pass"
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
            message = f"the response is not valid JSON: {error}"
            await _answer(self.send, 502, orjson.dumps({"message": message}))
            return
        start = _without_length(self.start)
        start["headers"].append((b"content-length", b"%d" % len(body)))
        await self.send(start)
        await self.send({"type": "http.response.body", "body": body})


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (b"/" in media and media.endswith(b"+json"))


def _without_length(start: Message) -> Message:
    """``start`` with a fresh header list lacking ``Content-Length`` and ``Transfer-Encoding``."""
    headers = [pair for pair in start.get("headers", ()) if pair[0].lower() not in _LENGTH_HEADERS]
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


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
