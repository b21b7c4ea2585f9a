"""The engine of ``projection apply``: one JSON document or an NDJSON stream, source to sink.

``project_stream`` tells one JSON document from NDJSON, reads NDJSON in blocks of lines
(``_bulk``), projects them in this process or in worker processes too (``_workers``), writes the
results in input order, and lets no invalid line go unnoticed.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Generator, Iterator
from typing import IO, Final, Literal, NamedTuple

import msgspec

from . import _bulk
from ._bulk import (
    Block,
    ErrorHandler,
    Lines,
    collector_paused,
    file_ranges,
    input_start,
    read_and_project,
    read_blocks,
    then_rejected,
)
from ._compile import Compiled
from ._scan import JSON_WHITE_SPACE, is_json
from ._workers import project_in_workers

__all__ = ["Layout", "project_stream"]

# Tells whether the first block reads as JSON: a value, whole or cut short (``_begins_a_value``).
_VALUE: Final = msgspec.json.Decoder(msgspec.Raw)

Layout = Literal["auto", "json", "ndjson"]
"""How ``project_stream`` reads its input: one JSON document, NDJSON, or told by its start."""


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
    # ``_bulk.BLOCK_BYTES`` is read where it is used, so that tests can make blocks small.
    head = _head(source)
    first = head.line
    if not first:
        return
    if layout == "auto" and not _looks_like_a_line(first):
        more = source.read(_bulk.BLOCK_BYTES)
        first += more
        ended = len(more) < _bulk.BLOCK_BYTES
        layout = "json" if _is_one_document(first, ended=ended) else "ndjson"
    if layout == "json":
        # The blank lines skipped come back as spaces, white space to the decoder as they were:
        # the byte an error names is where it is in the input.
        data = b" " * head.blank_bytes + first + source.read()
        with collector_paused():
            projected = compiled.project(data)
        sink.write(projected.rstrip(b"\r\n") + b"\n")
        if progress is not None:
            progress(len(data))
        return
    keep_going = on_error is not None
    inputs: Iterator[Lines]
    if path is not None and os.path.isfile(path):
        inputs = file_ranges(path, head.start)  # each process reads its own ranges of the file
        # No more processes than the file has blocks: the others would only start and stop.
        workers = max(1, min(workers, -(-os.path.getsize(path) // _bulk.BLOCK_BYTES)))
    else:
        reads = read_blocks(first, source)
        opening = next(reads, None)
        if opening is None or opening.last:
            workers = 1  # the stream ended within its first block: nothing to share
        inputs = itertools.chain([] if opening is None else [opening], reads)
    blocks: Generator[Block, None, None]
    if workers == 1:
        buffer = bytearray()
        blocks = (read_and_project(compiled, lines, keep_going, buffer) for lines in inputs)
    else:
        blocks = project_in_workers(compiled, inputs, workers, keep_going)
    done = head.blank_bytes
    # Closed on the way out, however it is left: workers stop now, not when collected.
    with contextlib.closing(blocks):
        for block in then_rejected(blocks, on_error, lines_before=head.blank_lines):
            sink.write(block.output)
            done += block.size
            if progress is not None:
                progress(done)


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


class _Head(NamedTuple):
    """How the input starts: blank lines, then the first line that holds something."""

    line: bytes  # b"" if there is none
    start: int  # where ``line`` starts, past a byte order mark and the blank lines
    blank_bytes: int
    blank_lines: int


def _head(source: IO[bytes]) -> _Head:
    """The first line of ``source`` that is not blank, read past the blank lines before it,
    which are counted, not kept: each of them kept on its own took 90 bytes a byte, measured.

    A byte order mark is skipped; gzip-compressed input is refused with a hint.
    """
    line = source.readline()
    start = input_start(line, "decompress it first (gunzip -c FILE | projection apply ...)")
    line = line[start:]
    blank_bytes = blank_lines = 0
    while line and not line.strip(JSON_WHITE_SPACE):
        blank_bytes += len(line)
        blank_lines += 1
        line = source.readline()
    return _Head(line, start + blank_bytes, blank_bytes, blank_lines)
