"""Worker processes: blocks of an NDJSON stream projected in other processes too, in order.

``project_in_workers`` is how ``project_stream`` (``_stream``) runs with ``workers`` above one.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from . import _bulk
from ._bulk import Block, InBuffer, InFile, fit, read_and_project
from ._compile import Compiled
from ._mask import Mask
from ._schema import Schema

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["project_in_workers"]

# Parts submitted to each worker process: one being projected and two waiting, so that it does
# not idle while this process finishes a block of its own before it reads the worker's results.
_SUBMITTED_PER_WORKER: Final = 3
# Blocks held in order per process: room for this process to work ahead of a slow worker.
_HELD_PER_WORKER: Final = 4

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

    part: _Chunk | InFile
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
        part: InBuffer | InFile
        if isinstance(sent, _Chunk):
            try:
                _receive_bytes(connection, buffer, sent.size, unframed)
            except (EOFError, OSError):
                break  # the parent is gone
            part = InBuffer(buffer, sent.size)
        else:
            part = sent
        try:
            block = read_and_project(compiled, part, keep_going, buffer)
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
    fit(buffer, size)
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
            memory = mmap.mmap(-1, _SUBMITTED_PER_WORKER * _bulk.BLOCK_BYTES)
            self._slots = _Slots(memory, _bulk.BLOCK_BYTES)
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

    def submit(self, part: InBuffer | InFile, keep_going: bool) -> None:
        slot = self._submitted % _SUBMITTED_PER_WORKER
        if isinstance(part, InBuffer):
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


def project_in_workers(
    compiled: Compiled, parts: Iterator[InBuffer | InFile], workers: int, keep_going: bool
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

    def take() -> InBuffer | InFile | None:
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
                    held.append(read_and_project(compiled, part, keep_going, buffer))
                    continue
            held.popleft()
            block = head if isinstance(head, Block) else head.result()
            yield block
            if block.rejected and not keep_going:
                return
    finally:
        for worker in pool:
            worker.stop()
