"""ASGI apps called in this process, for tests of the middleware that need no socket.

``drive`` calls an app with a scope and an empty request body and returns what it sends;
``respond`` does so for a plain ``GET``-like request and splits the answer into status, headers
and body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from projection.asgi import Message, Scope


def drive(app: Any, scope: Scope) -> list[Message]:
    """Call ``app`` with ``scope`` and an empty request body; the messages it sends."""
    sent: list[Message] = []
    received = False

    async def receive() -> Message:
        nonlocal received
        if received:
            # The client stays connected: apps that listen for a disconnect (Starlette's
            # FileResponse) wait here until their response is sent.
            await asyncio.Event().wait()
        received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def respond(
    app: Any,
    query: str | bytes = b"",
    *,
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """``app`` called for ``METHOD path?query``: the status, headers and body it sends."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode() if isinstance(query, str) else query,
        "headers": headers or [],
    }
    start, *body = drive(app, scope)
    return start["status"], list(start["headers"]), b"".join(m.get("body", b"") for m in body)
