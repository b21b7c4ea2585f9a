"""Bulk input: NDJSON streams projected in constant memory, on one core or several, in order.

``project_lines`` is the lazy line-by-line API behind ``Projection.project_lines``.
``project_stream`` is the engine of ``projection apply``: it tells one JSON document from NDJSON,
reads NDJSON in blocks of lines, projects them (in worker processes if asked), writes the results
in input order, and lets no invalid line go unnoticed.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Final, Literal, NamedTuple

from ._compile import JSON_WHITE_SPACE, Compiled, is_json
from ._errors import PayloadError
from ._mask import Mask

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["project_lines", "project_stream"]

# Lines are read and sent to workers in blocks of about this many bytes: large enough that the
# cost of a hand-off is small, small enough that a few blocks in flight use little memory.
BLOCK_BYTES: Final = 4 << 20
# Blocks in flight per worker: one being projected, one waiting, so workers never idle.
_IN_FLIGHT_PER_WORKER: Final = 2

Layout = Literal["auto", "json", "ndjson"]
"""How ``project_stream`` reads its input: one JSON document, NDJSON, or told by the first line."""

ErrorHandler = Callable[[PayloadError], None]
"""Receives each rejected line; with none, the first invalid line raises."""


def project_lines(
    compiled: Compiled, lines: bytes | IO[bytes] | Iterable[bytes]
) -> Iterator[bytes]:
    """Each non-blank line projected, ending with ``b"\\n"``; lazily, in constant memory."""
    if isinstance(lines, str):
        raise TypeError("NDJSON to project must be bytes, a binary file or lines of bytes, not str")
    source = io.BytesIO(lines) if isinstance(lines, (bytes, bytearray, memoryview)) else lines
    for number, line in enumerate(source, start=1):
        try:
            projected = _project_line(compiled, line)
        except PayloadError as error:
            raise _numbered(error, number) from None
        if projected is not None:
            yield projected


def _project_line(compiled: Compiled, line: bytes) -> bytes | None:
    """One NDJSON line projected, or None for a blank line."""
    content = line.rstrip(b"\r\n")
    if not content.strip(JSON_WHITE_SPACE):
        return None
    return compiled.project(content) + b"\n"


def _numbered(error: PayloadError, line: int) -> PayloadError:
    return PayloadError(f"line {line}: {error}", pos=error.pos, line=line)


class _Block(NamedTuple):
    """A block of whole lines, projected."""

    output: bytes
    size: int  # bytes of input
    breaks: int  # line breaks in the input, to number the lines of the blocks after it
    rejected: list[tuple[int, PayloadError]]  # with the 1-based line number inside the block


def _project_block(compiled: Compiled, block: bytes, keep_going: bool) -> _Block:
    """Without ``keep_going`` the block stops at its first invalid line, after what came before."""
    whole = compiled.project_block(block)
    if whole is not None:
        return _Block(whole, len(block), block.count(b"\n"), [])
    # Line by line: the block holds an invalid line, or a shape or projection msgspec cannot
    # take in one pass.
    output: list[bytes] = []
    rejected: list[tuple[int, PayloadError]] = []
    # Split on "\n" only: a lone "\r" is white space inside a JSON line, not a line break.
    for number, line in enumerate(block.split(b"\n"), start=1):
        try:
            projected = _project_line(compiled, line)
        except PayloadError as error:
            rejected.append((number, error))
            if not keep_going:
                break
            continue
        if projected is not None:
            output.append(projected)
    return _Block(b"".join(output), len(block), block.count(b"\n"), rejected)


def _looks_like_a_line(line: bytes) -> bool:
    """Whether ``line`` reads as NDJSON's first line rather than the start of a document."""
    content = line.strip(JSON_WHITE_SPACE)
    if not content or is_json(content):
        return True
    # A first line that opens and closes a value is a line gone wrong, not a pretty document:
    # reading the rest as one document would hold all of it in memory, for nothing.
    return content[:1] + content[-1:] in (b"{}", b"[]")


def _read_blocks(first: bytes, source: IO[bytes]) -> Iterator[bytes]:
    """The stream in blocks of whole lines, about ``BLOCK_BYTES`` each.

    Blocks are cut at line breaks by the C code of ``read`` and ``readline``, so the process that
    reads does little work per line.
    """
    block = first
    while True:
        if len(block) < BLOCK_BYTES:
            block += source.read(BLOCK_BYTES - len(block))
        if not block.endswith(b"\n"):
            block += source.readline()
        if not block:
            return
        yield block
        block = b""


