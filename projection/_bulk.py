"""Bulk input: NDJSON streams projected in constant memory, on one core or several, in order.

``project_lines`` is the lazy API behind ``Projection.project_lines``.
``project_stream`` is the engine of ``projection apply``: it tells one JSON document from NDJSON,
reads NDJSON in blocks of lines, projects them (in worker processes if asked), writes the results
in input order, and lets no invalid line go unnoticed.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import mmap
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, Final, Literal, NamedTuple, cast

import msgspec

from ._compile import Compiled, collector_paused
from ._errors import PayloadError
from ._mask import Mask
from ._scan import JSON_WHITE_SPACE, is_json
from ._schema import Schema

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = [
    "Block",
    "input_start",
    "project_block",
    "project_lines",
    "project_stream",
    "then_rejected",
]

# Lines are read and sent to workers in blocks of about this many bytes: large enough that the
# cost of a hand-off is small, small enough that a few blocks in flight use little memory.
BLOCK_BYTES: Final = 4 << 20
# Parts submitted to each worker process: one being projected and two waiting, so that it does
# not idle while this process finishes a block of its own before it reads the worker's results.
_SUBMITTED_PER_WORKER: Final = 3
# Blocks held in order per process: room for this process to work ahead of a slow worker.
_HELD_PER_WORKER: Final = 4

# Some Windows tools start UTF-8 text with this mark; JSON has no use for it, and RFC 8259 lets
# a reader skip it.
_BYTE_ORDER_MARK: Final = b"\xef\xbb\xbf"
# What every gzip stream starts with: such input gets a hint rather than an error at byte 0.
_GZIP_MAGIC: Final = b"\x1f\x8b"
# Tells whether the first block reads as JSON: a value, whole or cut short (``_begins_a_value``).
_VALUE: Final = msgspec.json.Decoder(msgspec.Raw)

Layout = Literal["auto", "json", "ndjson"]
"""How ``project_stream`` reads its input: one JSON document, NDJSON, or told by its start."""

ErrorHandler = Callable[[PayloadError], None]
"""Receives each rejected line; with none, the first invalid line raises."""


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
        reads = _read_blocks(b"", io.BytesIO(lines))
        blocks = (_project_part(compiled, part, keep_going=False, buffer=buffer) for part in reads)
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


def then_rejected(blocks: Iterable[Block], on_error: ErrorHandler | None) -> Iterator[Block]:
    """Each block, then its rejected lines, numbered across blocks: raised, or handed on.

    Asked for the next block, it first deals with the last one's rejected lines: what came
    before an invalid line is written before the error is raised.
    """
    lines_before = 0
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
    breaks: int  # line breaks in the input, to number the lines of the blocks after it
    rejected: list[tuple[int, PayloadError]]  # with the 1-based line number inside the block


def project_block(
    compiled: Compiled, buffer: bytes | bytearray, size: int, keep_going: bool
) -> Block:
    """The block that is the first ``size`` bytes of ``buffer``, projected.

    Without ``keep_going`` the block stops at its first invalid line, after what came before.
    """
    # Its lines and decoded documents, thousands of objects, would trigger collections that
    # walk every object of the process and find nothing: a tenth of the run, measured.
    with collector_paused():
        lines, breaks = _lines(buffer, size)
        whole = compiled.project_documents(lines)
        # The views hold the buffer, which cannot grow while they live; a rejected line's error
        # keeps this frame alive through its traceback, so they are dropped here, not on return.
        del lines
        if whole is not None:
            return Block(whole, size, breaks, [])
        # Line by line: the block holds an invalid line, or a shape or projection msgspec cannot
        # take in one pass.
        output: list[bytes] = []
        rejected: list[tuple[int, PayloadError]] = []
        # Split on "\n" only: a lone "\r" is white space inside a JSON line, not a line break.
        for number, line in enumerate(bytes(memoryview(buffer)[:size]).split(b"\n"), start=1):
            try:
                projected = _project_line(compiled, line)
            except PayloadError as error:
                rejected.append((number, error))
                if not keep_going:
                    break
                continue
            if projected is not None:
                output.append(projected)
        return Block(b"".join(output), size, breaks, rejected)


def _project_part(
    compiled: Compiled, part: _Read | _Range, keep_going: bool, buffer: bytearray
) -> Block:
    """A part projected: a range of a file is read into ``buffer``, which each process reuses.

    Read into new memory, a block's pages are reused or faulted in anew as the allocator sees
    fit; where it gave them back, a loop over 1 GB took a quarter more time, measured.
    """
    if isinstance(part, _Read):
        return project_block(compiled, part.buffer, part.size, keep_going)
    return project_block(compiled, buffer, part.read_into(buffer), keep_going)


def _lines(buffer: bytes | bytearray, size: int) -> tuple[list[memoryview], int]:
    """The non-empty lines of ``buffer[:size]`` as views, nothing copied, and its line breaks.

    The breaks are counted here, where ``find`` meets each of them anyway: ``bytes.count`` looks
    at every byte, and took a quarter of a single worker's time, measured.
    """
    view = memoryview(buffer)
    lines = []
    breaks = 0
    start = 0
    while start < size:
        end = buffer.find(b"\n", start, size)
        if end < 0:
            end = size
        else:
            breaks += 1
        if end > start:
            lines.append(view[start:end])
        start = end + 1
    return lines, breaks


def _looks_like_a_line(line: bytes) -> bool:
    """Whether ``line`` reads as NDJSON's first line rather than the start of a document."""
    content = line.strip(JSON_WHITE_SPACE)
    if not content or is_json(content):
        return True
    # A first line that opens and closes a value is a line gone wrong, not a pretty document:
    # reading the rest as one document would hold all of it in memory, for nothing.
    return content[:1] + content[-1:] in (b"{}", b"[]")


