"""NDJSON datasets on a Dask cluster: files cut into blocks of lines, projected where they are read.

``project_ndjson`` writes ``part-NNNNN.ndjson`` files whose concatenation, in name order, is what
``projection apply EXPR --format ndjson`` writes for each input file in turn, and returns a
``Report`` that counts every line and names each rejected one by file and line. ``project_bag``
projects a ``dask.bag.Bag`` of NDJSON text. Needs the ``dask`` extra.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import itertools
import os
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

try:
    import dask
    import dask.bag
    import fsspec
    from dask.diagnostics import ProgressBar
    from dask.utils import parse_bytes
    from fsspec.compression import compr
    from fsspec.core import OpenFile, get_fs_token_paths
    from fsspec.implementations.local import LocalFileSystem
    from fsspec.utils import compressions, infer_compression
except ImportError as error:  # the edges of the library are optional; its core is not
    raise ImportError(
        f"projection.dask needs dask: pip install 'kibo-projection[dask]' ({error})",
        name=error.name,
    ) from error

from ._bulk import Block, input_start, project_block, read_range, then_rejected
from ._errors import PayloadError
from ._projection import Projection, compiled, parse

if TYPE_CHECKING:
    from dask.delayed import Delayed
    from distributed import Client
    from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

    from ._compile import Compiled

__all__ = ["Rejected", "Report", "project_bag", "project_ndjson"]

OnError = Literal["fail", "skip", "report"]

# Wide enough that the names of most runs sort as numbers do; a run of more blocks gets more
# digits, all its names alike.
_DIGITS: Final = 5
# The suffix of each codec's files, for the parts' names: the inverse of what fsspec infers from.
_SUFFIXES: Final = {codec: f".{suffix}" for suffix, codec in reversed(compressions.items())}
_GZIP_HINT: Final = (
    "its name does not say so (*.gz), so it was read as it is: rename it, or decompress it"
)
# Bytes read at a time to find where a line begins, near a block's border: most lines are shorter.
_PROBE: Final = 1 << 16


class Rejected(NamedTuple):
    """An invalid line left out by ``on_error="skip"`` or ``"report"``.

    ``line`` counts from 1 within ``file``; ``message`` is the error as the command line shows
    it, from the line number on.
    """

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Report:
    """What ``project_ndjson`` did. Lines are counted as ``projection apply`` reads them: a last
    line without a line break counts, blank lines count in but not out; bytes are uncompressed.
    """

    files: int
    blocks: int
    lines_in: int
    lines_out: int
    bytes_in: int
    bytes_out: int
    rejected: tuple[Rejected, ...]
    parts: tuple[str, ...]


class _Part(NamedTuple):
    """What a worker sends back for a block: its counts, not its output, which it wrote."""

    size: int
    breaks: int
    lines_in: int
    lines_out: int
    bytes_out: int
    rejected: list[tuple[int, PayloadError]]


def project_ndjson(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    destination: str | os.PathLike[str],
    expression: str | Projection,
    *,
    client: Client | None = None,
    blocksize: int | str | None = "64MiB",
    on_error: OnError = "fail",
    compression: str | None = "infer",
    progress: bool = False,
) -> Report:
    """Project NDJSON files into ``destination``, a directory, as ``part-00000.ndjson``, ...

    ``source``: a path, a glob or a list of them, any fsspec URL (``s3://...`` with s3fs); each
    file is taken once, in sorted order, its compression inferred from its name (``.gz``,
    ``.bz2``, ``.xz``, ...): one that does not decompress is a ``PayloadError`` that names it,
    whatever ``on_error`` says. A file is cut into blocks of about ``blocksize`` bytes (``None``:
    not cut), one part each; a compressed file cannot be cut, and is one block.
    ``compression`` is the parts': ``"infer"`` compresses them as the input files are when they
    all are alike, ``None`` not at all, or a codec fsspec knows (``"gzip"``:
    ``part-00000.ndjson.gz``). The destination must not hold parts already; a run that fails
    other than on an invalid line leaves the parts it wrote.

    ``expression`` is parsed here, once; the workers receive the ``Projection``. With
    ``client``, a ``distributed.Client``, the blocks run on its cluster; without, on Dask's
    current scheduler. ``on_error``: ``"fail"`` raises ``PayloadError`` for the first invalid
    line in input order, naming its file and line, after removing the parts that follow its
    own; ``"skip"`` and ``"report"`` leave invalid lines out and list them in the report.
    ``progress`` draws Dask's progress bar on stderr.
    """
    if on_error not in ("fail", "skip", "report"):
        raise ValueError(f"on_error must be 'fail', 'skip' or 'report', not {on_error!r}")
    projection = _parsed(expression)
    fs, paths = _input_files(source)
    blocks = _blocks(fs, paths, blocksize)
    codec = _output_codec(paths, compression)
    out_fs, root = fsspec.core.url_to_fs(os.fspath(destination))
    out_fs.makedirs(root, exist_ok=True)
    if out_fs.glob(f"{root.rstrip('/')}/part-*"):
        raise FileExistsError(
            errno.EEXIST, "the destination holds parts already", os.fspath(destination)
        )

    digits = max(_DIGITS, len(str(len(blocks) - 1)))
    names = [
        f"{root.rstrip('/')}/part-{number:0{digits}d}.ndjson{_SUFFIXES.get(codec, '')}"
        for number in range(len(blocks))
    ]
    # Named for the progress bar, which groups tasks by name; unique to the run, since a
    # block's part is written as a side effect, which a run again must do again.
    run = uuid.uuid4().hex
    project = dask.delayed(_project_part, pure=False)
    tasks = [
        project(
            block,
            projection,
            on_error != "fail",
            _shown(fs, paths[block.file]),
            out_fs,
            name,
            codec,
            dask_key_name=f"project-ndjson-{run}-{number}",
        )
        for number, (block, name) in enumerate(zip(blocks, names, strict=True))
    ]
    parts = _computed(tasks, client, progress)

    rejected: list[Rejected] = []
    for path, numbers in _by_file(paths, blocks):
        shown = _shown(fs, path)

        def keep(error: PayloadError, shown: str = shown) -> None:
            assert error.line is not None  # then_rejected numbers every error
            rejected.append(Rejected(shown, error.line, str(error)))

        in_order = (Block(b"", parts[n].size, parts[n].breaks, parts[n].rejected) for n in numbers)
        try:
            for _ in then_rejected(in_order, None if on_error == "fail" else keep):
                pass
        except PayloadError as error:
            # What ``projection apply`` writes before it stops: the parts up to the one that
            # holds the line, the first of the file's to have rejected any.
            failed = next(number for number in numbers if parts[number].rejected)
            out_fs.rm(names[failed + 1 :])  # every task wrote its part
            raise PayloadError(f"{shown}: {error}", pos=error.pos, line=error.line) from None
    return Report(
        files=len(paths),
        blocks=len(blocks),
        lines_in=sum(part.lines_in for part in parts),
        lines_out=sum(part.lines_out for part in parts),
        bytes_in=sum(part.size for part in parts),
        bytes_out=sum(part.bytes_out for part in parts),
        rejected=tuple(rejected),
        parts=tuple(_shown(out_fs, name) for name in names),
    )


def _parsed(expression: str | Projection) -> Projection:
    if isinstance(expression, Projection):
        return expression
    if isinstance(expression, str):
        return parse(expression)
    raise TypeError(f"expression must be a str or a Projection, not {type(expression).__name__}")


def _input_files(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> tuple[AbstractFileSystem, list[str]]:
    """The filesystem of ``source`` and its files, globs expanded, each once, in sorted order."""
    sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    if not sources:
        raise ValueError("no source: give a path, a glob or a list of them")
    # A list, so that every glob character expands (a lone string expands only "*").
    fs, _, paths = get_fs_token_paths([os.fspath(item) for item in sources], mode="rb")
    if not paths:
        shown = ", ".join(os.fspath(item) for item in sources)
        raise FileNotFoundError(errno.ENOENT, "no file matches", shown)
    return fs, sorted(set(paths))


def _shown(fs: AbstractFileSystem, path: str) -> str:
    """How a file is named to users: its path on this machine, its URL elsewhere."""
    return path if isinstance(fs, LocalFileSystem) else str(fs.unstrip_protocol(path))


def _output_codec(paths: list[str], compression: str | None) -> str | None:
    if compression != "infer":
        if compression not in _SUFFIXES and compression is not None:
            raise ValueError(
                f"compression must be 'infer', None or one of {sorted(_SUFFIXES)}, "
                f"not {compression!r}"
            )
        return compression
    codecs = {infer_compression(path) for path in paths}
    return codecs.pop() if len(codecs) == 1 else None


class _Source(NamedTuple):
    """A block, to be read where it is projected: the lines of ``fs``'s ``path`` that begin at
    byte ``start`` or after and before byte ``end``; ``end`` None for the whole file, as read
    through ``codec``. ``file`` is the path's index among the run's files."""

    fs: AbstractFileSystem
    path: str
    file: int
    start: int
    end: int | None
    codec: str | None


def _blocks(fs: AbstractFileSystem, paths: list[str], blocksize: int | str | None) -> list[_Source]:
    """Every block of every file, in input order.

    A file that is not compressed is cut into ranges of about ``blocksize`` bytes, as many as
    fit, none if it is empty; a compressed one cannot be cut, and is one block, as is every
    file without a ``blocksize``. Only sizes are asked for here: the workers find the lines.
    """
    size = parse_bytes(blocksize) if isinstance(blocksize, str) else blocksize
    if size is not None and size < 1:
        raise ValueError(f"blocksize must be a positive number of bytes or None, not {blocksize!r}")
    blocks = []
    for file, path in enumerate(paths):
        codec = infer_compression(path)
        if codec is not None or size is None:
            blocks.append(_Source(fs, path, file, 0, None, codec))
            continue
        length = fs.size(path)
        count = max(1, length // size)
        borders = [length * number // count for number in range(count + 1)] if length else []
        blocks += (
            _Source(fs, path, file, start, end, None) for start, end in itertools.pairwise(borders)
        )
    return blocks


def _by_file(paths: list[str], blocks: list[_Source]) -> Iterator[tuple[str, list[int]]]:
    """Each file that has blocks, with the numbers of its blocks, in order."""
    numbers: dict[int, list[int]] = {}
    for number, block in enumerate(blocks):
        numbers.setdefault(block.file, []).append(number)
    for file, found in numbers.items():
        yield paths[file], found


def _computed(tasks: list[Delayed], client: Client | None, progress: bool) -> list[_Part]:
    """The tasks run on ``client``'s cluster, or on Dask's current scheduler without one."""
    if client is not None:
        futures = client.compute(tasks)
        if progress:
            from distributed import progress as draw

            # Its bar goes to stdout, which may be the data: stderr is for people.
            with contextlib.redirect_stdout(sys.stderr):
                draw(futures, notebook=False)
        found: list[_Part] = client.gather(futures)
        return found
    with ProgressBar(out=sys.stderr) if progress else contextlib.nullcontext():
        return list(dask.compute(*tasks))


# -- on the workers ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _compiled(projection: Projection) -> Compiled:
    """The projection compiled once per worker process, however many tasks bring it: a task
    unpickles its own copy, and equal projections compile alike."""
    return compiled(projection)


def _project_part(
    source: _Source,
    projection: Projection,
    keep_going: bool,
    file: str,
    fs: AbstractFileSystem,
    part: str,
    codec: str | None,
) -> _Part:
    """Project a block of ``file`` into the part named ``part``, as ``projection apply`` does."""
    try:
        data, size = _read(source)
        skipped = 0
        if source.start == 0:
            # Its first line, as apply reads it.
            head = bytes(memoryview(data)[: data.find(b"\n", 0, size) + 1 or size])
            skipped = input_start(head, _GZIP_HINT)
    except PayloadError as error:  # the file's as a whole, not a line's
        raise PayloadError(f"{file}: {error}", pos=error.pos) from None
    read = size
    if skipped:  # a copy, once for a file that starts with a byte order mark
        data, size = data[skipped:size], size - skipped
    block = project_block(_compiled(projection), data, size, keep_going)
    output = bytes(block.output)  # already bytes: a block projected here is never a view
    with OpenFile(fs, part, mode="wb", compression=codec) as sink:
        sink.write(output)
    return _Part(
        size=read,
        breaks=block.breaks,
        lines_in=block.breaks + (size > 0 and data[size - 1] != ord("\n")),
        lines_out=output.count(b"\n"),
        bytes_out=len(output),
        rejected=block.rejected,  # ``detached`` errors: they hold none of the block's frames
    )


# Each thread's buffer for the ranges it reads, kept from one block to the next (and so a
# block's worth of memory for each worker thread between runs): memory new for each block costs
# a page fault every 4 KiB, a fifth of a worker's time, measured.
_kept = threading.local()


def _read(source: _Source) -> tuple[bytes | bytearray, int]:
    """The block's bytes and how many: a range read into the start of this thread's buffer,
    which the next range read replaces; a whole file into memory of its own, decompressed.

    A file that does not decompress is a ``PayloadError``.
    """
    fs, path, _, start, end, codec = source
    if end is None:
        data = _decompressed(fs.cat_file(path), codec)
        return data, len(data)
    with fs.open(path, "rb") as file:
        begin = _line_start(file, start, end)
        if begin == end:  # inside one long line, which the range where it begins projects
            return b"", 0
        size = _line_start(file, end) - begin
        buffer: bytearray | None = getattr(_kept, "buffer", None)
        if buffer is None:
            buffer = _kept.buffer = bytearray()
        return buffer, read_range(file, begin, size, buffer)


def _decompressed(data: bytes, codec: str | None) -> bytes:
    """``data`` decompressed with ``codec`` (None: ``data`` itself); a ``PayloadError`` if it
    is not data of that codec.

    Decompressed from memory, read whole first (beside what it decompresses to, it is most
    often a fraction of it): whatever fails here is the data's fault, whichever exception its
    codec raises (``gzip`` alone raises three), while an error of the storage stays itself.
    """
    if codec is None:
        return data
    try:
        with compr[codec](io.BytesIO(data), mode="rb") as file:
            decompressed: bytes = file.read()
    except MemoryError:
        raise  # too big, not invalid
    except Exception as error:
        raise PayloadError(
            f"not valid {codec} data, as its name says it is ({type(error).__name__}: {error})"
        ) from None
    return decompressed


def _line_start(file: AbstractBufferedFile, position: int, limit: int | None = None) -> int:
    """Where the first line that begins at ``position`` or after begins: there, or past the next
    line break, or the end of the file; at most ``limit``, where the search stops. A range's
    first line is sought no further than its end, so that the ranges inside one long line cost
    their own length each, not the rest of the line each."""
    if position == 0:
        return 0
    position -= 1  # a line begins at ``position`` if a line break ends the one before
    file.seek(position)
    while (limit is None or position < limit) and (probe := file.read(_PROBE)):
        found: int = probe.find(b"\n")
        if found >= 0:
            position += found + 1
            break
        position += len(probe)
    return position if limit is None else min(position, limit)


# -- bags -------------------------------------------------------------------------------------


def project_bag(bag: dask.bag.Bag, expression: str | Projection) -> dask.bag.Bag:
    """A bag of the projected lines of ``bag``, in order, one for each line that is not blank.

    ``bag`` holds NDJSON text as ``bytes`` or ``str``: lines (``dask.bag.read_text``) or blocks
    of lines; an element is a line or lines of its own, whether or not it ends with a line
    break. Each projected line ends with ``"\\n"`` and has its element's type. An invalid line
    raises ``PayloadError`` when the bag is computed, saying ``partition P: line N: ...``, with
    lines counted from 1 within partition P. (To leave invalid lines out and count them, use
    ``project_ndjson``: counting lines across a bag's partitions would need them all.)
    """
    projection = _parsed(expression)
    project = dask.delayed(_project_partition, pure=True)
    return dask.bag.from_delayed(
        [project(partition, projection, index) for index, partition in enumerate(bag.to_delayed())]
    )


def _project_partition(
    elements: Iterable[bytes | bytearray | str], projection: Projection, index: int
) -> list[bytes] | list[str]:
    compiled = _compiled(projection)
    projected: list[Any] = []

    def blocks() -> Iterator[Block]:
        for element in elements:
            text = isinstance(element, str)
            if isinstance(element, str):
                data: bytes | bytearray = element.encode()
            elif isinstance(element, (bytes, bytearray)):
                data = element
            else:
                raise TypeError(
                    f"project_bag takes NDJSON as bytes or str, not {type(element).__name__}"
                )
            block = project_block(compiled, data, len(data), keep_going=False)
            lines = io.BytesIO(block.output)  # split on "\n" only, as the input is
            projected.extend(line.decode() for line in lines) if text else projected.extend(lines)
            # The element's last line ends with it, line break or not.
            yield block._replace(breaks=block.breaks + (not data.endswith(b"\n")))

    try:
        for _ in then_rejected(blocks(), None):
            pass
    except PayloadError as error:
        raise PayloadError(f"partition {index}: {error}", pos=error.pos, line=error.line) from None
    return projected
