"""NDJSON streams across processes: order, errors, a dying worker, early stops, pipes.

Blocks are made small here, so that a few hundred lines make many blocks and this process and
its workers interleave in many ways; which process projects which block is left to timing, and
every outcome must be the same whatever it was.

Internals reached: the bulk engine itself (``projection._bulk``: its block size, file ranges,
workers and transports), which the command and ``project_lines`` drive with a compiled projection
(``tests/internals.py``); the command's entry point and pipe sizing (``projection._cli``).
"""

from __future__ import annotations

import bisect
import gc
import io
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import projection
from projection import PayloadError, _bulk, _workers
from projection._bulk import Block, InFile
from projection._compile import Compiled
from projection._stream import Layout, project_stream
from projection.kibo import iter_sample_lines
from tests import internals
from tests.strategies import expressions, keys, objects

EXPRESSION = "customerAccount(id,contacts(email)),-customerAccount/contacts/email,accessToken"


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 8 << 10)


@pytest.fixture(scope="module")
def tickets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bulk") / "tickets.ndjson"
    path.write_bytes(b"".join(iter_sample_lines(400, seed=11)))
    return path


def stream(
    path: Path, *, workers: int, from_file: bool = True, skip: bool = False
) -> tuple[bytes, list[PayloadError]]:
    rejected: list[PayloadError] = []
    sink = io.BytesIO()
    with path.open("rb") as source:
        project_stream(
            internals.compiled(projection.parse(EXPRESSION)),
            source,
            sink,
            path=str(path) if from_file else None,
            workers=workers,
            on_error=rejected.append if skip else None,
        )
    return sink.getvalue(), rejected