def _is_one_document(start: bytes, ended: bool) -> bool:
    """Whether the input is one document, told by ``start``, its first block (all, if ``ended``).

    For input whose first line is not NDJSON's (``_looks_like_a_line``): a document spread over
    lines, or NDJSON whose first line is broken. A document reads as JSON, whole or up to where
    the block cuts it short; NDJSON goes wrong where its second line starts, a value after a
    value (where the input ends there, the whole of it is not one value).
    """
    if ended:
        if is_json(start):
            return True
    else:
        start = start[: start.rfind(b"\n") + 1]  # its whole lines
        if _begins_a_value(start):
            return True
    # Both go wrong: an invalid document, or broken NDJSON. NDJSON's lines are whole values from
    # their first byte on, where a pretty-printed document indents the values inside it.
    lines = start.lstrip(JSON_WHITE_SPACE).split(b"\n")[1:]
    return not any(line[:1] not in JSON_WHITE_SPACE and _looks_like_a_line(line) for line in lines)


def _begins_a_value(data: bytes) -> bool:
    """Whether ``data`` is one JSON value, whole or cut short at its end (ignoring UTF-8)."""
    complaint = _complaint(data)
    # Cut short, the data makes the decoder complain of its end, and a byte put there changes
    # the complaint; a fault before the end stops the decoder before it reads that byte.
    return complaint is None or _complaint(data + b"\x00") != complaint


def _complaint(data: bytes) -> str | None:
    """What the decoder says of ``data``: None if it is one JSON value."""
    try:
        _VALUE.decode(data)
    except (msgspec.DecodeError, RecursionError) as error:
        return str(error)
    return None


def input_start(head: bytes, decompress: str) -> int:
    """The bytes to skip at the start of input that begins with ``head``: a byte order mark.

    Gzip-compressed input is refused with a ``PayloadError`` at byte 0 that ends with
    ``decompress``, a hint that says how to read it instead.
    """
    if head.startswith(_GZIP_MAGIC):
        raise PayloadError(f"input looks gzip-compressed; {decompress}", pos=0)
    return len(_BYTE_ORDER_MARK) if head.startswith(_BYTE_ORDER_MARK) else 0


