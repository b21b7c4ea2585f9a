"""Bulk input: NDJSON in blocks of whole lines, projected in constant memory.

A block is about ``BLOCK_BYTES`` of whole lines, held one of two ways: ``InBuffer``, the start of
the buffer a stream is read into (``read_blocks``), or ``InFile``, a range of a file that
whoever projects it reads itself (``file_ranges``). ``project_block`` projects one into a
``Block``, and ``then_rejected`` numbers the rejected lines of blocks across them, in order.
``project_lines`` (behind ``Projection.project_lines``), the engine of ``projection apply``
(``_stream``), worker processes (``_workers``) and the Dask module all go through these.
Projecting leaves the process-wide garbage collector alone, unless the process is the library's
own and says so (``own_the_collector``): then it is paused for each block (``collector_paused``).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Final, NamedTuple, TypeAlias, cast

from ._compile import Compiled
from ._errors import PayloadError, detached
from ._scan import JSON_WHITE_SPACE

__all__ = [
    "BLOCK_BYTES",
    "Block",
    "ErrorHandler",
    "InBuffer",
    "InFile",
    "Lines",
    "collector_paused",
    "file_ranges",
    "input_start",
    "own_the_collector",
    "project_block",
    "project_lines",
    "read_and_project",
    "read_blocks",
    "read_range",
    "then_rejected",
]

# Lines are read and sent to workers in blocks of about this many bytes: large enough that the
# cost of a hand-off is small, small enough that a few blocks in flight use little memory.
BLOCK_BYTES: Final = 4 << 20
# A block's lines are decoded and encoded this many bytes at a time, so that what a group
# decoded is still in the processor's caches when it is encoded: a 64 MiB block at once ran at
# 480 MB/s, in groups of 1 MiB at 718 MB/s, measured.
_GROUP_BYTES: Final = 1 << 20

# Some Windows tools start UTF-8 text with this mark; JSON has no use for it, and RFC 8259 lets
# a reader skip it.
_BYTE_ORDER_MARK: Final = b"\xef\xbb\xbf"
# What every gzip stream starts with: such input gets a hint rather than an error at byte 0.
_GZIP_MAGIC: Final = b"\x1f\x8b"

ErrorHandler = Callable[[PayloadError], None]
"""Receives each rejected line; with none, the first invalid line raises."""

# Whether this process is the library's own, the command's or a worker's (``own_the_collector``):
# only there may projecting pause the cyclic garbage collector, which is process-wide state.
_collector_owned = False


def own_the_collector() -> None:
    """Let projections in this process pause the garbage collector (``collector_paused``).

    For processes that are the library's own only: the command line and worker processes.
    """
    global _collector_owned
    _collector_owned = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused, in a process that owns it; elsewhere left alone.

    A block's lines and decoded documents, thousands of objects, trigger collections that find
    nothing (projected values hold no cycles): decoded Structs are out of the collector's sight
    (``_compile``), but the lines' views and the lists are not. Pausing it saved the command 2
    to 3% of its CPU time on NDJSON and on a 38 MB document, measured: worth it in a process of
    the library's own, not worth pausing the collector of a whole process, threads and all, in
    a library call.
    """
    if not _collector_owned or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def project_lines(
    compiled: Compiled, lines: bytes | IO[bytes] | Iterable[bytes]
) -> Iterator[bytes]:
    """Each non-blank line projected, ending with ``b"\\n"``; lazily, in constant memory.

    Text (``str``, a file opened for text, lines of ``str``) is a ``TypeError``: at once where
    ``lines`` is text, at the first line of text otherwise.
    """
    if isinstance(lines, (str, io.TextIOBase)):
        raise _not_bytes(lines)
    return _project_lines(compiled, lines)


def _not_bytes(text: object) -> TypeError:
    return TypeError(
        "project_lines takes NDJSON as bytes, a binary file or lines of bytes, not "
        f"{type(text).__name__}: encode text to UTF-8, open files in binary mode ('rb')"
    )


def _project_lines(
    compiled: Compiled, lines: bytes | IO[bytes] | Iterable[bytes]
) -> Iterator[bytes]:
    """``project_lines`` itself, once ``lines`` is known not to be text.

    Bytes in memory, a block or more of them, go in blocks as ``project_stream`` takes them:
    a fifth less time on 190 MB, measured. Anything else goes one line at a time, so that each
    comes out as soon as it is read.
    """
    if not isinstance(lines, (bytes, bytearray, memoryview)):
        source: IO[bytes] | Iterable[bytes] = lines
    elif len(lines) < BLOCK_BYTES:
        source = io.BytesIO(lines)
    else:
        buffer = bytearray()
        reads = read_blocks(b"", io.BytesIO(lines))
        blocks = (read_and_project(compiled, read, False, buffer) for read in reads)
        for block in then_rejected(blocks, None):
            yield from io.BytesIO(block.output)
        return
    for number, line in enumerate(source, start=1):
        if not isinstance(line, (bytes, bytearray)):
            raise _not_bytes(line)  # ``rstrip`` would fail with a message that says nothing
        try:
            projected = _project_line(compiled, line)
        except PayloadError as error:
            raise _numbered(error, number) from None
        if projected is not None:
            yield projected