def expected_lines(path: Path) -> bytes:
    return b"".join(projection.parse(EXPRESSION).project_lines(path.read_bytes()))


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("from_file", [True, False], ids=["file", "stream"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_output_keeps_the_input_order(tickets: Path, workers: int, from_file: bool) -> None:
    assert tickets.stat().st_size > 50 * _bulk.BLOCK_BYTES
    output, rejected = stream(tickets, workers=workers, from_file=from_file)
    assert output == expected_lines(tickets)
    assert rejected == []
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="only forked workers share memory"
)
@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("long_lines", [False, True], ids=["short-lines", "long-lines"])
def test_outputs_bigger_than_a_shared_slot_cross_the_pipe(
    tmp_path: Path, long_lines: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked worker leaves its outputs in shared memory; one too big for it goes by pipe."""
    lines = list(iter_sample_lines(200, seed=5))
    if long_lines:  # longer than a block: their blocks, and outputs, outgrow a slot
        for number in range(0, 200, 20):
            lines[number] = orjson.dumps({"accessToken": "x" * 3 * _bulk.BLOCK_BYTES}) + b"\n"
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(lines))
    # A worker's output is handed on as a view of its slot, or as the bytes that crossed the pipe.
    through_the_pipe: list[int] = []
    result = _workers._Worker.result

    def recorded(worker: _workers._Worker) -> Block:
        block = result(worker)
        if not isinstance(block.output, memoryview):
            through_the_pipe.append(len(block.output))
        return block

    monkeypatch.setattr(_workers._Worker, "result", recorded)
    output, _ = stream(path, workers=2)
    assert output == expected_lines(path)
    if long_lines:
        assert through_the_pipe
        assert min(through_the_pipe) > _bulk.BLOCK_BYTES
    else:
        assert through_the_pipe == []


def test_file_ranges_cover_the_file_in_whole_lines_and_shrink_at_the_end(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 64 << 10)  # blocks of a dozen lines
    data = tickets.read_bytes()
    ranges = list(_bulk.file_ranges(str(tickets)))
    assert ranges[0].start == 0
    assert ranges[-1].end == len(data)
    assert all(before.end == after.start for before, after in itertools.pairwise(ranges))
    assert all(data[part.end - 1 : part.end] == b"\n" for part in ranges)
    sizes = [part.end - part.start for part in ranges]
    # Ranges of a block and a line at most; the last ones down to a sixteenth of a block.
    assert max(sizes) < _bulk.BLOCK_BYTES + max(map(len, data.splitlines(keepends=True)))
    assert sizes[-1] < _bulk.BLOCK_BYTES // 4 < sizes[0]


_lines = st.lists(
    st.one_of(
        objects.map(orjson.dumps),
        st.sampled_from([b"", b" \t\r", b"not json", b'{"a":', b"[1, 2]", b"null"]),
    ),
    min_size=1,
    max_size=30,
)


@given(lines=_lines, text=expressions, workers=st.sampled_from([2, 3]), from_file=st.booleans())
@settings(max_examples=100, deadline=None)
def test_any_stream_gives_what_one_process_gives(
    lines: list[bytes], text: str, workers: int, from_file: bool
) -> None:
    data = b"\n".join(lines) + b"\n"
    compiled = internals.compiled(projection.parse(text))

    def run(workers: int) -> tuple[bytes, list[int | None]]:
        rejected: list[PayloadError] = []
        sink = io.BytesIO()
        with tempfile.NamedTemporaryFile() as file:
            file.write(data)
            file.flush()
            file.seek(0)
            project_stream(
                compiled,
                file,
                sink,
                path=file.name if from_file else None,
                workers=workers,
                on_error=rejected.append,
                layout="ndjson",
            )
        return sink.getvalue(), [error.line for error in rejected]

    # Each line on its own, as project_lines takes it: what every run must give.
    expected_output, expected_rejected = b"", []
    for number, line in enumerate(lines, start=1):
        try:
            expected_output += b"".join(projection.parse(text).project_lines([line]))
        except PayloadError:
            expected_rejected.append(number)
    # Blocks of a line or two: lines meet block edges everywhere, and outgrow the buffer.
    with mock.patch.object(_bulk, "BLOCK_BYTES", 32):
        assert run(1) == run(workers) == (expected_output, expected_rejected)


@given(lines=_lines, text=expressions)
@settings(max_examples=100, deadline=None)
def test_project_lines_on_bytes_in_blocks_gives_what_it_gives_line_by_line(
    lines: list[bytes], text: str
) -> None:
    data = b"\n".join(lines) + b"\n"
    parsed = projection.parse(text)

    def run(source: bytes | list[bytes]) -> tuple[list[bytes], str | None]:
        output: list[bytes] = []
        try:
            output.extend(parsed.project_lines(source))
        except PayloadError as error:
            return output, str(error)
        return output, None

    # Bytes of a block or more go in blocks, here of a line or two; a list goes line by line.
    with mock.patch.object(_bulk, "BLOCK_BYTES", 32):
        assert run(data) == run(data.split(b"\n"))


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("workers", [1, 2])
def test_invalid_lines_are_numbered_across_blocks(tmp_path: Path, workers: int) -> None:
    lines = list(iter_sample_lines(300, seed=12))
    invalid = [7, 150, 151, 299]
    for number in invalid:
        lines[number - 1] = b'{"accessToken": }\n'
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(lines))
    output, rejected = stream(path, workers=workers, skip=True)
    assert [error.line for error in rejected] == invalid
    assert len(output.splitlines()) == 300 - len(invalid)


@pytest.mark.usefixtures("small_blocks")
def test_failing_stops_at_the_first_invalid_line_and_stops_the_workers(tmp_path: Path) -> None:
    lines = list(iter_sample_lines(300, seed=13))
    lines[40] = b"not json\n"
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(lines))
    sink = io.BytesIO()
    with pytest.raises(PayloadError, match=r"^line 41: ") as raised, path.open("rb") as source:
        project_stream(
            internals.compiled(projection.parse(EXPRESSION)),
            source,
            sink,
            path=str(path),
            workers=2,
        )
    assert raised.value.line == 41
    assert sink.getvalue() == expected_lines_of(tmp_path / "first.ndjson", lines[:40])
    assert multiprocessing.active_children() == []


def expected_lines_of(path: Path, lines: list[bytes]) -> bytes:
    path.write_bytes(b"".join(lines))
    return expected_lines(path)


def test_an_exception_in_any_process_reaches_the_caller(tmp_path: Path) -> None:
    missing = InFile(str(tmp_path / "missing.ndjson"), 0, 10)
    blocks = _workers.project_in_workers(
        internals.compiled(projection.parse("a")), iter([missing] * 6), workers=2, keep_going=False
    )
    with pytest.raises(FileNotFoundError):
        list(blocks)
    assert multiprocessing.active_children() == []


# The failures below happen in worker processes only: the patch reaches them by fork.
in_forked_workers = pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the patch reaches workers by fork"
)


def fail_in_workers(
    monkeypatch: pytest.MonkeyPatch, failure: BaseException | Callable[[], object]
) -> None:
    """Each block a worker process (not this one) projects first raises ``failure`` or calls it."""
    parent = os.getpid()
    project_block = _bulk.project_block

    def in_a_worker(*arguments: object) -> object:
        if os.getpid() != parent:
            if isinstance(failure, BaseException):
                raise failure
            failure()
        return project_block(*arguments)  # type: ignore[arg-type]

    monkeypatch.setattr(_bulk, "project_block", in_a_worker)


@in_forked_workers
@pytest.mark.usefixtures("small_blocks")
def test_a_worker_that_dies_is_reported(tickets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_in_workers(monkeypatch, lambda: os._exit(3))
    with pytest.raises(RuntimeError, match=r"worker process \d+ stopped unexpectedly"):
        stream(tickets, workers=2)
    assert multiprocessing.active_children() == []


@in_forked_workers
@pytest.mark.usefixtures("small_blocks")
def test_a_worker_whose_loop_exits_on_an_exception_is_reported(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its thread that sends replies does not keep the process alive: the process ends."""
    fail_in_workers(monkeypatch, SystemExit(3))
    with pytest.raises(RuntimeError, match=r"worker process \d+ stopped unexpectedly"):
        stream(tickets, workers=2)
    assert multiprocessing.active_children() == []


@in_forked_workers
@pytest.mark.usefixtures("small_blocks")
def test_an_error_a_worker_cannot_send_reaches_the_caller_described(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class UnpicklableError(Exception):  # a class local to a function does not pickle
        pass

    fail_in_workers(monkeypatch, UnpicklableError("not for the pipe"))
    with pytest.raises(RuntimeError, match=r"worker process failed: .*not for the pipe"):
        stream(tickets, workers=2)
    assert multiprocessing.active_children() == []


@in_forked_workers
@pytest.mark.usefixtures("small_blocks")
def test_an_os_error_in_a_worker_reaches_the_caller_as_itself(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not taken for the pipe breaking: the worker is alive, and said what went wrong."""
    fail_in_workers(monkeypatch, PermissionError("no reading here"))
    with pytest.raises(PermissionError, match="no reading here"):
        stream(tickets, workers=2)
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("small_blocks")
def test_stopping_early_stops_the_workers(tickets: Path) -> None:
    blocks = _workers.project_in_workers(
        internals.compiled(projection.parse(EXPRESSION)),
        _bulk.file_ranges(str(tickets)),
        workers=3,
        keep_going=False,
    )
    first = next(blocks)
    assert first.output
    blocks.close()
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("small_blocks")
def test_a_pool_that_fails_to_start_stops_the_workers_it_started(
    tickets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _workers._Worker.__init__
    made: list[object] = []

    def second_fails(self: _workers._Worker, *arguments: Any) -> None:
        if made:
            raise OSError("no second process")
        started(self, *arguments)
        made.append(self)

    monkeypatch.setattr(_workers._Worker, "__init__", second_fails)
    with pytest.raises(OSError, match="no second process"):
        stream(tickets, workers=3)
    assert len(made) == 1
    assert multiprocessing.active_children() == []


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(
    ("kilobytes", "from_file", "workers_started"),
    [(8, True, 0), (16, True, 1), (1_600, True, 7), (8, False, 0), (1_600, False, 7)],
)
def test_no_more_processes_start_than_there_are_blocks(
    tmp_path: Path, kilobytes: int, from_file: bool, workers_started: int
) -> None:
    """A file's size is known; a stream that ends within its first block needs no workers."""
    # As many tickets (about 4 KB each, so one per KB is plenty) as fit; blocks of 8 KB.
    size, lines = kilobytes << 10, list(iter_sample_lines(kilobytes, seed=3))
    total = list(itertools.accumulate(map(len, lines)))
    fitting = lines[: bisect.bisect_right(total, size)]
    assert size - (8 << 10) < sum(map(len, fitting)) <= size
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(fitting))
    started = 0
    start = _workers._Worker.__init__

    def counted(self: _workers._Worker, compiled: Compiled) -> None:
        nonlocal started
        started += 1
        start(self, compiled)

    with mock.patch.object(_workers._Worker, "__init__", counted):
        output, _ = stream(path, workers=8, from_file=from_file)
    assert output == expected_lines(path)
    assert started == workers_started


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_workers_start_with_any_start_method(tickets: Path, method: str) -> None:
    # A worker that is not forked shares no memory with this process: every output crosses the
    # pipe.
    script = f"""
import multiprocessing, sys
from projection._cli import main
if __name__ == "__main__":
    multiprocessing.set_start_method({method!r})
    sys.exit(main(["apply", {EXPRESSION!r}, {str(tickets)!r}, "--workers", "2"]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == expected_lines(tickets)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc")
def test_the_workers_of_a_parent_killed_outright_exit() -> None:
    """A parent killed with SIGKILL closes nothing: its workers, which hold copies of its ends
    of their pipes, see that it is gone and exit, rather than wait for ever; also those that
    were still starting when it went (each is held up a second here, as it starts)."""
    script = """
import multiprocessing, signal, time
import projection
from projection import _workers
from projection._bulk import InBuffer
from projection._projection import compiled

def held_up(*arguments):
    time.sleep(1)
    return signal.SIG_DFL

_workers.signal.signal = held_up  # called first thing in a worker, and only there

def blocks():
    yield InBuffer(b'{"a": 1}\\n', 9)
    print(*(child.pid for child in multiprocessing.active_children()), flush=True)
    time.sleep(600)  # the workers wait for the next block

for _ in _workers.project_in_workers(
    compiled(projection.parse("a")), blocks(), workers=3, keep_going=False
):
    pass
"""
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as parent:
        try:
            assert parent.stdout is not None
            workers = [int(pid) for pid in parent.stdout.readline().split()]
        finally:
            parent.kill()
    assert len(workers) == 2
    deadline = time.monotonic() + 20
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers))


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie, unreaped, has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pipe_size(descriptor: int) -> int:
    import fcntl

    return fcntl.fcntl(descriptor, fcntl.F_GETPIPE_SZ)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
def test_pipes_are_widened_and_anything_else_is_left_alone(tmp_path: Path) -> None:
    from projection._cli import _PIPE_BYTES, _widen_pipe

    reading, writing = os.pipe()
    with open(reading, "rb") as pipe, open(writing, "wb"), (tmp_path / "f").open("wb") as file:
        _widen_pipe(pipe)
        assert _pipe_size(reading) == _PIPE_BYTES
        _widen_pipe(file)  # not a pipe: nothing happens, nothing is raised
        _widen_pipe(io.BytesIO())  # no descriptor at all


def test_text_is_a_type_error(tmp_path: Path) -> None:
    parsed = projection.parse("a")
    path = tmp_path / "lines.ndjson"
    path.write_text('{"a": 1}\n')
    # Told at once where the input is text as a whole.
    with path.open() as text_file:
        texts: list[Any] = ['{"a": 1}\n', io.StringIO('{"a": 1}\n'), text_file]
        for text in texts:
            with pytest.raises(TypeError, match=r"bytes.*not (str|StringIO|TextIOWrapper)"):
                parsed.project_lines(text)
    # Lines: at the first line of text, after what came before it.
    mixed: list[Any] = [b'{"a": 1}\n', '{"a": 2}\n']
    lines = parsed.project_lines(line for line in mixed)
    assert next(lines) == b'{"a":1}\n'
    with pytest.raises(TypeError, match=r"bytes.*not str"):
        next(lines)
    with pytest.raises(TypeError, match=r"bytes.*not str"):
        list(parsed.project_lines(mixed[1:]))


def auto(data: bytes, *, path: Path | None = None) -> tuple[bytes, list[int]]:
    """``project_stream`` of ``data`` in auto mode, invalid lines skipped: output, their numbers."""
    rejected: list[PayloadError] = []
    sink = io.BytesIO()
    project_stream(
        internals.compiled(projection.parse("a")),
        io.BytesIO(data),
        sink,
        path=None if path is None else str(path),
        on_error=rejected.append,
    )
    return sink.getvalue(), [error.line for error in rejected if error.line is not None]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b'{\n  "a": 1,\n  "b": {"c": 2}\n}\n', (b'{"a":1}\n', []), id="pretty-object"),
        pytest.param(
            b'[\n  {"a": 1, "b": 2},\n  {"a": 3}\n]\n',
            (b'[{"a":1},{"a":3}]\n', []),
            id="pretty-array",
        ),
        pytest.param(b'{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n', (b'{"a":1}\n', []), id="pretty-crlf"),
        pytest.param(b'[\n{"a": 1}\n]', (b'[{"a":1}]\n', []), id="array-of-one-line-objects"),
        pytest.param(
            b'[{"a": 1}, {"b": 2}]\n{"a": \n', (b'[{"a":1},{}]\n', [2]), id="one-line-array"
        ),
        pytest.param(
            b'\n \n\t\r\n{"a": 1}\n{"a": 2}\n', (b'{"a":1}\n{"a":2}\n', []), id="blank-first"
        ),
        pytest.param(
            b'{"a": 1\n{"a": 2}\n{"a": 3}\n', (b'{"a":2}\n{"a":3}\n', [1]), id="truncated-first"
        ),
        pytest.param(
            b'{"a": 1\r\n{"a": 2}\r\n{"a": 3}\r\n',
            (b'{"a":2}\n{"a":3}\n', [1]),
            id="truncated-first-crlf",
        ),
        pytest.param(b'{"a":\n{"a": 2}\n', (b'{"a":2}\n', [1]), id="truncated-first-then-one"),
        pytest.param(
            b'not json\n{"a": 1,\n{"a": 3}\n', (b'{"a":3}\n', [1, 2]), id="two-broken-first"
        ),
    ],
)
def test_auto_mode_tells_one_document_from_ndjson_with_a_broken_first_line(
    data: bytes, expected: tuple[bytes, list[int]]
) -> None:
    assert auto(data) == expected


def test_auto_mode_reads_an_invalid_pretty_printed_document_as_one() -> None:
    # Not as NDJSON, where line 1 would be blamed: the error says where the document goes wrong.
    with pytest.raises(PayloadError) as raised:
        auto(b'{\n  "a": [\n    1\n  ]\n  "b": 2\n}\n')
    assert (raised.value.pos, raised.value.line) == (23, None)


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("indent", [0, 2])
def test_auto_mode_reads_a_document_longer_than_a_block_as_one(indent: int) -> None:
    tickets = [orjson.loads(line) for line in iter_sample_lines(10, seed=4)]
    data = json.dumps(tickets, indent=indent).encode()
    assert len(data) > 4 * _bulk.BLOCK_BYTES
    output, rejected = auto(data)
    assert orjson.loads(output) == projection.parse("a").apply(tickets)
    assert rejected == []


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("from_file", [False, True], ids=["stream", "file"])
def test_ndjson_with_a_truncated_first_line_keeps_every_valid_line(
    tmp_path: Path, from_file: bool
) -> None:
    lines = [orjson.dumps({"a": number, "b": "x" * 100}) + b"\n" for number in range(300)]
    data = lines[0][:50] + b"\n" + b"".join(lines[1:])
    path = tmp_path / "lines.ndjson"
    path.write_bytes(data)
    assert len(data) > 4 * _bulk.BLOCK_BYTES
    output, rejected = auto(data, path=path if from_file else None)
    assert output == b"".join(orjson.dumps({"a": number}) + b"\n" for number in range(1, 300))
    assert rejected == [1]


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_byte_order_mark_is_skipped_where_workers_read_the_file(
    tickets: Path, tmp_path: Path, workers: int
) -> None:
    marked = tmp_path / "marked.ndjson"
    marked.write_bytes(b"\xef\xbb\xbf" + tickets.read_bytes())
    output, rejected = stream(marked, workers=workers)
    assert output == expected_lines(tickets)
    assert rejected == []


# A string value standing for invalid UTF-8 in the lines the oracle reads: longer than any text
# the strategies make, so it stands for nothing else.
_MARK = "<<invalid UTF-8 goes here>>"

_valid = objects.map(orjson.dumps)
_line_kinds = st.one_of(
    _valid.map(lambda line: (line, line)),
    _valid.map(lambda line: (line + b"\r", line + b"\r")),  # CRLF line ends
    _valid.flatmap(lambda line: st.integers(1, len(line) - 1).map(lambda cut: line[:cut])).map(
        lambda line: (line, line)
    ),
    st.sampled_from(
        [b"not json", b'{"a":}', b"}{", b"[1,]", b'{"a" 1}', b'{"a": 1}}', b"tru", b'"abc']
    ).map(lambda line: (line, line)),
    st.tuples(
        objects, keys, st.sampled_from([b"\xff", b"a\xc3", b"\xed\xa0\x80", b"\xc0\xaf"])
    ).map(
        lambda drawn: (
            orjson.dumps({**drawn[0], drawn[1]: _MARK}).replace(_MARK.encode(), drawn[2]),
            orjson.dumps({**drawn[0], drawn[1]: _MARK}),
        )
    ),
    st.sampled_from([b"", b" \t", b"\r"]).map(lambda line: (line, line)),
)


def _oracle(
    parsed: projection.Projection, lines: list[tuple[bytes, bytes]]
) -> tuple[list[tuple[int, Any]], list[int]]:
    """Each valid line's number and projected value, and the numbers of the invalid lines.

    Told by the reference semantics on ``json.loads``, line by line. A line with invalid UTF-8
    is read with a stand-in string there: invalid when the projection keeps it, since what comes
    out is always valid UTF-8, and valid when it is skipped (SEMANTICS rule 11).
    """
    values: list[tuple[int, Any]] = []
    invalid: list[int] = []
    for number, (_, readable) in enumerate(lines, start=1):
        if not readable.strip(b" \t\r"):
            continue
        try:
            value = parsed.apply(json.loads(readable.decode()))
        except ValueError:
            invalid.append(number)
            continue
        if _MARK in json.dumps(value):
            invalid.append(number)
        else:
            values.append((number, value))
    return values, invalid


@given(
    lines=st.lists(_line_kinds, min_size=1, max_size=30),
    text=expressions,
    block=st.integers(16, 512),
    group=st.integers(1, 256),
    workers=st.sampled_from([1, 2]),
    from_file=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_no_line_is_dropped_silently(
    lines: list[tuple[bytes, bytes]],
    text: str,
    block: int,
    group: int,
    workers: int,
    from_file: bool,
) -> None:
    """Every valid line comes out, projected, in order; every invalid one is told, by number."""
    parsed = projection.parse(text)
    values, invalid = _oracle(parsed, lines)
    data = b"\n".join(line for line, _ in lines) + b"\n"
    rejected: list[PayloadError] = []
    sink = io.BytesIO()
    # Blocks of a few lines at most: lines meet block edges everywhere, and outgrow the buffer;
    # inside a block, the groups its lines are decoded in meet them everywhere too.
    with (
        mock.patch.object(_bulk, "BLOCK_BYTES", block),
        mock.patch.object(_bulk, "_GROUP_BYTES", group),
        tempfile.NamedTemporaryFile() as file,
    ):
        file.write(data)
        file.flush()
        file.seek(0)
        project_stream(
            internals.compiled(parsed),
            file,
            sink,
            path=file.name if from_file else None,
            workers=workers,
            on_error=rejected.append,
            layout="ndjson",
        )
        assert [json.loads(line) for line in sink.getvalue().splitlines()] == [
            value for _, value in values
        ]
        assert [error.line for error in rejected] == invalid
        # project_lines stops at the first invalid line, after every valid line before it; on
        # bytes of a block or more it goes in blocks, on a list line by line.
        first_invalid = invalid[0] if invalid else None
        for source in (data, [line for line, _ in lines]):
            output: list[bytes] = []
            stopped_at = None
            try:
                output.extend(parsed.project_lines(source))
            except PayloadError as error:
                stopped_at = error.line
            assert stopped_at == first_invalid
            assert [json.loads(line) for line in output] == [
                value for number, value in values if first_invalid is None or number < first_invalid
            ]


def test_a_range_is_read_into_a_buffer_grown_to_fit_never_more(tmp_path: Path) -> None:
    """Each worker thread keeps its buffer from block to block: as large as its largest range."""
    path = tmp_path / "lines.ndjson"
    path.write_bytes(b"0123456789" * 3)
    buffer = bytearray(4)
    with path.open("rb", buffering=0) as file:
        assert _bulk.read_range(file, 5, 20, buffer) == 20
        assert buffer == b"56789012345678901234"
        assert _bulk.read_range(file, 0, 8, buffer) == 8
        assert buffer == b"01234567" + b"345678901234"  # not shrunk: the rest left as it was
        assert _bulk.read_range(file, 25, 20, buffer) == 5  # the file ends first
        assert buffer[:5] == b"56789"


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize(("workers", "from_file"), [(1, True), (1, False), (2, True), (2, False)])
def test_progress_climbs_block_by_block_to_the_size_of_the_input(
    tickets: Path, workers: int, from_file: bool
) -> None:
    seen: list[int] = []
    with tickets.open("rb") as source:
        project_stream(
            internals.compiled(projection.parse(EXPRESSION)),
            source,
            io.BytesIO(),
            path=str(tickets) if from_file else None,
            workers=workers,
            progress=seen.append,
        )
    assert len(seen) > 10  # a block at a time
    assert seen == sorted(seen)
    assert seen[0] > 0
    assert seen[-1] == tickets.stat().st_size


def test_rejected_lines_are_freed_block_by_block_without_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a rejected line leaves is freed once its block is dealt with, by reference counting.

    The command pauses the cyclic collector for each block, which then runs too seldom to keep
    up: a rejection that formed a cycle (an error holding, through its traceback, the frames
    that held the list that holds it) piled up with every block, 520 MB for 400,000 lines.
    With the collector off, a run of many blocks peaks at what one block needs.
    """
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 64 << 10)
    path = tmp_path / "invalid.ndjson"
    path.write_bytes(b'{"accessToken": "%b"\n' % (b"x" * 90) * 40_000)  # no closing brace
    assert path.stat().st_size > 60 * _bulk.BLOCK_BYTES
    compiled = internals.compiled(projection.parse(EXPRESSION))
    rejected = 0

    def count(error: PayloadError) -> None:
        nonlocal rejected
        rejected += 1

    collecting = gc.isenabled()
    gc.disable()
    try:
        _, peak = streamed(compiled, path, from_file=True, layout="ndjson", on_error=count)
    finally:
        if collecting:
            gc.enable()
    assert rejected == 40_000
    # A block in flight: its bytes, its lines, each one's error, the copies they are made of.
    assert peak < 16 * _bulk.BLOCK_BYTES


# Leading blank lines, 200,000 of them, as white space of every kind.
BLANK_LINES = b"\n \t\r\n" * 100_000


def peak_of_stream(
    data: bytes, tmp_path: Path, *, from_file: bool, layout: Layout
) -> tuple[bytes, list[PayloadError], int]:
    """``data`` projected by ``project_stream`` from a file, each rejected line, and the most
    memory the run held at once."""
    path = tmp_path / "input"
    path.write_bytes(data)
    compiled = internals.compiled(projection.parse("a"))
    rejected: list[PayloadError] = []
    output, peak = streamed(
        compiled, path, from_file=from_file, layout=layout, on_error=rejected.append
    )
    return output, rejected, peak


def streamed(
    compiled: Compiled,
    path: Path,
    *,
    from_file: bool,
    layout: Layout,
    on_error: Callable[[PayloadError], None],
) -> tuple[bytes, int]:
    """The file at ``path`` projected by ``project_stream`` (told its path, or read as a pipe),
    and the most memory the run held at once."""
    sink = io.BytesIO()
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            project_stream(
                compiled,
                source,
                sink,
                path=str(path) if from_file else None,
                on_error=on_error,
                layout=layout,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sink.getvalue(), peak


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("from_file", [True, False], ids=["file", "stream"])
@pytest.mark.parametrize("layout", ["auto", "ndjson"])
def test_leading_blank_lines_are_counted_not_kept(
    tmp_path: Path, from_file: bool, layout: Layout
) -> None:
    data = BLANK_LINES + b'{"a": 1, "b": 2}\n{"a": }\n'
    output, rejected, peak = peak_of_stream(data, tmp_path, from_file=from_file, layout=layout)
    assert output == b'{"a":1}\n'
    assert [(error.line, error.pos) for error in rejected] == [(200_002, 6)]
    assert peak < 8 * _bulk.BLOCK_BYTES  # a block's worth, however many blank lines


def test_a_document_after_blank_lines_is_read_without_them_and_refused_at_its_byte(
    tmp_path: Path,
) -> None:
    output, _, peak = peak_of_stream(
        BLANK_LINES + b'{"a": 1, "b": 2}\n', tmp_path, from_file=True, layout="json"
    )
    assert output == b'{"a":1}\n'
    assert peak < 4 * len(BLANK_LINES)  # the document, read whole, and its copies
    data = BLANK_LINES + b'{"a": 1}\n{"a": 2}\n'
    with pytest.raises(PayloadError) as raised:
        peak_of_stream(data, tmp_path, from_file=True, layout="json")
    assert raised.value.pos == data.index(b'{"a": 2}')


@pytest.mark.parametrize("between", [b"", b"\n"])
def test_an_invalid_line_is_projected_on_its_own_not_the_lines_around_it(
    monkeypatch: pytest.MonkeyPatch, between: bytes
) -> None:
    """A block's lines go through the projection in runs; an invalid line ends one, goes on its
    own, and the next run starts after it: it costs itself, not its group line by line. Empty
    lines between the documents end no run."""
    compiled = internals.compiled(projection.parse(EXPRESSION))
    lines = list(iter_sample_lines(300, seed=14))
    lines[150] = b'{"accessToken": }\n'
    data = between.join(lines)
    expected = b"".join(
        compiled.project(line) + b"\n" for number, line in enumerate(lines) if number != 150
    )
    alone: list[bytes] = []
    project = Compiled.project

    def counted(self: Compiled, document: bytes) -> bytes:
        alone.append(document)
        return project(self, document)

    monkeypatch.setattr(Compiled, "project", counted)
    block = _bulk.project_block(compiled, data, len(data), keep_going=True)
    assert [number for number, _ in block.rejected] == [151 * (1 + len(between)) - len(between)]
    assert alone == [b'{"accessToken": }']
    assert block.output == expected