def _head(source: IO[bytes]) -> tuple[bytes, int]:
    """The blank lines that start ``source`` and its first other line; bytes skipped before them.

    A byte order mark is skipped; gzip-compressed input is refused with a hint.
    """
    head = source.readline()
    skipped = input_start(head, "decompress it first (gunzip -c FILE | projection apply ...)")
    lines = [head[skipped:]]
    # Each line looked at once: stripping all that was read so far at every line would cost
    # the square of the number of blank lines.
    while lines[-1] and not lines[-1].strip(JSON_WHITE_SPACE):
        lines.append(source.readline())
    return b"".join(lines), skipped


class _Read(NamedTuple):
    """A block of a stream: the first ``size`` bytes of ``buffer``, until the next is read."""

    buffer: bytearray
    size: int
    last: bool = False  # True when the stream is known to end with it


def _read_blocks(first: bytes, source: IO[bytes]) -> Iterator[_Read]:
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
                yield _Read(buffer, filled, last=True)
            return
        size = buffer.rfind(b"\n", 0, filled) + 1
        if size == 0:  # no line break yet: a longer line
            _fit(buffer, 2 * len(buffer))
            continue
        yield _Read(buffer, size)
        # What follows the last line break starts the next block.
        buffer[: filled - size] = buffer[size:filled]
        filled -= size


def _fit(buffer: bytearray, size: int) -> None:
    """Grow ``buffer`` to ``size`` bytes if it is smaller; a buffer reused is never shrunk."""
    if len(buffer) < size:
        buffer.extend(bytes(size - len(buffer)))


