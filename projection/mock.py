"""A mock of Kibo's REST API: an ASGI app honouring responseFields, that Kibo's SDKs can talk to.

``create_app()`` serves anonymous-shopper auth tickets, application tokens and the tenant lookup,
and from an OpenAPI document every GET resource; errors are Kibo-style JSON. ``projection mock``
serves it with uvicorn; ``running()`` in a child process for the length of a ``with`` block.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import os
import random
import re
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Final, NamedTuple
from urllib.parse import parse_qsl

import msgspec

from ._errors import OpenAPIError
from .asgi import ASGIApp, Message, Receive, ResponseFieldsMiddleware, Scope, Send
from .kibo import anonymous_authtickets

if TYPE_CHECKING:
    from .openapi import OpenAPI, Operation

__all__ = ["RunningServer", "create_app", "running"]

_TICKET: Final = re.compile(r"(?:/api)?/commerce/customer/authtickets/anonymousshopper", re.I)
_OAUTH: Final = re.compile(r"(?:/api)?/platform/applications/authtickets/oauth", re.I)
_TENANT: Final = re.compile(r"(?:/api)?/platform/tenants/([^/]+)", re.I)
_JSON: Final = (b"content-type", b"application/json; charset=utf-8")
# An application's access token lives an hour, as Kibo's do; its refresh token a day.
_ACCESS_SECONDS: Final = 3600
_REFRESH_SECONDS: Final = 86400
_MOST_BODY: Final = 64 * 1024  # of a token request: credentials, nothing more
_FORM: Final = b"application/x-www-form-urlencoded"


def create_app(
    *,
    token: str | None = None,
    seed: int = 0,
    openapi: OpenAPI | None = None,
    client_id: str | None = None,
    shared_secret: str | None = None,
) -> ASGIApp:
    """The mock server as an ASGI app.

    Routes (paths match ignoring case, with or without ``/api``, as Kibo's do):

    - ``POST /api/platform/applications/authtickets/oauth``: an application token for the JSON
      (or form) body ``client_id``, ``client_secret`` (``grant_type`` is not checked) and, to
      refresh, a ``refresh_token`` this server issued. Only ``client_id`` and ``shared_secret``
      get one when they are given; other credentials answer 401.
    - ``GET /api/platform/tenants/{tenantId}``: the tenant, its ``domain`` and its sites'
      the host and port the request came to (its ``Host`` header), so an SDK that looks its
      tenant up sends its API calls back here.
    - ``GET /commerce/customer/authtickets/anonymousshopper``: a new anonymous shopper's ticket,
      issued now. The n-th ticket is fixed by ``seed`` and the time (``anonymous_authtickets``).
    - With ``openapi``, every GET operation of the document whose successful response is JSON: a
      generated document of the response's type, the same for the same ``seed``, path and page
      (``startIndex``, ``pageSize``); fields named like a path parameter (and an object's ``id``,
      for the last one) hold its value; collections hold a few items with counts that agree.
      Names in ``responseFields`` resolve against the operation's schema.

    Every route but the token's needs ``Authorization: Bearer <token>``: any token, or only
    ``token`` when given, or one the token route issued (401 otherwise). ``HEAD`` answers like
    ``GET`` without a body; other methods 405, other paths 404, a bad ``responseFields`` 400.
    """
    return _Mock(
        token=token, seed=seed, openapi=openapi, client_id=client_id, shared_secret=shared_secret
    )


class _Mock:
    """The app ``create_app`` makes: routes each request, checks its token, answers it."""

    def __init__(
        self,
        *,
        token: str | None,
        seed: int,
        openapi: OpenAPI | None,
        client_id: str | None,
        shared_secret: str | None,
    ) -> None:
        self.seed = seed
        self.tickets = anonymous_authtickets(seed=seed)
        self.encode = msgspec.json.Encoder().encode
        self.expected = None if token is None else token.encode("utf-8")
        self.issuer = _Issuer(client_id, shared_secret)
        self.documents = None if openapi is None else _Documents(openapi, seed)
        # Every answer goes through the middleware, which honours responseFields.
        self.routes: dict[str, ASGIApp] = {
            name: ResponseFieldsMiddleware(answer, openapi=openapi)
            for name, answer in (
                ("ticket", self.ticket),
                ("tenant", self.tenant),
                ("grant", self.grant),
                ("document", self.document),
            )
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] != "http":
            return  # no websockets here: the server refuses the handshake
        elif _OAUTH.fullmatch(scope["path"]):
            await self.token_request(scope, receive, send)
        else:
            await self.resource_request(scope, receive, send)

    async def token_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST .../authtickets/oauth``: an application token, or why not."""
        if scope["method"] != "POST":
            await _not_allowed(send, scope, "POST", "AppDev")
            return
        outcome = await self.issuer.grant(receive, scope)
        if isinstance(outcome, _Refusal):
            await _error(send, scope, *outcome, application="AppDev")
            return
        answer = _kibo_refusals(send, scope, "AppDev")
        await self.routes["grant"]({**scope, "mock.found": outcome}, receive, answer)

    async def resource_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Any other request: its route's answer, once its method and its token are checked."""
        path, method = scope["path"], scope["method"]
        route, found = _route(path, method, self.documents)
        if route is None:
            message = f"No resource was found at {path}."
            await _error(send, scope, 404, "NOT_FOUND", message, {"path": path})
        elif method not in ("GET", "HEAD"):
            await _not_allowed(send, scope, "GET, HEAD")
        elif not _authorized(scope, self.expected, self.issuer):
            message = "Missing or invalid access token: send Authorization: Bearer <token>."
            challenge = [(b"www-authenticate", b"Bearer")]
            data = {"header": "Authorization"}
            await _error(send, scope, 401, "UNAUTHORIZED", message, data, challenge)
        elif isinstance(found, _Refusal):
            await _error(send, scope, *found)
        else:
            answer = _kibo_refusals(send, scope, "Customer")
            await self.routes[route]({**scope, "mock.found": found}, receive, answer)

    # -- the answers, each under the middleware ---------------------------------------------------

    async def ticket(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, scope, 200, self.encode(next(self.tickets)))

    async def tenant(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.encode(_tenant(scope["mock.found"], _host(scope), self.seed))
        await _send(send, scope, 200, body)

    async def grant(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _send(send, scope, 200, self.encode(scope["mock.found"]))

    async def document(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.documents is not None
        await _send(send, scope, 200, self.documents.body(scope["mock.found"], scope))


def _route(path: str, method: str, documents: _Documents | None) -> tuple[str | None, Any]:
    """Which route serves ``path``, and what it needs: a tenant id, an operation, or a refusal."""
    if _TICKET.fullmatch(path):
        return "ticket", None
    tenant = _TENANT.fullmatch(path)
    if tenant:
        number = tenant.group(1)
        if not number.isascii() or not number.isdigit() or int(number) >= 2**31:
            return None, None  # Kibo's tenant ids are 32-bit integers: no route for the rest
        return "tenant", int(number)
    if documents is None:
        return None, None
    return documents.route(path, method)


def _authorized(scope: Scope, expected: bytes | None, issuer: _Issuer) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            credentials = credentials.strip()
            if scheme.lower() != b"bearer" or not credentials:
                return False
            # Constant time, so a mock exposed on a network does not leak its token by timing.
            if expected is None or hmac.compare_digest(credentials, expected):
                return True
            return issuer.valid(credentials, "access")
    return False


def _host(scope: Scope) -> str:
    """Where the request was sent, as its ``Host`` header says (``host:port``)."""
    for name, value in scope["headers"]:
        if name == b"host" and value:
            return str(value.decode("latin-1"))
    host, port = scope.get("server") or ("127.0.0.1", 80)
    return f"{host}:{port}"


# -- application tokens -----------------------------------------------------------------------


class _Refusal(NamedTuple):
    """An error answer: status, Kibo error code, message, additional data."""

    status: int
    code: str
    message: str
    data: dict[str, str]


class _Issuer:
    """Issues application tokens and checks them: each signs what it says (which client, until
    when) with a key of this server's, so they cost no memory, however many are issued."""

    def __init__(self, client_id: str | None, shared_secret: str | None) -> None:
        self.client_id = None if client_id is None else client_id.encode("utf-8")
        self.secret = None if shared_secret is None else shared_secret.encode("utf-8")
        self.key = secrets.token_bytes(32)

    async def grant(self, receive: Receive, scope: Scope) -> dict[str, Any] | _Refusal:
        body = await _body(receive)
        fields = _form(body, scope) if body is not None else None
        if fields is None:
            return _Refusal(
                400,
                "MISSING_OR_INVALID_PARAMETER",
                "Send a JSON object with client_id, client_secret and grant_type.",
                {"body": "JSON object"},
            )
        client, secret = fields.get("client_id"), fields.get("client_secret")
        for name, value in (("client_id", client), ("client_secret", secret)):
            if not isinstance(value, str) or not value:
                message = f"{name} is missing: send client_id, client_secret and grant_type."
                return _Refusal(400, "MISSING_OR_INVALID_PARAMETER", message, {"name": name})
        assert isinstance(client, str)
        assert isinstance(secret, str)
        if not self.accepts(client, secret):
            return _Refusal(
                401, "UNAUTHORIZED", "Invalid client_id or client_secret.", {"name": "client_id"}
            )
        refresh = fields.get("refresh_token")
        if refresh is not None and not (
            isinstance(refresh, str) and self.valid(refresh.encode("utf-8"), "refresh", client)
        ):
            message = "The refresh token is invalid or has expired."
            return _Refusal(401, "UNAUTHORIZED", message, {"name": "refresh_token"})
        return {
            "access_token": self.sign("access", client, _ACCESS_SECONDS),
            "token_type": "Bearer",
            "expires_in": _ACCESS_SECONDS,
            "refresh_token": self.sign("refresh", client, _REFRESH_SECONDS),
            "refresh_token_expires_in": _REFRESH_SECONDS,
        }

    def accepts(self, client: str, secret: str) -> bool:
        # Both compared, always, in constant time: neither answer says which was wrong.
        ok = self.client_id is None or hmac.compare_digest(client.encode("utf-8"), self.client_id)
        right = self.secret is None or hmac.compare_digest(secret.encode("utf-8"), self.secret)
        return ok and right

    def sign(self, kind: str, client: str, seconds: int) -> str:
        claims = msgspec.json.encode(
            [kind, client, int(time.time()) + seconds, secrets.token_hex(8)]
        )
        payload = base64.urlsafe_b64encode(claims).rstrip(b"=")
        return (payload + b"." + self._signature(payload)).decode("ascii")

    def valid(self, token: bytes, kind: str, client: str | None = None) -> bool:
        payload, _, signature = token.partition(b".")
        if not hmac.compare_digest(signature, self._signature(payload)):
            return False
        try:
            claims = msgspec.json.decode(
                base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
            )
            said, holder, until, _ = claims
        except (ValueError, TypeError, msgspec.DecodeError):
            return False
        return bool(said == kind and (client is None or holder == client) and until > time.time())

    def _signature(self, payload: bytes) -> bytes:
        digest = hmac.new(self.key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")


async def _body(receive: Receive) -> bytes | None:
    """The request's body, or ``None`` past ``_MOST_BODY`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client went away
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MOST_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _form(body: bytes, scope: Scope) -> dict[str, Any] | None:
    """The fields of a JSON object body, or of a form (some clients send one); else ``None``.

    JSON first, whatever the ``Content-Type`` says: ``curl -d`` calls JSON a form.
    """
    try:
        fields = msgspec.json.decode(body)
    except msgspec.DecodeError:
        fields = None
    if isinstance(fields, dict):
        return fields
    for name, value in scope["headers"]:
        if name == b"content-type" and value.split(b";", 1)[0].strip().lower() == _FORM:
            return dict(parse_qsl(body.decode("utf-8", "replace")))
    return None


# -- the tenant -------------------------------------------------------------------------------


def _tenant(tenant_id: int, host: str, seed: int) -> dict[str, Any]:
    """A tenant with a site or two, all of them at ``host``: the same for the same seed and id."""
    from .kibo._sample import _WORDS  # the sample generator's words: names of companies, places

    rng = random.Random(f"tenant:{seed}:{tenant_id}")
    countries = rng.sample(_WORDS.countries, rng.randint(1, 2))
    master = {
        "id": 1,
        "name": "Master Catalog",
        "tenantId": tenant_id,
        "defaultLocaleCode": countries[0].locale,
        "defaultCurrencyCode": countries[0].currency,
        "catalogs": [
            {
                "id": number,
                "name": f"{country.code} Catalog",
                "tenantId": tenant_id,
                "masterCatalogId": 1,
                "defaultLocaleCode": country.locale,
                "defaultCurrencyCode": country.currency,
            }
            for number, country in enumerate(countries, 1)
        ],
        "supportedLocaleCodes": [country.locale for country in countries],
    }
    company = rng.choice(_WORDS.companies)
    sites = [
        {
            "id": rng.randrange(10_000, 100_000),
            "name": f"{company} {country.code}",
            "tenantId": tenant_id,
            "catalogId": number,
            "localeCode": country.locale,
            "countryCode": country.code,
            "currencyCode": country.currency,
            "domain": host,
            "primaryCustomDomain": None,
        }
        for number, country in enumerate(countries, 1)
    ]
    return {
        "id": tenant_id,
        "name": company,
        "isDevTenant": True,
        "domain": host,
        "sites": sites,
        "masterCatalogs": [master],
        "isUnified": True,
    }


# -- documents from an OpenAPI document -------------------------------------------------------

_PARAMETER: Final = re.compile(r"\{([^{}/]*)\}")
_DOCUMENTS_CACHED: Final = 256  # generated bodies kept, by operation, path parameters and page
_PAGE_SIZE: Final = 20


class _Documents:
    """The GET operations of a document, each answering a generated document of its type."""

    def __init__(self, spec: OpenAPI, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self.encode = msgspec.json.Encoder().encode
        self._bodies = functools.lru_cache(maxsize=_DOCUMENTS_CACHED)(self._body)

    def route(self, path: str, method: str) -> tuple[str | None, Any]:
        operation = self.spec.match("GET", path)
        if operation is None:
            return None, None
        try:
            self.spec.response_schema("GET", operation.path)
        except OpenAPIError as error:  # no JSON body, or a schema the document cannot build
            message = f"The mock has no document for GET {operation.path}: {error}"
            return "document", _Refusal(404, "NOT_FOUND", message, {"path": path})
        return "document", operation

    def body(self, operation: Operation, scope: Scope) -> bytes:
        parameters = _path_parameters(operation.path, scope["path"])
        query = {
            name.casefold(): value
            for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
        }
        start = _integer(query.get("startindex"), 0)
        size = _integer(query.get("pagesize"), _PAGE_SIZE)
        return self._bodies(operation.path, tuple(parameters.items()), start, size)

    def _body(
        self, template: str, parameters: tuple[tuple[str, str], ...], start: int, size: int
    ) -> bytes:
        from .kibo._documents import Page, sample_document

        annotation = self.spec.response_schema("GET", template)
        literal = [part for part in template.split("/") if part and "{" not in part]
        document = sample_document(
            annotation,
            # Not the page: its items are drawn each by its index, its counts once.
            seed=f"{self.seed}|GET {template}|{parameters}",
            name=literal[-1] if literal else "",
            fields=self.spec._field_schemas,
            echo=dict(parameters),
            page=Page(start, size),
        )
        return self.encode(document)


def _path_parameters(template: str, path: str) -> dict[str, str]:
    """The values of ``template``'s parameters in the request ``path`` (which matched it, maybe
    under a base path): its last segments are the template's."""
    pattern = template.strip().strip("/").split("/")
    segments = path.rstrip("/").split("/")[-len(pattern) :] if pattern else []
    found: dict[str, str] = {}
    for part, segment in zip(pattern, segments, strict=False):
        names = _PARAMETER.findall(part)
        if not names:
            continue
        pieces = _PARAMETER.split(part)[::2]
        match = re.fullmatch("(.+?)".join(map(re.escape, pieces)), segment, re.I | re.S)
        if match is not None:
            found.update(zip(names, match.groups(), strict=True))
    return found


def _integer(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


# -- answers ----------------------------------------------------------------------------------


async def _not_allowed(
    send: Send, scope: Scope, allowed: str, application: str = "Customer"
) -> None:
    method = scope["method"]
    message = f"The requested resource does not support http method '{method}'."
    allow = [(b"allow", allowed.encode("ascii"))]
    await _error(
        send,
        scope,
        405,
        "METHOD_NOT_ALLOWED",
        message,
        {"method": method},
        allow,
        application=application,
    )


def _kibo_refusals(send: Send, scope: Scope, application: str) -> Send:
    """``send`` for a route under the middleware: its 400 for a bad ``responseFields`` (the only
    400 there, the routes' own answers being 200) sent as a Kibo-style error, its position and
    the expression in ``additionalErrorData``."""
    refused = False

    async def answer(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] == 400:
            refused = True
        elif refused:
            problem = msgspec.json.decode(message["body"])
            data = {
                "name": "responseFields",
                "expression": problem["expression"],
                "pos": str(problem["pos"]),
                "column": str(problem["column"]),
            }
            await _error(
                send,
                scope,
                400,
                "MISSING_OR_INVALID_PARAMETER",
                problem["message"],
                data,
                application=application,
            )
        else:
            await send(message)

    return answer


async def _error(
    send: Send,
    scope: Scope,
    status: int,
    code: str,
    message: str,
    data: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    application: str = "Customer",
) -> None:
    """A Kibo-style error body; ``data`` becomes its ``additionalErrorData`` name/value pairs."""
    body: dict[str, Any] = {
        "message": message,
        "errorCode": code,
        "applicationName": application,
        "additionalErrorData": [{"name": name, "value": value} for name, value in data.items()],
        "items": [],
    }
    await _send(send, scope, status, msgspec.json.encode(body), headers)


async def _send(
    send: Send,
    scope: Scope,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    # HEAD gets GET's headers, the length of the body it would have had included, and no body.
    length = (b"content-length", b"%d" % len(body))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, length, *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- in a child process -----------------------------------------------------------------------


class RunningServer(NamedTuple):
    """Where a server started by ``running`` listens."""

    host: str
    port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: ``http://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}:{self.port}"


@contextmanager
def running(
    *,
    token: str | None = None,
    seed: int = 0,
    openapi: str | os.PathLike[str] | None = None,
    client_id: str | None = None,
    shared_secret: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | os.PathLike[str] | None = None,
    ssl_keyfile: str | os.PathLike[str] | None = None,
    access_log: bool = False,
    timeout: float = 15.0,
) -> Iterator[RunningServer]:
    """``projection mock`` under uvicorn in a child process, serving until the block ends.

    ``token``, ``seed``, ``client_id`` and ``shared_secret`` are ``create_app``'s; ``openapi``
    the path of the document to serve. With ``ssl_certfile`` and ``ssl_keyfile`` (PEM files), it
    serves HTTPS, as SDKs that build ``https://`` URLs need. The socket is bound here and handed
    to the child, so ``port=0`` takes a free port with no race, and a port in use raises
    ``OSError`` at once. The block starts once the server has answered a request. Requests are
    not logged unless ``access_log``: a load test would measure the logging too. The server is
    stopped on the way out, however the block is left. If it exits or does not answer within
    ``timeout`` seconds, ``RuntimeError`` says so with what it printed. Needs the ``server``
    extra (uvicorn).
    """
    options = {
        "--token": token,
        "--openapi": openapi,
        "--client-id": client_id,
        "--shared-secret": shared_secret,
        "--ssl-certfile": ssl_certfile,
        "--ssl-keyfile": ssl_keyfile,
    }
    with socket.create_server((host, port)) as listener, tempfile.TemporaryFile() as log:
        descriptor = listener.fileno()
        command = [sys.executable, "-m", "projection", "mock", "--fd", str(descriptor)]
        command += ["--seed", str(seed)]
        for option, value in options.items():
            if value is not None:
                command += [option, os.fspath(value)]
        if not access_log:
            command.append("--no-access-log")
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, pass_fds=[descriptor]
        )
        scheme = "https" if ssl_certfile is not None else "http"
        address = RunningServer(host, listener.getsockname()[1], scheme)
        try:
            _wait_until_serving(server, address, timeout, log)
            yield address
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_serving(
    server: subprocess.Popen[bytes], address: RunningServer, timeout: float, log: IO[bytes]
) -> None:
    """Return once the server answers any request; raise if it exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while server.poll() is None:
        connection: http.client.HTTPConnection
        if address.scheme == "https":
            # Whether it answers, not whom it says it is: its certificate is the caller's.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection(
                address.host, address.port, timeout=0.5, context=context
            )
        else:
            connection = http.client.HTTPConnection(address.host, address.port, timeout=0.5)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:  # refused, reset or timed out: the server is not answering yet
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the mock server did not answer within {timeout:g} s:\n{_printed(log)}"
                ) from None
            time.sleep(0.05)
        finally:
            connection.close()
    raise RuntimeError(f"the mock server exited with status {server.returncode}:\n{_printed(log)}")


def _printed(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode("utf-8", "replace")
