"""NDJSON files on Dask: parts byte for byte what one process writes, every rejected line told.

A real cluster of two worker processes, started once for the module, runs most tests; blocks
of a few hundred bytes put lines and invalid lines on block borders. The expected output is the
single-process engine's (``project_stream``, as ``projection apply --format ndjson`` runs it) on
each file in turn. One test starts ``dask scheduler`` and two ``dask worker`` commands, as a real
cluster is, and runs the command line against it.

Internals reached: the single-process engine (``projection._bulk.project_stream``) and the
compiled projection it runs on (``tests/internals.py``), as the expected output.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import pickle
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import projection
from projection import PayloadError, Projection
from projection._stream import project_stream
from projection.kibo import CustomerAuthTicket, iter_sample_lines
from tests import internals
from tests.strategies import expressions, objects

pytest.importorskip("dask")
pytest.importorskip("distributed")

# Imported once the extra is known to be installed.
import dask
import dask.bag
from distributed import Client, LocalCluster

from projection.dask import Report, project_bag, project_ndjson

EXPRESSION = "customerAccount(contacts(address)),accessToken"
BLOCKSIZE = 300  # bytes: a few lines a block, so that lines meet block borders everywhere


def _small(number: int) -> bytes:
    ticket = {
        "accessToken": f"t{number}",
        "userId": f"u{number}",
        "customerAccount": {"id": number, "contacts": [{"address": {"cityOrTown": "Porto"}}]},
    }
    return orjson.dumps(ticket)


def _lines(count: int, start: int = 0) -> list[bytes]:
    """Small tickets, a real one now and then, with blank, white-space and CRLF lines."""
    real = list(iter_sample_lines(3, seed=start))
    lines = []
    for number in range(start, start + count):
        line = _small(number) + b"\n"
        if number % 7 == 3:
            line = line[:-1] + b"\r\n"
        lines.append(line)
        if number % 11 == 5:
            lines.append(b"\n" if number % 2 else b" \t\r\n")
        if number % 17 == 9:
            lines.append(real[number % 3])
    return lines


def _dataset(directory: Path) -> list[Path]:
    """Three files that end with a line break, the second gzip-compressed, with invalid lines."""
    first = _lines(40)
    first[5] = b'{"accessToken": }\n'
    first[-1] = b"not json\n"  # the last line of the file, and so of some block
    second = _lines(30, start=100)
    second[0] = b'{"accessToken": "cut\n'
    third = _lines(50, start=200)
    third[22] = b"[1, 2\n"
    directory.mkdir()
    paths = [directory / "a.ndjson", directory / "b.ndjson.gz", directory / "c.ndjson"]
    paths[0].write_bytes(b"\xef\xbb\xbf" + b"".join(first))
    paths[1].write_bytes(gzip.compress(b"".join(second)))
    paths[2].write_bytes(b"".join(third))
    return paths


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _expected(
    paths: Sequence[Path], expression: str | Projection = EXPRESSION
) -> tuple[bytes, list[tuple[str, int]]]:
    """What ``projection apply --format ndjson --on-error skip`` writes for each file in turn,
    and the rejected lines, by file."""
    parsed = projection.parse(expression) if isinstance(expression, str) else expression
    output = io.BytesIO()
    rejected: list[tuple[str, int]] = []
    for path in sorted(paths):
        errors: list[PayloadError] = []
        source = io.BytesIO(_content(path))
        project_stream(
            internals.compiled(parsed), source, output, on_error=errors.append, layout="ndjson"
        )
        rejected += [(str(path), error.line) for error in errors if error.line is not None]
    return output.getvalue(), rejected


def _joined(parts: Sequence[str]) -> bytes:
    assert list(parts) == sorted(parts)
    return b"".join(_content(Path(part)) for part in parts)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # Its HTTP port chosen by the system: port 8787, taken by another cluster, would
            # have the scheduler warn, and the warning fail the tests.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        # Not the default: the tests without a client run on Dask's local schedulers.
        Client(cluster, set_as_default=False) as connected,
    ):
        yield connected


# -- on a cluster -----------------------------------------------------------------------------


def test_parts_are_what_one_process_writes_and_every_rejected_line_is_told(
    client: Client, tmp_path: Path
) -> None:
    paths = _dataset(tmp_path / "in")
    expected, rejected = _expected(paths)
    report = project_ndjson(
        str(tmp_path / "in" / "*"),
        tmp_path / "out",
        EXPRESSION,
        client=client,
        blocksize=BLOCKSIZE,
        on_error="skip",
    )
    assert _joined(report.parts) == expected
    assert [(item.file, item.line) for item in report.rejected] == rejected
    assert all(item.message.startswith(f"line {item.line}: ") for item in report.rejected)
    contents = [_content(path) for path in paths]
    assert report.files == 3
    # The plain files in many blocks; the compressed one in one.
    assert report.blocks == len(report.parts) > sum(len(c) // BLOCKSIZE for c in contents[::2])
    assert report.lines_in == sum(len(content.splitlines()) for content in contents)
    assert report.lines_out == expected.count(b"\n")
    assert report.bytes_in == sum(map(len, contents))
    assert report.bytes_out == len(expected)


def test_the_parts_concatenated_are_what_apply_writes_for_the_files_concatenated(
    client: Client, tmp_path: Path
) -> None:
    paths = _dataset(tmp_path / "in")
    joined = b"".join(_content(path) for path in sorted(paths))
    rejected: list[PayloadError] = []
    expected = io.BytesIO()
    compiled = internals.compiled(projection.parse(EXPRESSION))
    project_stream(
        compiled, io.BytesIO(joined), expected, on_error=rejected.append, layout="ndjson"
    )
    # The files given in another order, one twice: each is taken once, in sorted order.
    report = project_ndjson(
        [str(paths[2]), str(tmp_path / "in" / "?.ndjson*"), str(paths[0])],
        str(tmp_path / "out"),
        EXPRESSION,
        client=client,
        blocksize=BLOCKSIZE,
        on_error="report",
    )
    assert _joined(report.parts) == expected.getvalue()
    assert len(report.rejected) == len(rejected)


def test_fail_stops_at_the_first_invalid_line_naming_its_file_and_line(
    client: Client, tmp_path: Path
) -> None:
    paths = _dataset(tmp_path / "in")
    # The first file valid: the first invalid line is the compressed file's first.
    paths[0].write_bytes(b"".join(_lines(40)))
    _, rejected = _expected(paths)
    assert rejected[0] == (str(paths[1]), 1)
    with pytest.raises(PayloadError) as caught:
        project_ndjson(
            str(tmp_path / "in" / "*"),
            tmp_path / "out",
            EXPRESSION,
            client=client,
            blocksize=BLOCKSIZE,
        )
    assert caught.value.line == 1
    assert str(caught.value).startswith(f"{paths[1]}: line 1: ")
    # What apply writes before it stops: the first file's lines, then nothing.
    written = sorted(str(path) for path in (tmp_path / "out").iterdir())
    assert _joined(written) == _expected(paths[:1])[0]


def test_fail_in_the_middle_of_a_file_keeps_what_came_before_the_line(
    client: Client, tmp_path: Path
) -> None:
    lines = _lines(60)
    lines[37] = b'{"accessToken": 1,}\n'
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"".join(lines))
    compiled = internals.compiled(projection.parse(EXPRESSION))
    before = io.BytesIO()
    with pytest.raises(PayloadError) as expected:
        project_stream(compiled, io.BytesIO(path.read_bytes()), before, layout="ndjson")
    with pytest.raises(PayloadError) as caught:
        project_ndjson(path, tmp_path / "out", EXPRESSION, client=client, blocksize=BLOCKSIZE)
    assert caught.value.line == expected.value.line == 38
    assert str(caught.value) == f"{path}: {expected.value}"
    written = sorted(str(part) for part in (tmp_path / "out").iterdir())
    assert _joined(written) == before.getvalue()


def test_gzip_parts_decompress_to_the_same_lines(client: Client, tmp_path: Path) -> None:
    paths = _dataset(tmp_path / "in")
    expected, _ = _expected(paths)
    report = project_ndjson(
        [str(path) for path in paths],
        tmp_path / "out",
        EXPRESSION,
        client=client,
        blocksize=BLOCKSIZE,
        on_error="skip",
        compression="gzip",
    )
    assert all(part.endswith(".ndjson.gz") for part in report.parts)
    assert _joined(report.parts) == expected
    # Inferred from the input: compressed parts only when every file is compressed.
    assert all(not part.endswith(".gz") for part in _run_on(paths, tmp_path / "plain").parts)
    only = [path for path in paths if path.suffix == ".gz"]
    assert all(part.endswith(".gz") for part in _run_on(only, tmp_path / "packed").parts)


def _run_on(paths: Sequence[Path], destination: Path) -> Report:
    return project_ndjson([str(path) for path in paths], destination, EXPRESSION, on_error="skip")


def test_lines_longer_than_a_block_and_blocks_of_every_size_after_one_another(
    client: Client, tmp_path: Path
) -> None:
    # Lines of up to 300 kB, longer than a block and than the reads that look for where a
    # line begins; each worker reads blocks short and long into the buffer it keeps.
    lines = _lines(40)
    for number in (3, 4, 17, 30):
        lines[number] = orjson.dumps({"accessToken": "x" * 75_000 * (number % 4 + 1)}) + b"\n"
    lines[18] = b'{"accessToken": "' + b"y" * 150_000 + b'",}\n'
    path = tmp_path / "long.ndjson"
    path.write_bytes(b"".join(lines))
    expected, rejected = _expected([path])
    report = project_ndjson(
        path, tmp_path / "out", EXPRESSION, client=client, blocksize=50_000, on_error="report"
    )
    assert report.blocks > 10
    assert _joined(report.parts) == expected
    assert [(item.file, item.line) for item in report.rejected] == rejected == [(str(path), 19)]
    assert report.lines_in == len(lines)


def test_a_projection_parsed_with_a_schema_travels_to_the_workers(
    client: Client, tmp_path: Path
) -> None:
    parsed = projection.parse(
        "CUSTOMERACCOUNT(contacts(ADDRESS)),accesstoken", schema=CustomerAuthTicket
    )
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(iter_sample_lines(40)))
    report = project_ndjson(path, tmp_path / "out", parsed, client=client, blocksize=20_000)
    assert report.blocks > 2
    assert _joined(report.parts) == b"".join(parsed.project_lines(path.read_bytes()))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("cut.ndjson.gz", gzip.compress(b'{"a": 1}\n' * 100)[:20]),
        ("plain.ndjson.gz", b'{"a": 1}\n'),
        ("cut.ndjson.bz2", bz2.compress(b'{"a": 1}\n' * 100)[:20]),
        ("plain.ndjson.xz", b'{"a": 1}\n'),
    ],
)
def test_a_file_that_does_not_decompress_is_refused_by_name(
    client: Client, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    codec = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}[path.suffix]
    # Refused whatever on_error says: it is the file that is invalid, not a line of it.
    with pytest.raises(PayloadError) as caught:
        project_ndjson(path, tmp_path / "out", EXPRESSION, client=client, on_error="skip")
    assert str(caught.value).startswith(f"{path}: not valid {codec} data")


@pytest.mark.parametrize("text", ["a(", "-a(b)", "a" * 5000])
def test_expression_errors_pickle_once_distributed_is_loaded(text: str) -> None:
    # Loaded, distributed makes pickling carry errors' tracebacks and contexts (to raise a
    # worker's errors on the client), in this process as on its workers.
    assert "distributed" in sys.modules
    with pytest.raises(projection.ExpressionError) as caught:
        projection.parse(text)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (type(again), str(again)) == (type(caught.value), str(caught.value))


# -- without a cluster ------------------------------------------------------------------------


def test_without_a_client_on_the_threaded_scheduler(tmp_path: Path) -> None:
    paths = _dataset(tmp_path / "in")
    expected, rejected = _expected(paths)
    with dask.config.set(scheduler="threads"):
        report = project_ndjson(
            str(tmp_path / "in" / "*"),
            tmp_path / "out",
            EXPRESSION,
            blocksize=BLOCKSIZE,
            on_error="skip",
        )
    assert _joined(report.parts) == expected
    assert [(item.file, item.line) for item in report.rejected] == rejected


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.ndjson", b""),
        ("blank.ndjson", b"\n \n\t\r\n"),
        ("unended.ndjson", b'{"accessToken": "a"}\n{"accessToken": "b", "userId": "u"}'),
        ("unended-invalid.ndjson", b'{"accessToken": "a"}\n{"accessToken": '),
        ("crlf.ndjson", b'{"accessToken": "a"}\r\n\r\n{"userId": "u"}\r\n'),
        ("bom.ndjson", b'\xef\xbb\xbf{"accessToken": "a"}\n'),
        ("only-bom.ndjson", b"\xef\xbb\xbf"),
        ("empty.ndjson.gz", gzip.compress(b"")),
    ],
)
def test_each_file_is_read_as_apply_reads_it(tmp_path: Path, name: str, content: bytes) -> None:
    """Between two other files, so that each of its edges meets another file's."""
    (tmp_path / "in").mkdir()
    paths = [tmp_path / "in" / "0.ndjson", tmp_path / "in" / name, tmp_path / "in" / "z.ndjson"]
    paths[0].write_bytes(b"".join(_lines(10)))
    paths[1].write_bytes(content)
    paths[2].write_bytes(b"".join(_lines(10, start=50)))
    expected, rejected = _expected(paths)
    with dask.config.set(scheduler="threads"):
        report = project_ndjson(
            [str(path) for path in paths],
            tmp_path / "out",
            EXPRESSION,
            blocksize=16,
            on_error="report",
        )
    assert _joined(report.parts) == expected
    assert [(item.file, item.line) for item in report.rejected] == rejected
    assert report.files == 3


