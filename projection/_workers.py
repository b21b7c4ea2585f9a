"""Worker processes: an NDJSON stream's blocks projected in other processes too, in order.

``project_in_workers`` is ``project_stream`` (``_stream``) with ``workers`` above one: this
process and ``workers - 1`` worker processes project the blocks, and it yields them in input
order. It speaks to each worker over a pipe of its own:

- This process sends a ``_Request`` per block: the block, whether to keep going after an invalid
  line, and the slot for its output. A file's block is sent as where it is (``InFile``), and the
  worker reads it itself; a stream's block follows its request, as bytes. ``None`` says stop.
- The worker answers each request, in order, with a ``_Reply``: the block projected, without
  its output, and the output's size in the request's slot, memory it shares with this process
  (``_Worker``); where it has none (it was not forked) or the output does not fit, the output
  follows the reply, as bytes. Or it answers with the exception the block raised, which this
  process raises in turn. A worker that stops without answering, or cannot send its
  exception, is a ``WorkerError``.

Neither end waits for the other to read: each sends through a thread of its own (``_send_all``),
so that it goes on projecting while megabytes wait in the pipe. This process reads the replies
itself, when it needs them, in order. (A pool that reads them with a thread of this process, as
``concurrent.futures`` does, stalls its workers: the thread needs the interpreter lock, which
this process holds while it projects a block of its own, and a worker cannot finish sending an
output bigger than the pipe until it is read.)
"""

from __future__ import annotations

import mmap
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from . import _bulk
from ._bulk import Block, InBuffer, InFile, Lines, own_the_collector, read_and_project
from ._compile import Compiled
from ._mask import Mask
from ._schema import Schema

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["WorkerError", "project_in_workers"]

# Requests each worker holds: one block being projected and two waiting, so that it does not
# idle while this process finishes a block of its own before it reads the worker's replies.
_REQUESTS_PER_WORKER: Final = 3
# Blocks held in order per process: room for this process to work ahead of a slow worker.
_HELD_PER_WORKER: Final = 4
# How often a worker waiting for a request looks whether its parent is still there.
_PARENT_CHECK_SECONDS: Final = 0.5


class WorkerError(RuntimeError):
    """A worker process stopped unexpectedly (killed, out of memory), or failed with an
    exception it could not send: nothing the input did."""


class _Request(NamedTuple):
    """A block for a worker to project, and the slot to leave its output in."""

    lines: InFile | None  # None: a stream's block, whose bytes follow the request
    keep_going: bool  # after an invalid line
    slot: int


class _Reply(NamedTuple):
    """A worker's answer to a request: the block projected, and where its output is."""

    block: Block  # with an empty output
    in_slot: int | None  # the output's size in the request's slot; None: it follows the reply


def _serve(
    connection: Connection,
    mask: Mask,
    case_insensitive: bool,
    schema: Schema | None,
    slots: list[mmap.mmap] | None,
    creator: int | None,
) -> None:
    """A worker process: answer each request received (``_Request``, ``_Reply``) until ``None``.

    ``creator``: the process that started it, where that is its parent (forked or spawned), so
    that a parent gone before this line runs is seen gone; None where a server process forked
    it (forkserver), which is then its parent.
    """
    # Ctrl-C reaches the whole process group: the parent handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid() if creator is None else creator
    own_the_collector()  # this process is the library's own
    compiled = Compiled(mask, case_insensitive=case_insensitive, schema=schema)
    outgoing: queue.SimpleQueue[object] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(connection, outgoing), daemon=True)
    sender.start()
    buffer = bytearray()
    while True:
        try:
            # A parent killed outright never closes this pipe: a forked worker holds a copy of
            # the parent's end (and of the other workers'), so it would wait for ever.
            while not connection.poll(_PARENT_CHECK_SECONDS):
                if os.getppid() != parent:
                    os._exit(1)  # nothing waits for what comes next
            request: _Request | None = connection.recv()
            if request is None:
                break
            lines: Lines
            if request.lines is None:
                data = connection.recv_bytes()
                lines = InBuffer(data, len(data))
            else:
                lines = request.lines
        except (EOFError, OSError):
            break  # the parent is gone
        try:
            block = read_and_project(compiled, lines, request.keep_going, buffer)
        except Exception as error:  # handed to the parent, which raises it
            outgoing.put(error)
            continue
        output = block.output
        block = block._replace(output=b"")
        if slots is not None and len(output) <= len(slots[request.slot]):
            slots[request.slot][: len(output)] = output
            outgoing.put(_Reply(block, len(output)))
        else:
            outgoing.put(_Reply(block, None))
            outgoing.put(bytes(output))
    outgoing.put(None)
    sender.join()


def _send_all(connection: Connection, items: queue.SimpleQueue[Any]) -> None:
    """Send each item of ``items`` through ``connection``, up to None included.

    ``bytes`` are sent as they are (``recv_bytes`` reads them); anything else is pickled
    (``recv`` reads it).
    """
    while True:
        item = items.get()
        try:
            if type(item) is bytes:
                connection.send_bytes(item)
            else:
                connection.send(item)
        except OSError:
            return  # the other process is gone or stopped listening; it finds out itself
        except Exception as error:  # an exception that does not pickle
            connection.send(WorkerError(f"worker process failed: {item!r} ({error})"))
        if item is None:
            return


