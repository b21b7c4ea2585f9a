"""A mock of Kibo's anonymous-shopper auth-ticket endpoint: an ASGI app honouring responseFields.

``create_app()`` answers ``GET /commerce/customer/authtickets/anonymousshopper`` (also under
``/api``) with a fresh CustomerAuthTicket, trimmed by ``ResponseFieldsMiddleware``; its errors are
Kibo-style JSON. ``projection mock`` serves it with uvicorn; ``running()`` does so in a child
process for the length of a ``with`` block, for test suites that want a real socket.
"""

from __future__ import annotations

import hmac
import http.client
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Final, NamedTuple

import msgspec

from .asgi import ASGIApp, Receive, ResponseFieldsMiddleware, Scope, Send
from .kibo import anonymous_authtickets

__all__ = ["RunningServer", "create_app", "running"]

_ROUTES: Final = frozenset(
    {
        "/commerce/customer/authtickets/anonymousshopper",
        "/api/commerce/customer/authtickets/anonymousshopper",
    }
)
_JSON: Final = (b"content-type", b"application/json; charset=utf-8")


def create_app(*, token: str | None = None, seed: int = 0) -> ASGIApp:
    """The mock server as an ASGI app.

    Every request needs ``Authorization: Bearer <token>``: any token, or only ``token`` when given
    (401 otherwise). ``GET`` (and ``HEAD``, without a body) answers 200 with a new anonymous
    shopper's ticket, issued now; other methods 405, other paths 404, a bad ``responseFields`` 400.
    Paths match ignoring case, as Kibo's do. The n-th ticket served is fixed by ``seed`` and the
    time it is issued at (see ``anonymous_authtickets``).
    """
    tickets = anonymous_authtickets(seed=seed)
    encode = msgspec.json.Encoder().encode
    expected = None if token is None else token.encode("utf-8")

    async def ticket(scope: Scope, receive: Receive, send: Send) -> None:
        body = encode(next(tickets))
        await _send(send, scope, 200, body)

    projected = ResponseFieldsMiddleware(ticket)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here: the server refuses the handshake
        path, method = scope["path"], scope["method"]
        if path.lower() not in _ROUTES:
            message = f"No resource was found at {path}."
            await _error(send, scope, 404, "NOT_FOUND", message, {"path": path})
        elif method not in ("GET", "HEAD"):
            message = f"The requested resource does not support http method '{method}'."
            allow = [(b"allow", b"GET, HEAD")]
            await _error(send, scope, 405, "METHOD_NOT_ALLOWED", message, {"method": method}, allow)
        elif not _authorized(scope, expected):
            message = "Missing or invalid access token: send Authorization: Bearer <token>."
            challenge = [(b"www-authenticate", b"Bearer")]
            data = {"header": "Authorization"}
            await _error(send, scope, 401, "UNAUTHORIZED", message, data, challenge)
        else:
            await projected(scope, receive, send)

    return app


def _authorized(scope: Scope, expected: bytes | None) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            credentials = credentials.strip()
            if scheme.lower() != b"bearer" or not credentials:
                return False
            # Constant time, so a mock exposed on a network does not leak its token by timing.
            return expected is None or hmac.compare_digest(credentials, expected)
    return False


async def _error(
    send: Send,
    scope: Scope,
    status: int,
    code: str,
    message: str,
    data: dict[str, str],
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A Kibo-style error body; ``data`` becomes its ``additionalErrorData`` name/value pairs."""
    body: dict[str, Any] = {
        "message": message,
        "errorCode": code,
        "applicationName": "Customer",
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

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def running(
    *,
    token: str | None = None,
    seed: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    access_log: bool = False,
    timeout: float = 15.0,
) -> Iterator[RunningServer]:
    """``projection mock`` under uvicorn in a child process, serving until the block ends.

    The socket is bound here and handed to the child, so ``port=0`` takes a free port with no
    race, and a port in use raises ``OSError`` at once. The block starts once the server has
    answered a request. Requests are not logged unless ``access_log``: a load test would measure
    the logging too. The server is stopped on the way out, however the block is left. If it
    exits or does not answer within ``timeout`` seconds, ``RuntimeError`` says so with what it
    printed. Needs the ``server`` extra (uvicorn).
    """
    with socket.create_server((host, port)) as listener, tempfile.TemporaryFile() as log:
        descriptor = listener.fileno()
        command = [sys.executable, "-m", "projection", "mock", "--fd", str(descriptor)]
        command += ["--seed", str(seed)]
        if token is not None:
            command += ["--token", token]
        if not access_log:
            command.append("--no-access-log")
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, pass_fds=[descriptor]
        )
        address = RunningServer(host, listener.getsockname()[1])
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