def then_rejected(
    blocks: Iterable[Block], on_error: ErrorHandler | None, lines_before: int = 0
) -> Iterator[Block]:
    """Each block, then its rejected lines, numbered across blocks, after ``lines_before``
    lines that come before the first block: raised, or handed on.

    Asked for the next block, it first deals with the last one's rejected lines: what came
    before an invalid line is written before the error is raised.
    """
    for block in blocks:
        yield block
        for number, error in block.rejected:
            numbered = _numbered(error, lines_before + number)
            if on_error is None:
                raise numbered
            on_error(numbered)
        lines_before += block.breaks


def _project_line(compiled: Compiled, line: bytes) -> bytes | None:
    """One NDJSON line projected, or None for a blank line."""
    content = line.rstrip(b"\r\n")
    if not content.strip(JSON_WHITE_SPACE):
        return None
    return compiled.project(content) + b"\n"


def _numbered(error: PayloadError, line: int) -> PayloadError:
    return PayloadError(f"line {line}: {error}", pos=error.pos, line=line)


class Block(NamedTuple):
    """A block of whole lines, projected."""

    output: bytes | bytearray | memoryview
    size: int  # bytes of input
    # Line breaks in the input, to number the lines of the blocks after it; a block stopped at
    # an invalid line counts none past the group that holds it: its error ends the run.
    breaks: int
    # With the 1-based line number inside the block; each error ``detached``, so that what a
    # block leaves is freed as soon as the block is dealt with.
    rejected: list[tuple[int, PayloadError]]


def project_block(
    compiled: Compiled, buffer: bytes | bytearray, size: int, keep_going: bool
) -> Block:
    """The block that is the first ``size`` bytes of ``buffer``, projected.

    Its lines go through the projection a group of about ``_GROUP_BYTES`` at a time. Without
    ``keep_going`` the block stops at its first invalid line, after what came before.
    """
    outputs: list[bytes | bytearray | memoryview] = []
    rejected: list[tuple[int, PayloadError]] = []
    breaks = 0
    start = 0
    with collector_paused():
        while start < size:
            end = buffer.find(b"\n", min(start + _GROUP_BYTES, size) - 1, size) + 1 or size
            output, group_breaks, bad = _project_group(
                compiled, buffer, start, end, breaks, keep_going
            )
            outputs.append(output)
            rejected += bad
            breaks += group_breaks
            start = end
            if bad and not keep_going:
                break
    return Block(b"".join(outputs), size, breaks, rejected)


def _project_group(
    compiled: Compiled,
    buffer: bytes | bytearray,
    start: int,
    end: int,
    lines_before: int,
    keep_going: bool,
) -> tuple[bytes | bytearray | memoryview, int, list[tuple[int, PayloadError]]]:
    """The whole lines ``buffer[start:end]`` projected: the output, their line breaks, and the
    rejected lines numbered within the block (``lines_before`` lines come before them)."""
    lines, numbers, breaks = _lines(buffer, start, end)
    outputs: list[bytes] = []
    rejected: list[tuple[int, PayloadError]] = []
    for projected in compiled.project_in_runs(lines):
        if isinstance(projected, bytes):
            outputs.append(projected)
            continue
        # A line to project on its own: invalid, blank, or a shape msgspec cannot take in a run.
        try:
            line = _project_line(compiled, bytes(lines[projected]))
        except PayloadError as error:
            rejected.append((lines_before + numbers[projected] + 1, detached(error)))
            if not keep_going:
                break
            continue
        if line is not None:
            outputs.append(line)
    return b"".join(outputs), breaks, rejected


def _lines(
    buffer: bytes | bytearray, start: int, end: int
) -> tuple[list[memoryview], list[int], int]:
    """The non-empty lines of ``buffer[start:end]`` as views, nothing copied, the 0-based number
    of each within it, and its line breaks.

    Empty lines are left out, so that they do not end the runs of documents projected together
    (``Compiled.project_in_runs``): with one between every two documents, a block took a third
    longer, measured. The breaks are counted here, where ``find`` meets each of them anyway:
    ``bytes.count`` looks at every byte, and took a quarter of a single worker's time, measured.
    """
    view = memoryview(buffer)
    lines = []
    numbers = []
    breaks = 0
    while start < end:
        stop = buffer.find(b"\n", start, end)
        if stop < 0:
            stop = end
        if stop > start:
            lines.append(view[start:stop])
            numbers.append(breaks)  # the breaks before it: its number
        breaks += stop < end
        start = stop + 1
    return lines, numbers, breaks