def _file_ranges(path: str, start: int = 0) -> Iterator[_Range]:
    """The file from ``start`` in ranges of whole lines, about ``BLOCK_BYTES`` each, by seeking.

    The last ones shrink, down to a sixteenth, so that at the end no process is left projecting
    a whole block while the others wait for it: a few milliseconds of two workers, measured.
    """
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        while start < size:
            step = min(BLOCK_BYTES, max(BLOCK_BYTES // 16, (size - start) // 8, 1))
            file.seek(min(start + step, size))
            file.readline()
            end = file.tell()
            yield _Range(path, start, end)
            start = end


class _Range(NamedTuple):
    """Part of a file, for a worker to read itself: cheaper than sending it through a pipe."""

    path: str
    start: int
    end: int

    def read_into(self, buffer: bytearray) -> int:
        """Read the range into the start of ``buffer``, grown to fit; how many bytes were read.

        Fewer than asked only if the file was cut short meanwhile.
        """
        size = self.end - self.start
        _fit(buffer, size)
        done = 0
        with open(self.path, "rb", buffering=0) as file, memoryview(buffer) as view:
            file.seek(self.start)
            while done < size:
                read = file.readinto(view[done:size])
                if not read:
                    break
                done += read
        return done


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

    With ``layout="auto"`` the first line that is not blank decides when it is a whole JSON
    value, or looks like one on a line of its own (``{...}`` or ``[...]``, invalid or not):
    NDJSON. Otherwise the first block decides (``_is_one_document``): one document when it
    reads as the start of one, or has no line of NDJSON, so that a broken first line does not
    make NDJSON one document. Input with no document at all (empty, or blank) gives no output,
    whatever the layout. A UTF-8 byte order mark is skipped; gzip-compressed input is refused.

    ``path``, the regular file ``source`` reads, lets workers read their blocks themselves.
    ``progress`` is called with the number of input bytes done so far. With ``on_error`` an
    invalid NDJSON line is handed to it and the run goes on; without, the first invalid line
    raises after what came before it is written.
    """
    first, skipped = _head(source)
    if not first.strip(JSON_WHITE_SPACE):
        return
    if layout == "auto" and not _looks_like_a_line(first):
        more = source.read(BLOCK_BYTES)
        first += more
        layout = "json" if _is_one_document(first, ended=len(more) < BLOCK_BYTES) else "ndjson"
    if layout == "json":
        data = first + source.read()
        sink.write(compiled.project(data).rstrip(b"\r\n") + b"\n")
        if progress is not None:
            progress(len(data))
        return
    keep_going = on_error is not None
    parts: Iterator[_Read | _Range]
    if path is not None and os.path.isfile(path):
        parts = _file_ranges(path, skipped)  # each process reads its own ranges of the file
        # No more processes than the file has blocks: the others would only start and stop.
        workers = max(1, min(workers, -(-os.path.getsize(path) // BLOCK_BYTES)))
    else:
        reads = _read_blocks(first, source)
        opening = next(reads, None)
        if opening is None or opening.last:
            workers = 1  # the stream ended within its first block: nothing to share
        parts = itertools.chain([] if opening is None else [opening], reads)
    blocks: Generator[Block, None, None]
    if workers == 1:
        buffer = bytearray()
        blocks = (_project_part(compiled, part, keep_going, buffer) for part in parts)
    else:
        blocks = _project_in_workers(compiled, parts, workers, keep_going)
    done = 0
    # Closed on the way out, however it is left: workers stop now, not when collected.
    with contextlib.closing(blocks):
        for block in then_rejected(blocks, on_error):
            sink.write(block.output)
            done += block.size
            if progress is not None:
                progress(done)


# -- worker processes -------------------------------------------------------------------------
#
# Each worker process has its own pipe. A stream's blocks go to it through a thread of this
# process, so that submitting never waits on a busy worker (a file's ranges, small, go at once);
# results come back through a thread of the worker, so that it projects its next part while this
# process has not yet read the last result. This process reads a worker's results itself, when
# it needs them, in order, most outputs from shared memory (``_Worker``). (A pool that reads
# results with a thread of this process, as ``concurrent.futures`` does, stalls its workers: the
# thread needs the interpreter lock, which this process holds while it projects a block of its
# own, and a worker cannot finish sending a result bigger than the pipe until it is read.)


class _Chunk(NamedTuple):
    """A block of a stream sent to a worker: its bytes follow, sent as ``_send_bytes`` does."""

    size: int


class _Task(NamedTuple):
    """A part to project, whether to keep going after an invalid line, where to leave the output."""

    part: _Chunk | _Range
    keep_going: bool
    slot: int


class _Done(NamedTuple):
    """What a worker sends for a block: the block without its output, and where the output is."""

    block: Block
    output_bytes: int
    slot: int | None  # the shared slot that holds it; None: it follows through the pipe


class _Slots(NamedTuple):
    """Memory shared by this process and a forked worker: a slot of ``size`` bytes per part."""

    memory: mmap.mmap
    size: int

    def view(self, slot: int, size: int) -> memoryview:
        start = slot * self.size
        return memoryview(self.memory)[start : start + size]


def _serve(
    connection: Connection,
    mask: Mask,
    case_insensitive: bool,
    schema: Schema | None,
    unframed: bool,
    slots: _Slots | None,
) -> None:
    """A worker process: project each part received, send back its block or the exception.

    A block's output is left in the ``slots`` shared with the parent where it fits, so it
    crosses no pipe; otherwise it follows a small pickled message that says how many bytes,
    sent as ``_send_bytes`` does, as a stream's blocks coming in do.
    """
    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    compiled = Compiled(mask, case_insensitive=case_insensitive, schema=schema)
    outgoing: queue.SimpleQueue[object] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(connection, outgoing, unframed), daemon=True)
    sender.start()
    buffer = bytearray()
    while True:
        try:
            task: _Task | None = connection.recv()
        except EOFError:
            break  # the parent is gone
        if task is None:
            break
        sent, keep_going, slot = task
        part: _Read | _Range
        if isinstance(sent, _Chunk):
            try:
                _receive_bytes(connection, buffer, sent.size, unframed)
            except (EOFError, OSError):
                break  # the parent is gone
            part = _Read(buffer, sent.size)
        else:
            part = sent
        try:
            block = _project_part(compiled, part, keep_going, buffer)
        except Exception as error:  # handed to the parent, which raises it
            outgoing.put(error)
        else:
            output = block.output
            block = block._replace(output=b"")
            if slots is not None and len(output) <= slots.size:
                slots.view(slot, len(output))[:] = output
                outgoing.put(_Done(block, len(output), slot))
            else:
                outgoing.put(_Done(block, len(output), None))
                outgoing.put(output)
    outgoing.put(None)
    sender.join()


def _send_all(connection: Connection, items: queue.SimpleQueue[Any], unframed: bool) -> None:
    """Send each item of ``items`` through ``connection``, up to None included.

    ``bytes`` are sent as ``_send_bytes`` does; anything else is pickled (``recv`` reads it).
    """
    while True:
        item = items.get()
        try:
            if type(item) is bytes:
                _send_bytes(connection, item, unframed)
            else:
                connection.send(item)
        except OSError:
            return  # the other process is gone or stopped listening; it finds out itself
        except Exception as error:  # an exception that does not pickle
            connection.send(RuntimeError(f"worker process failed: {item!r} ({error})"))
        if item is None:
            return


# Bytes cross the pipe unframed, written from and read into their buffers, where the system lets
# a pipe be read into a buffer (POSIX); elsewhere ``multiprocessing`` frames them, and copies
# them twice more on the way in: 2% less time with two workers on a file, measured. This process
# decides, and tells each worker.
_UNFRAMED: Final = hasattr(os, "readv")


def _send_bytes(connection: Connection, data: bytes, unframed: bool) -> None:
    if not unframed:
        connection.send_bytes(data)
        return
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += os.write(connection.fileno(), view[written:])


def _receive_bytes(connection: Connection, buffer: bytearray, size: int, unframed: bool) -> None:
    """Read the ``size`` bytes sent by ``_send_bytes`` into ``buffer``, grown to fit."""
    _fit(buffer, size)
    if not unframed:
        connection.recv_bytes_into(buffer)
        return
    with memoryview(buffer) as view:
        done = 0
        while done < size:
            read = os.readv(connection.fileno(), [view[done:size]])
            if not read:
                raise EOFError
            done += read


class _Worker:
    """One worker process: parts go in through ``submit``, blocks come out in the same order.

    A forked worker leaves each block's output in memory it shares with this process, in the
    slot named by its part, and ``result`` hands it on as a view. Through the pipe, each end
    copied it and this process waited for it, 25 ms in all on 1 GB where it now waits 5: two
    processes took 3% less time, measured. A worker started another way has no such memory and
    sends every output through the pipe, as a forked one does an output too big for a slot.

    There is a slot for each of the ``_SUBMITTED_PER_WORKER`` parts a worker may hold, taken in
    turn. A view stays valid until the caller asks for the next block: its slot is written again
    only by the part submitted ``_SUBMITTED_PER_WORKER`` parts later, which waits until this
    part's result is read, and parts are submitted only when the caller asks for a block.
    """

    def __init__(self, compiled: Compiled) -> None:
        # Imported here: runs with one worker, and the library itself, do without processes.
        import multiprocessing

        context = multiprocessing.get_context()
        self._connection, there = context.Pipe()
        self._unframed = _UNFRAMED
        self._slots = None
        if context.get_start_method() == "fork":
            memory = mmap.mmap(-1, _SUBMITTED_PER_WORKER * BLOCK_BYTES)
            self._slots = _Slots(memory, BLOCK_BYTES)
        self._process = context.Process(
            target=_serve,
            args=(
                there,
                compiled.mask,
                compiled.case_insensitive,
                compiled.schema,
                self._unframed,
                self._slots,
            ),
            daemon=True,
            name="projection worker",
        )
        self._process.start()
        there.close()
        self._tasks: queue.SimpleQueue[_Task | bytes | None] = queue.SimpleQueue()
        self._sender = threading.Thread(
            target=_send_all, args=(self._connection, self._tasks, self._unframed), daemon=True
        )
        self.pending = 0
        self._submitted = 0

    def submit(self, part: _Read | _Range, keep_going: bool) -> None:
        slot = self._submitted % _SUBMITTED_PER_WORKER
        if isinstance(part, _Read):
            # A stream's block: copied, since its buffer is read into again, and sent after the
            # task as it is, not pickled into it.
            chunk = bytes(memoryview(part.buffer)[: part.size])
            self._send(_Task(_Chunk(part.size), keep_going, slot), chunk, heavy=True)
        else:
            self._send(_Task(part, keep_going, slot), heavy=False)
        self._submitted += 1
        self.pending += 1

    def _send(self, *items: _Task | bytes | None, heavy: bool) -> None:
        """Send ``items`` in order, at once or through the sending thread.

        A stream's block, megabytes that a busy worker may leave unread for a while, goes
        through the thread, started then: after every worker is forked, since forking with
        threads can hang. From then on everything does, to keep the order. Until then a small
        message goes at once: handing a file's ranges to the thread took 2% of the time of two
        processes, measured.
        """
        if heavy and self._sender.ident is None:
            self._sender.start()
        if self._sender.ident is not None:
            for item in items:
                self._tasks.put(item)
            return
        with contextlib.suppress(OSError):  # the worker is gone: ``result`` says so
            for item in items:
                self._connection.send(item)

    def ready(self) -> bool:
        """Whether the next block has arrived, or started to."""
        return self._connection.poll()

    def result(self) -> Block:
        """The block of the oldest part submitted; raises what the worker raised."""
        try:
            outcome: _Done | Exception = self._connection.recv()
            output = self._output(outcome) if isinstance(outcome, _Done) else b""
        except (EOFError, OSError):
            self._process.join(1)
            raise RuntimeError(
                f"worker process {self._process.pid} stopped unexpectedly "
                f"(exit code {self._process.exitcode})"
            ) from None
        self.pending -= 1
        if isinstance(outcome, Exception):
            raise outcome  # out of the ``try``: an OSError of the worker's is not a broken pipe
        return outcome.block._replace(output=output)

    def _output(self, done: _Done) -> bytearray | memoryview:
        """A block's output: a view of its shared slot, or read from the pipe."""
        if done.slot is None:
            output = bytearray(done.output_bytes)
            _receive_bytes(self._connection, output, done.output_bytes, self._unframed)
            return output
        assert self._slots is not None  # a worker has slots only if given them
        return self._slots.view(done.slot, done.output_bytes)

    def stop(self) -> None:
        """Stop the process: at once if results are still owed, since none will be read."""
        if self.pending:
            self._process.terminate()
        # None says stop: closing this end of the pipe would not, as the workers forked since
        # hold copies of it.
        self._send(None, heavy=False)
        if self._sender.ident is not None:
            self._sender.join()
        self._connection.close()
        self._process.join()


def _project_in_workers(
    compiled: Compiled, parts: Iterator[_Read | _Range], workers: int, keep_going: bool
) -> Generator[Block, None, None]:
    """Blocks projected by ``workers`` processes, this one included, yielded in input order.

    The other processes are kept supplied with a few parts each. While the next block in order
    is still being projected elsewhere, this process projects the next part itself rather than
    wait, so each process's share follows its speed (a worker also pays for sending its output
    back; this process's blocks cross no pipe). At most a few blocks per worker are held, so
    memory stays bounded however long the stream; reading stops once a block fails and errors
    are not to be skipped. A stream's part is only valid until the next is taken: a worker is
    sent a copy, and this process projects its own at once, from the reader's buffer. In turn,
    a block's output may be a view of memory shared with a worker, only valid until the next
    block is asked for.
    """
    most_held = workers * _HELD_PER_WORKER
    held: deque[Block | _Worker] = deque()  # in input order; a worker stands for its next block
    pool: list[_Worker] = []
    buffer = bytearray()
    exhausted = False

    def take() -> _Read | _Range | None:
        nonlocal exhausted
        part = None if exhausted else next(parts, None)
        exhausted = part is None
        return part

    try:
        pool.extend(_Worker(compiled) for _ in range(workers - 1))
        while True:
            for worker in pool:
                while len(held) < most_held and worker.pending < _SUBMITTED_PER_WORKER:
                    part = take()
                    if part is None:
                        break
                    worker.submit(part, keep_going)
                    held.append(worker)
            if not held:
                return
            head = held[0]
            if isinstance(head, _Worker) and not head.ready() and len(held) < most_held:
                part = take()
                if part is not None:
                    held.append(_project_part(compiled, part, keep_going, buffer))
                    continue
            held.popleft()
            block = head if isinstance(head, Block) else head.result()
            yield block
            if block.rejected and not keep_going:
                return
    finally:
        for worker in pool:
            worker.stop()