def test_refusals(tmp_path: Path) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"".join(_lines(5)))
    with dask.config.set(scheduler="sync"):
        project_ndjson(path, tmp_path / "out", EXPRESSION)
        # Parts of another run would mix with this run's.
        with pytest.raises(FileExistsError):
            project_ndjson(path, tmp_path / "out", EXPRESSION)
        with pytest.raises(FileNotFoundError):
            project_ndjson(str(tmp_path / "none-*.ndjson"), tmp_path / "out2", EXPRESSION)
        with pytest.raises(ValueError, match="on_error"):
            project_ndjson(path, tmp_path / "out3", EXPRESSION, on_error="ignore")  # type: ignore[arg-type]
        for blocksize in (0, "0B", -1):
            with pytest.raises(ValueError, match="blocksize"):
                project_ndjson(path, tmp_path / "out6", EXPRESSION, blocksize=blocksize)
            assert not (tmp_path / "out6").exists()
        with pytest.raises(projection.ProjectionSyntaxError):
            project_ndjson(path, tmp_path / "out4", "a(")
        # Compressed, but not named so: refused whatever on_error says, as apply refuses it.
        packed = tmp_path / "packed.ndjson"
        packed.write_bytes(gzip.compress(path.read_bytes()))
        with pytest.raises(PayloadError) as caught:
            project_ndjson(packed, tmp_path / "out5", EXPRESSION, on_error="skip")
        assert str(caught.value).startswith(f"{packed}: input looks gzip-compressed")