class _Worker:
    """One worker process: blocks go in through ``submit``, come out of ``result`` in order.

    A forked worker leaves each block's output in memory it shares with this process, in the
    slot named by the request, and ``result`` hands it on as a view. Through the pipe, each end
    copied it and this process waited for it, 25 ms in all on 1 GB where it now waits 5: two
    processes took 3% less time, measured. A worker started another way has no such memory and
    sends every output through the pipe, as a forked one does an output too big for a slot.

    There is a slot for each of the ``_REQUESTS_PER_WORKER`` requests a worker may hold, taken
    in turn. A view stays valid until the caller asks for the next block: its slot is written
    again only by the request sent ``_REQUESTS_PER_WORKER`` requests later, which waits until
    this one's reply is read, and requests are sent only when the caller asks for a block.
    """

    def __init__(self, compiled: Compiled) -> None:
        # Imported here: runs with one worker, and the library itself, do without processes.
        import multiprocessing

        context = multiprocessing.get_context()
        self._connection, there = context.Pipe()
        # Anonymous shared memory reaches a worker only by fork; one started another way would
        # need it pickled, which it cannot be.
        self._slots = None
        if context.get_start_method() == "fork":
            self._slots = [mmap.mmap(-1, _bulk.BLOCK_BYTES) for _ in range(_REQUESTS_PER_WORKER)]
        self._process = context.Process(
            target=_serve,
            args=(
                there,
                compiled.mask,
                compiled.case_insensitive,
                compiled.schema,
                self._slots,
                None if context.get_start_method() == "forkserver" else os.getpid(),
            ),
            daemon=True,
            name="projection worker",
        )
        self._process.start()
        there.close()
        self._outgoing: queue.SimpleQueue[_Request | bytes | None] = queue.SimpleQueue()
        self._sender = threading.Thread(
            target=_send_all, args=(self._connection, self._outgoing), daemon=True
        )
        self.pending = 0
        self._sent = 0

    def start_sending(self) -> None:
        """Start the thread that sends to the worker; only once every worker is started, since
        forking a process while a thread runs can hang."""
        self._sender.start()

    def submit(self, lines: Lines, keep_going: bool) -> None:
        slot = self._sent % _REQUESTS_PER_WORKER
        if isinstance(lines, InBuffer):
            # A stream's block: copied, since its buffer is read into again, and sent after the
            # request as it is, not pickled into it.
            self._outgoing.put(_Request(None, keep_going, slot))
            self._outgoing.put(bytes(memoryview(lines.buffer)[: lines.size]))
        else:
            self._outgoing.put(_Request(lines, keep_going, slot))
        self._sent += 1
        self.pending += 1

    def ready(self) -> bool:
        """Whether the next block has arrived, or started to."""
        return self._connection.poll()

    def result(self) -> Block:
        """The block of the oldest request; raises what the worker raised."""
        slot = (self._sent - self.pending) % _REQUESTS_PER_WORKER
        try:
            reply: _Reply | Exception = self._connection.recv()
            if isinstance(reply, Exception):
                output: bytes | memoryview = b""
            elif reply.in_slot is None:
                output = self._connection.recv_bytes()
            else:
                assert self._slots is not None  # a worker has slots only if given them
                output = memoryview(self._slots[slot])[: reply.in_slot]
        except (EOFError, OSError):
            self._process.join(1)
            raise WorkerError(
                f"worker process {self._process.pid} stopped unexpectedly "
                f"(exit code {self._process.exitcode})"
            ) from None
        self.pending -= 1
        if isinstance(reply, Exception):
            raise reply  # out of the ``try``: an OSError of the worker's is not a broken pipe
        return reply.block._replace(output=output)

    def stop(self) -> None:
        """Stop the process: at once if results are still owed, since none will be read."""
        if self.pending:
            self._process.terminate()
        # None says stop: closing this end of the pipe would not, as the workers forked since
        # hold copies of it.
        self._outgoing.put(None)
        if self._sender.ident is None:  # the pool failed to start
            self._sender.start()
        self._sender.join()
        self._connection.close()
        self._process.join()


def project_in_workers(
    compiled: Compiled, inputs: Iterator[Lines], workers: int, keep_going: bool
) -> Generator[Block, None, None]:
    """Blocks projected by ``workers`` processes, this one included, yielded in input order.

    The other processes are kept supplied with a few blocks each. While the next block in order
    is still being projected elsewhere, this process projects the next one itself rather than
    wait, so each process's share follows its speed (a worker also pays for sending its output
    back; this process's blocks cross no pipe). At most a few blocks per worker are held, so
    memory stays bounded however long the stream; reading stops once a block fails and errors
    are not to be skipped. A stream's block is only valid until the next is taken: a worker is
    sent a copy, and this process projects its own at once, from the reader's buffer. In turn,
    a block's output may be a view of memory shared with a worker, only valid until the next
    block is asked for.
    """
    most_held = workers * _HELD_PER_WORKER
    held: deque[Block | _Worker] = deque()  # in input order; a worker stands for its next block
    pool: list[_Worker] = []
    buffer = bytearray()
    exhausted = False

    def take() -> Lines | None:
        nonlocal exhausted
        lines = None if exhausted else next(inputs, None)
        exhausted = lines is None
        return lines

    try:
        pool.extend(_Worker(compiled) for _ in range(workers - 1))
        for worker in pool:
            worker.start_sending()
        while True:
            for worker in pool:
                while len(held) < most_held and worker.pending < _REQUESTS_PER_WORKER:
                    lines = take()
                    if lines is None:
                        break
                    worker.submit(lines, keep_going)
                    held.append(worker)
            if not held:
                return
            head = held[0]
            if isinstance(head, _Worker) and not head.ready() and len(held) < most_held:
                lines = take()
                if lines is not None:
                    held.append(read_and_project(compiled, lines, keep_going, buffer))
                    continue
            held.popleft()
            block = head if isinstance(head, Block) else head.result()
            yield block
            if block.rejected and not keep_going:
                return
    finally:
        for worker in pool:
            worker.stop()