def input_start(head: bytes, decompress: str) -> int:
    """The bytes to skip at the start of input that begins with ``head``: a byte order mark.

    Gzip-compressed input is refused with a ``PayloadError`` at byte 0 that ends with
    ``decompress``, a hint that says how to read it instead.
    """
    if head.startswith(_GZIP_MAGIC):
        raise PayloadError(f"input looks gzip-compressed; {decompress}", pos=0)
    return len(_BYTE_ORDER_MARK) if head.startswith(_BYTE_ORDER_MARK) else 0


class InBuffer(NamedTuple):
    """A block of a stream: the first ``size`` bytes of ``buffer``, until the next is read."""

    buffer: bytes | bytearray
    size: int
    last: bool = False  # True when the stream is known to end with it


class InFile(NamedTuple):
    """A block of a file, read by whoever projects it: a worker is sent where, not what."""

    path: str
    start: int
    end: int

    def read_into(self, buffer: bytearray) -> int:
        """Read the range into the start of ``buffer``, grown to fit; how many bytes were read.

        Fewer than asked only if the file was cut short meanwhile.
        """
        with open(self.path, "rb", buffering=0) as file:
            return read_range(file, self.start, self.end - self.start, buffer)


def read_range(
    file: io.RawIOBase | io.BufferedIOBase, start: int, size: int, buffer: bytearray
) -> int:
    """``size`` bytes of ``file`` from ``start`` into the start of ``buffer``, grown to fit; how
    many were read, fewer only if the file ends first."""
    _fit(buffer, size)
    file.seek(start)
    done = 0
    with memoryview(buffer) as view:
        while done < size:
            read = file.readinto(view[done:size])
            if not read:
                break
            done += read
    return done


Lines: TypeAlias = InBuffer | InFile
"""A block to project, wherever its lines are."""


def read_and_project(
    compiled: Compiled, lines: Lines, keep_going: bool, buffer: bytearray
) -> Block:
    """A block projected, its lines first read into ``buffer`` (which each process reuses) if
    they are in a file.

    Read into new memory, a block's pages are reused or faulted in anew as the allocator sees
    fit; where it gave them back, a loop over 1 GB took a quarter more time, measured.
    """
    if isinstance(lines, InBuffer):
        return project_block(compiled, lines.buffer, lines.size, keep_going)
    return project_block(compiled, buffer, lines.read_into(buffer), keep_going)


def read_blocks(first: bytes, source: IO[bytes]) -> Iterator[InBuffer]:
    """The stream in blocks of whole lines, about ``BLOCK_BYTES`` each, in one reused buffer.

    Each block is the buffer's first ``size`` bytes, valid until the next is asked for: reading
    into the same memory, rather than into a new block completed by a copy, took a quarter
    less time from a pipe, measured. A line longer than the buffer makes it grow.
    """
    readinto = cast(io.BufferedIOBase, source).readinto
    buffer = bytearray(max(BLOCK_BYTES, len(first)))
    buffer[: len(first)] = first
    filled = len(first)
    while True:
        while filled < len(buffer):
            with memoryview(buffer) as view:
                read = readinto(view[filled:])
            if not read:
                break
            filled += read
        if filled < len(buffer):  # the end of the stream
            if filled:
                yield InBuffer(buffer, filled, last=True)
            return
        size = buffer.rfind(b"\n", 0, filled) + 1
        if size == 0:  # no line break yet: a longer line
            _fit(buffer, 2 * len(buffer))
            continue
        yield InBuffer(buffer, size)
        # What follows the last line break starts the next block.
        buffer[: filled - size] = buffer[size:filled]
        filled -= size


def _fit(buffer: bytearray, size: int) -> None:
    """Grow ``buffer`` to ``size`` bytes if it is smaller; a buffer reused is never shrunk."""
    if len(buffer) < size:
        buffer.extend(bytes(size - len(buffer)))


def file_ranges(path: str, start: int = 0) -> Iterator[InFile]:
    """The file from ``start`` in ranges of whole lines, about ``BLOCK_BYTES`` each, by seeking.

    The last ones shrink, down to a sixteenth, so that at the end no process is left projecting
    a whole block while the others wait for it: a few milliseconds of two workers, measured.
    """
    size = os.path.getsize(path)
    while start < size:
        step = min(BLOCK_BYTES, max(BLOCK_BYTES // 16, (size - start) // 8, 1))
        # Opened for each range, not across the yield: a caller that stops early, an error
        # on the way, leaves no file open until the generator is collected.
        with open(path, "rb") as file:
            file.seek(min(start + step, size))
            file.readline()
            end = file.tell()
        yield InFile(path, start, end)
        start = end