_line = st.one_of(
    objects.map(orjson.dumps),
    st.sampled_from([b"", b" \t\r", b"not json", b'{"a":', b"[1, 2]", b"null", b'{"a": 1}\r']),
)
_file = st.tuples(
    st.lists(_line, max_size=12), st.booleans(), st.booleans(), st.booleans()
)  # lines, ended with a line break, gzip-compressed, starting with a byte order mark


@given(
    files=st.lists(_file, min_size=1, max_size=3),
    text=expressions,
    blocksize=st.integers(8, 200),
)
@settings(max_examples=40, deadline=None)
def test_any_files_in_any_blocks_give_what_one_process_gives(
    files: list[tuple[list[bytes], bool, bool, bool]], text: str, blocksize: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        paths = []
        for number, (lines, ended, packed, bom) in enumerate(files):
            content = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines)
            content += b"\n" if ended and lines else b""
            path = Path(directory, "in", f"{number}.ndjson" + (".gz" if packed else ""))
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(gzip.compress(content) if packed else content)
            paths.append(path)
        expected, rejected = _expected(paths, text)
        with dask.config.set(scheduler="threads"):
            report = project_ndjson(
                str(Path(directory, "in", "*")),
                Path(directory, "out"),
                text,
                blocksize=blocksize,
                on_error="skip",
                compression=None,
            )
        assert _joined(report.parts) == expected
        assert [(item.file, item.line) for item in report.rejected] == rejected