def _file_ranges(path: str) -> Iterator[_Range]:
    """The file in ranges of whole lines, about ``BLOCK_BYTES`` each, found by seeking."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        start = 0
        while start < size:
            file.seek(min(start + BLOCK_BYTES, size))
            file.readline()
            end = file.tell()
            yield _Range(path, start, end)
            start = end


class _Range(NamedTuple):
    """Part of a file, for a worker to read itself: cheaper than sending it through a pipe."""

    path: str
    start: int
    end: int

    def read(self) -> bytes:
        with open(self.path, "rb") as file:
            file.seek(self.start)
            return file.read(self.end - self.start)


def project_stream(
    compiled: Compiled,
    source: IO[bytes],
    sink: IO[bytes],
    *,
    path: str | None = None,
    workers: int = 1,
    on_error: ErrorHandler | None = None,
    progress: Callable[[int], None] | None = None,
    layout: Layout = "auto",
) -> None:
    """Project ``source`` to ``sink``: one JSON document (any layout, read whole), or NDJSON.

    With ``layout="auto"`` the first line that is not blank decides: NDJSON when it is a whole
    JSON value, or looks like one on a line of its own (``{...}`` or ``[...]``, invalid or not);
    otherwise one document. ``path``, the regular file ``source`` reads, lets workers read their
    blocks themselves. ``progress`` is called with the number of input bytes done so far. With
    ``on_error`` an invalid NDJSON line is handed to it and the run goes on; without, the first
    invalid line raises after what came before it is written.
    """
    first = b""
    while not first.strip(JSON_WHITE_SPACE):
        line = source.readline()
        if not line:
            break
        first += line
    if layout == "json" or (layout == "auto" and not _looks_like_a_line(first)):
        data = first + source.read()
        sink.write(compiled.project(data).rstrip(b"\r\n") + b"\n")
        if progress is not None:
            progress(len(data))
        return
    keep_going = on_error is not None
    blocks: Iterator[_Block]
    if workers == 1:
        blocks = (
            _project_block(compiled, block, keep_going) for block in _read_blocks(first, source)
        )
    elif path is not None and os.path.isfile(path):
        blocks = _project_in_workers(compiled, _file_ranges(path), workers, keep_going)
    else:
        blocks = _project_in_workers(compiled, _read_blocks(first, source), workers, keep_going)
    lines_before = done = 0
    for block in blocks:
        sink.write(block.output)
        done += block.size
        if progress is not None:
            progress(done)
        for number, error in block.rejected:
            numbered = _numbered(error, lines_before + number)
            if on_error is None:
                raise numbered
            on_error(numbered)
        lines_before += block.breaks


# -- worker processes -------------------------------------------------------------------------

_worker_compiled: Compiled | None = None


def _start_worker(mask: Mask, case_insensitive: bool) -> None:
    global _worker_compiled
    _worker_compiled = Compiled(mask, case_insensitive=case_insensitive)


def _work(part: bytes | _Range, keep_going: bool) -> _Block:
    assert _worker_compiled is not None
    return _project_block(_worker_compiled, _content(part), keep_going)


def _content(part: bytes | _Range) -> bytes:
    return part.read() if isinstance(part, _Range) else part


def _project_in_workers(
    compiled: Compiled, parts: Iterator[bytes | _Range], workers: int, keep_going: bool
) -> Iterator[_Block]:
    """Blocks projected by ``workers`` processes, this one included, yielded in input order.

    This process takes every ``workers``-th block itself: it would otherwise only wait, and its
    blocks cross no pipe. At most a few blocks per worker are in flight, so memory stays bounded
    however long the stream; reading stops once a block fails and errors are not to be skipped.
    """
    # Imported here: runs with one worker, and the library itself, do without processes.
    from concurrent.futures import ProcessPoolExecutor

    pending: deque[Future[_Block] | bytes | _Range] = deque()
    with ProcessPoolExecutor(
        max_workers=workers - 1,
        initializer=_start_worker,
        initargs=(compiled.mask, compiled.case_insensitive),
    ) as pool:
        numbered = enumerate(parts)
        while True:
            for number, part in numbered:
                own = number % workers == 0
                pending.append(part if own else pool.submit(_work, part, keep_going))
                if len(pending) >= workers * _IN_FLIGHT_PER_WORKER:
                    break
            if not pending:
                return
            next_part = pending.popleft()
            if isinstance(next_part, (bytes, _Range)):
                block = _project_block(compiled, _content(next_part), keep_going)
            else:
                block = next_part.result()
            yield block
            if block.rejected and not keep_going:
                for waiting in pending:
                    if not isinstance(waiting, (bytes, _Range)):
                        waiting.cancel()
                return
