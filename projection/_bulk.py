"""Bulk input: NDJSON streams projected in constant memory, on one core or several, in order.

``project_lines`` is the lazy line-by-line API behind ``Projection.project_lines``.
``project_stream`` is the engine of ``projection apply``: it tells one JSON document from NDJSON,
reads NDJSON in blocks of lines, projects them (in worker processes if asked), writes the results
in input order, and lets no invalid line go unnoticed.
"""

from __future__ import annotations

import concurrent.futures
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import IO, Final

from ._compile import Compiled, is_json
from ._errors import PayloadError
from ._mask import Mask

__all__ = ["project_lines", "project_stream"]

# Lines are read and sent to workers in blocks of about this many bytes: large enough that the
# cost of a hand-off is small, small enough that a few blocks in flight use little memory.
BATCH_BYTES: Final = 1 << 20
# Blocks in flight per worker: one being projected, one waiting, so workers never idle.
_IN_FLIGHT_PER_WORKER: Final = 2

ErrorHandler = Callable[[PayloadError], None]
"""Receives each rejected line; with none, the first invalid line raises."""


def project_lines(
    compiled: Compiled, lines: bytes | IO[bytes] | Iterable[bytes]
) -> Iterator[bytes]:
    """Each non-blank line projected, ending with ``b"\\n"``; lazily, in constant memory."""
    source: Iterable[bytes] = io.BytesIO(lines) if isinstance(lines, bytes) else lines
    for number, line in enumerate(source, start=1):
        projected = _project_line(compiled, line, number)
        if projected is not None:
            yield projected


def _project_line(compiled: Compiled, line: bytes, number: int) -> bytes | None:
    """One NDJSON line projected, or None for a blank line; errors carry the line number."""
    content = line.rstrip(b"\r\n")
    if not content.strip():
        return None
    try:
        return compiled.project(content) + b"\n"
    except PayloadError as error:
        raise PayloadError(
            f"line {number}: {error}", pos=error.pos, line=number, index=error.index
        ) from None


def _project_block(
    compiled: Compiled, block: bytes, first_number: int, keep_going: bool
) -> tuple[bytes, list[PayloadError]]:
    """A block of whole lines projected to one block of output, with the lines it rejected.

    Without ``keep_going`` the block stops at its first invalid line, after what came before it.
    """
    output: list[bytes] = []
    rejected: list[PayloadError] = []
    # Split on "\n" only: a lone "\r" is white space inside a JSON line, not a line break.
    for number, line in enumerate(block.split(b"\n"), start=first_number):
        try:
            projected = _project_line(compiled, line, number)
        except PayloadError as error:
            rejected.append(error)
            if not keep_going:
                break
            continue
        if projected is not None:
            output.append(projected)
    return b"".join(output), rejected


def _blocks(first: bytes, source: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """The stream in blocks of whole lines, about ``BATCH_BYTES`` each, and their first line number.

    Blocks are cut at line breaks by the C code of ``read``, ``readline`` and ``count``, so the
    process that reads does little work per line.
    """
    number = 1
    block = first
    while True:
        if len(block) < BATCH_BYTES:
            block += source.read(BATCH_BYTES - len(block))
        if not block.endswith(b"\n"):
            block += source.readline()
        if not block:
            return
        yield number, block
        number += block.count(b"\n")
        block = b""


def project_stream(
    compiled: Compiled,
    source: IO[bytes],
    sink: IO[bytes],
    *,
    workers: int = 1,
    on_error: ErrorHandler | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Project ``source`` to ``sink``: one JSON document (any layout), or NDJSON.

    The input is NDJSON when its first line is a whole JSON value. ``progress`` is called with the
    number of input bytes done so far. With ``on_error`` an invalid NDJSON line is handed to it
    and the run goes on; without, the first invalid line raises after what came before it is
    written.
    """
    first = source.readline()
    if first.strip() and not is_json(first):
        data = first + source.read()
        sink.write(compiled.project(data).rstrip(b"\r\n") + b"\n")
        if progress is not None:
            progress(len(data))
        return
    keep_going = on_error is not None
    blocks = _blocks(first, source)
    results = (
        _project_in_workers(compiled, blocks, workers, keep_going)
        if workers > 1
        else (
            (len(block), *_project_block(compiled, block, start, keep_going))
            for start, block in blocks
        )
    )
    done = 0
    for consumed, output, rejected in results:
        sink.write(output)
        done += consumed
        if progress is not None:
            progress(done)
        for error in rejected:
            if on_error is None:
                raise error
            on_error(error)


# -- worker processes -------------------------------------------------------------------------

_worker_compiled: Compiled | None = None


def _start_worker(mask: Mask, case_insensitive: bool) -> None:
    global _worker_compiled
    _worker_compiled = Compiled(mask, case_insensitive=case_insensitive)


def _work(block: bytes, first_number: int, keep_going: bool) -> tuple[bytes, list[PayloadError]]:
    assert _worker_compiled is not None
    return _project_block(_worker_compiled, block, first_number, keep_going)


def _project_in_workers(
    compiled: Compiled, blocks: Iterator[tuple[int, bytes]], workers: int, keep_going: bool
) -> Iterator[tuple[int, bytes, list[PayloadError]]]:
    """Blocks projected in ``workers`` processes, yielded in input order.

    At most a few blocks per worker are in flight, so memory stays bounded however long the
    stream; reading stops once a block fails and errors are not to be skipped.
    """
    pending: deque[Future[tuple[bytes, list[PayloadError]]]] = deque()
    sizes: deque[int] = deque()
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        initializer=_start_worker,
        initargs=(compiled.mask, compiled.case_insensitive),
    ) as pool:
        while True:
            for start, block in blocks:
                pending.append(pool.submit(_work, block, start, keep_going))
                sizes.append(len(block))
                if len(pending) >= workers * _IN_FLIGHT_PER_WORKER:
                    break
            if not pending:
                return
            output, rejected = pending.popleft().result()
            yield sizes.popleft(), output, rejected
            if rejected and not keep_going:
                for future in pending:
                    future.cancel()
                return