# -- bags -------------------------------------------------------------------------------------


def test_a_bag_of_lines_or_blocks_gives_the_projected_lines(client: Client) -> None:
    lines = _lines(30)
    parsed = projection.parse(EXPRESSION)
    expected = list(parsed.project_lines(b"".join(lines)))

    def projected(elements: list[bytes] | list[str], partitions: int) -> list[bytes | str]:
        bag = dask.bag.from_sequence(elements, npartitions=partitions)
        found: list[bytes | str] = project_bag(bag, parsed).compute(scheduler=client)
        return found

    assert projected(lines, 4) == expected
    assert projected([line.decode() for line in lines], 3) == [line.decode() for line in expected]
    # Blocks of lines, the last without its line break; lines without theirs.
    blocks = [b"".join(lines[:10]), b"".join(lines[10:25]), b"".join(lines[25:]).rstrip(b"\n")]
    assert projected(blocks, 2) == expected
    assert projected([line.rstrip(b"\r\n") for line in lines], 2) == expected
    # The text of an expression is parsed here too, once.
    bag = dask.bag.from_sequence(lines, npartitions=2)
    assert project_bag(bag, EXPRESSION).compute(scheduler=client) == expected


def test_an_invalid_line_in_a_bag_raises_with_its_partition_and_line() -> None:
    lines = [_small(number) for number in range(9)]
    lines[7] = b"{]"
    bag = dask.bag.from_sequence([b"\n".join(lines[:4]), *lines[4:]], npartitions=2)
    with pytest.raises(PayloadError) as caught:
        project_bag(bag, EXPRESSION).compute(scheduler="threads")
    # Three elements a partition: partition 0 holds the block of four lines and two more.
    assert caught.value.line == 2
    assert str(caught.value).startswith("partition 1: line 2: ")


# -- the command line on a cluster of separate processes --------------------------------------


@contextlib.contextmanager
def _cluster(directory: Path) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` on 127.0.0.1: the scheduler's address.

    Every server takes a port the system picks, the scheduler's written to a file the workers
    and the client read: a fixed or probed port could be taken by another process meanwhile.
    """
    scheduler_file = str(directory / "scheduler.json")
    processes: list[subprocess.Popen[bytes]] = []

    def start(*words: str) -> None:
        quiet = subprocess.DEVNULL
        command = [sys.executable, "-m", "dask", *words, "--host", "127.0.0.1", "--no-dashboard"]
        command += ["--scheduler-file", scheduler_file]
        processes.append(subprocess.Popen(command, stdout=quiet, stderr=quiet))

    try:
        start("scheduler", "--port", "0", "--dashboard-address", "127.0.0.1:0")
        for _ in range(2):
            start("worker", "--nthreads", "1", "--no-nanny")
        with Client(scheduler_file=scheduler_file, timeout=60) as connected:
            connected.wait_for_workers(2, timeout=60)
            address: str = connected.scheduler.address
        yield address
    finally:
        # The workers first: a worker whose scheduler has gone waits for it a long while.
        for group in (processes[1:], processes[:1]):
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _apply(*words: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "projection", "apply", EXPRESSION, *words]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_the_command_line_on_a_scheduler_and_two_workers(tmp_path: Path) -> None:
    paths = _dataset(tmp_path / "in")
    expected, rejected = _expected(paths)
    with _cluster(tmp_path) as address:
        out, stopped = str(tmp_path / "out"), str(tmp_path / "stopped")
        report = _apply(*map(str, paths), "--dask", address, "-o", out, "--on-error", "report")
        failed = _apply(str(tmp_path / "in" / "*"), "--output", stopped, "--dask", address)
    # Each rejected line shown with its file, then counted; the status says some were.
    assert (report.returncode, report.stdout) == (1, b"")
    shown = [f"projection: {file}: line {line}: " for file, line in rejected]
    errors = report.stderr.decode().splitlines()
    assert [line[: len(prefix)] for line, prefix in zip(errors, shown, strict=False)] == shown
    places = ", ".join(f"{file}:{line}" for file, line in rejected)
    assert errors[len(shown) :] == [f"projection: rejected {len(rejected)} invalid lines: {places}"]
    parts = sorted(str(part) for part in (tmp_path / "out").iterdir())
    assert _joined(parts) == expected
    # fail: the first invalid line stops it, with status 1.
    assert failed.returncode == 1
    file, line = rejected[0]
    assert failed.stderr.decode().startswith(f"projection: {file}: line {line}: ")


def test_the_command_line_names_a_file_that_does_not_decompress(tmp_path: Path) -> None:
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(gzip.compress(b"".join(_lines(40)))[:-20])
    result = _apply(str(path), "--dask", "-w", "1", "-o", str(tmp_path / "out"))
    assert (result.returncode, result.stdout) == (1, b"")
    errors = result.stderr.decode()
    assert errors.splitlines()[-1].startswith(f"projection: {path}: not valid gzip data")
    assert "Traceback (most recent call last)" not in errors


def test_the_command_line_on_a_cluster_of_its_own(tmp_path: Path) -> None:
    paths = _dataset(tmp_path / "in")
    expected, rejected = _expected(paths)
    out = tmp_path / "out"
    with socket.socket() as taken:
        # The port a Dask scheduler serves HTTP on by default, as another cluster would hold
        # it: taken here, unless it is taken already.
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", 8787))
            taken.listen()
        words = ("--dask", "-w", "2", "-o", str(out), "--on-error", "skip")
        result = _apply(*map(str, paths), *words)
    assert (result.returncode, result.stdout) == (1, b"")
    # Nothing but the count of rejected lines: no word from Dask.
    (summary,) = result.stderr.decode().splitlines()
    assert summary.startswith(f"projection: rejected {len(rejected)} invalid lines: ")
    assert _joined(sorted(str(part) for part in out.iterdir())) == expected
