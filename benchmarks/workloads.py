"""The workloads, on Kibo sample tickets generated at run time; each returns a ``Workload``.

Every group goes through the same steps: build each contender, check that its output equals the
fast path's (as Python values), time those that pass in interleaved rounds, summarize. A contender
that is missing, cannot say the expression or answers differently is listed with the reason.
"""

from __future__ import annotations

import compileall
import contextlib
import functools
import importlib.util
import itertools
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import orjson

import projection
from benchmarks._process import run_measuring_memory
from benchmarks._timing import Task, measure
from benchmarks.contenders import (
    CONTENDERS,
    EXPRESSIONS,
    FAST_PATH,
    HAND_FILTER,
    SCAN,
    Expression,
    UnavailableError,
)
from benchmarks.results import Group, Measurement, Workload, measurement
from projection import ExpressionError, PayloadError, ProjectionLimitError, ProjectionSyntaxError
from projection._projection import compiled
from projection.kibo import CustomerAuthTicket, iter_sample_lines, sample_authtickets, sample_bytes

__all__ = [
    "DASK_COLD",
    "FIRST_USE",
    "SIZES",
    "WIDEST",
    "WORKLOADS",
    "Progress",
    "Settings",
    "friendly",
    "hostile",
]

Progress = Callable[[str], None]
Check = Callable[[Task], None]
"""Raises ``UnavailableError`` saying how a contender's output is wrong."""
Entry = tuple[Callable[[], Callable[[Any], object]], Sequence[Any], Check | None]
"""A contender to build: what makes its callable (and may raise), its inputs, its check."""
Candidate = Task | str
"""A contender ready to time, or the reason it is left out."""

POOL = 64  # distinct tickets the single-ticket loop cycles through, as a gateway sees many
SHORT = "customerAccount(contacts(address))"
LONG = (
    "accessToken,customerAccount(firstName,lastName,contacts(address(cityOrTown,postalOrZipCode),"
    "email,phoneNumbers),commerceSummary(orderCount,totalOrderAmount(amount,currencyCode))),"
    "jwtAccessToken,refreshToken"
)
# The most names a default parse accepts (1,024), three characters each, one under the length limit.
WIDEST = "widest"
WIDEST_TEXT = ",".join(f"{chr(ord('a') + i % 26)}{i // 26:02d}" for i in range(1024))
TYPICAL = next(expression for expression in EXPRESSIONS if expression.label == "typical")
VERIFY_BYTES = 2 << 20  # of the NDJSON stream, run through each worker count and compared


@dataclass(frozen=True)
class Settings:
    """Sizes and rounds of one run; ``rounds`` overrides every workload's own count."""

    quick: bool
    tickets: int
    stream_bytes: int
    round_seconds: float
    rounds: int | None = None

    def rounds_for(self, full: int, quick: int) -> int:
        if self.rounds is not None:
            return self.rounds
        return quick if self.quick else full


# -- the inputs ---------------------------------------------------------------------------------


@functools.cache
def _pool() -> tuple[bytes, ...]:
    return tuple(msgspec.json.encode(ticket) for ticket in sample_authtickets(POOL))


@functools.cache
def _array(tickets: int) -> bytes:
    return sample_bytes(tickets)


def _write_stream(path: Path, size: int) -> int:
    """At least ``size`` bytes of NDJSON tickets written to ``path``; the bytes written."""
    written = 0
    with path.open("wb") as file:
        for line in iter_sample_lines(sys.maxsize):
            file.write(line)
            written += len(line)
            if written >= size:
                return written
    return written


class _Stream(NamedTuple):
    """The NDJSON file the stream workloads share, and its first lines to check outputs on."""

    path: Path
    sample: Path
    size: int


# The stream of each size, written once for the run; its directory is removed at exit.
_STREAMS: dict[int, tuple[tempfile.TemporaryDirectory[str], _Stream]] = {}


def _stream(size: int, progress: Progress) -> _Stream:
    if size not in _STREAMS:
        directory = tempfile.TemporaryDirectory(prefix="projection-bench-")
        path = Path(directory.name, "tickets.ndjson")
        sample = Path(directory.name, "first.ndjson")
        progress(f"writing {size / 1e6:,.0f} MB of NDJSON to {path}")
        written = _write_stream(path, size)
        with path.open("rb") as file:
            sample.write_bytes(file.read(VERIFY_BYTES) + file.readline())
        _STREAMS[size] = directory, _Stream(path, sample, written)
    return _STREAMS[size][1]


# -- one group: prepare, verify, measure ------------------------------------------------------


def _candidates(entries: dict[str, Entry]) -> dict[str, Candidate]:
    """Each entry built and checked: a task, or why it is left out."""
    return {name: _prepared(name, *entry) for name, entry in entries.items()}


def _prepared(
    name: str,
    make: Callable[[], Callable[[Any], object]],
    inputs: Sequence[Any],
    check: Check | None,
) -> Candidate:
    try:
        task = Task(name, make(), inputs)
        if check is not None:
            check(task)
    except UnavailableError as error:
        return str(error)
    except Exception as error:  # a peer failing on this input is a finding, not a crash
        return f"failed: {type(error).__name__}: {str(error)[:200]}"
    return task


def _same_values(
    expected: Callable[[Any], Any], decoded: Callable[[Any], Any] = orjson.loads
) -> Check:
    """A check that ``decoded(output)`` equals ``expected(input)`` on every distinct input."""

    def check(task: Task) -> None:
        for item in {id(item): item for item in task.inputs}.values():
            got, want = decoded(task.call(item)), expected(item)
            if got != want:
                raise UnavailableError(
                    f"output differs from the fast path's, first at {_difference(got, want, '$')}"
                )

    return check


def _difference(got: Any, want: Any, path: str) -> str:
    """Where two JSON values first differ, as a path such as ``$[0].customerAccount.contacts``."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in want:
            if key not in got:
                return f"{path}.{key} (missing)"
            if got[key] != want[key]:
                return _difference(got[key], want[key], f"{path}.{key}")
        extra = next(key for key in got if key not in want)
        return f"{path}.{extra} (not selected)"
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        index = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
        return _difference(got[index], want[index], f"{path}[{index}]")
    return path


def _group(
    label: str,
    expression: str | None,
    input_bytes: int | None,
    candidates: dict[str, Candidate],
    *,
    floor: str | None,
    baseline: str | None,
    rounds: int,
    settings: Settings,
    progress: Progress,
    extra: Callable[[str], dict[str, Any]] | None = None,
    sizes: dict[str, int] | None = None,
) -> Group:
    """Time the candidates that are tasks together and summarize each against floor and baseline.

    ``sizes`` gives the input bytes of contenders whose input is not ``input_bytes`` long.
    """
    tasks = [candidate for candidate in candidates.values() if isinstance(candidate, Task)]
    stats = measure(
        tasks,
        rounds=rounds,
        round_seconds=settings.round_seconds,
        progress=lambda message: progress(f"{label}: {message}"),
    )
    floor_stats = stats.get(floor) if floor is not None else None
    baseline_stats = stats.get(baseline) if baseline is not None else None
    measurements = [
        Measurement(name, note=candidate)
        if isinstance(candidate, str)
        else measurement(
            name,
            stats[name],
            input_bytes=input_bytes if sizes is None else sizes.get(name, input_bytes),
            floor=floor_stats,
            baseline=baseline_stats,
            extra=None if extra is None else extra(name),
        )
        for name, candidate in candidates.items()
    ]
    return Group(label, expression, input_bytes, measurements)


# -- workloads 1 and 2: JSON bytes to JSON bytes against every contender -----------------------


def _projected_value(project: Callable[[bytes], bytes]) -> Callable[[bytes], Any]:
    return lambda data: orjson.loads(project(data))


def _projection_groups(
    inputs: list[bytes], array: bool, rounds: int, settings: Settings, progress: Progress
) -> list[Group]:
    groups = []
    for expression in EXPRESSIONS:
        check = _same_values(_projected_value(FAST_PATH.make(expression, array)))
        candidates = _candidates(
            {
                contender.name: (
                    functools.partial(contender.make, expression, array),
                    inputs,
                    check if contender.produces_output else None,
                )
                for contender in CONTENDERS
            }
        )
        groups.append(
            _group(
                expression.label,
                expression.text,
                round(statistics.mean(map(len, inputs))),
                candidates,
                floor=SCAN.name,
                baseline=HAND_FILTER.name,
                rounds=rounds,
                settings=settings,
                progress=progress,
            )
        )
    return groups


def single(settings: Settings, progress: Progress) -> Workload:
    pool = list(_pool())
    return Workload(
        key="single",
        title="1. One ticket per call (the gateway case)",
        description=(
            f"Each call projects one ticket of about {statistics.mean(map(len, pool)) / 1e3:.1f} "
            f"KB; a round cycles through {POOL} distinct tickets, as many calls as last "
            f"{settings.round_seconds:g} s. Times are per call."
        ),
        unit="calls/s",
        floor=SCAN.name,
        baseline=HAND_FILTER.name,
        groups=_projection_groups(pool, False, settings.rounds_for(21, 5), settings, progress),
    )


def array(settings: Settings, progress: Progress) -> Workload:
    data = _array(settings.tickets)
    return Workload(
        key="array",
        title=f"2. A JSON array of {settings.tickets:,} tickets per call",
        description=(
            f"Each call projects one JSON array of {settings.tickets:,} tickets "
            f"({len(data) / 1e6:.1f} MB) to one JSON array."
        ),
        unit="MB/s",
        floor=SCAN.name,
        baseline=HAND_FILTER.name,
        groups=_projection_groups([data], True, settings.rounds_for(9, 3), settings, progress),
    )


# -- workload 3: an NDJSON file through the command line, one worker and all cores ------------


def _apply_argv(expression: str, path: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "projection", "apply", expression, str(path), "-w", str(workers)]


def _apply_check(expression: str, sample: Path, workers: int) -> Check:
    """A check that the command's output on ``sample`` is byte for byte ``p.project_lines``'s."""

    def check(task: Task) -> None:
        argv = _apply_argv(expression, sample, workers)
        _check_lines(
            expression, sample, subprocess.run(argv, capture_output=True, check=True).stdout
        )

    return check


def _check_lines(expression: str, sample: Path, output: bytes) -> None:
    expected = b"".join(projection.parse(expression).project_lines(sample.read_bytes()))
    if output != expected:
        raise UnavailableError("output differs from p.project_lines on the first lines")


def _write_bytecode() -> None:
    """Compile the package's modules to bytecode files, as installing it does.

    Run from a source tree with ``PYTHONDONTWRITEBYTECODE`` set, the command would otherwise
    compile every module of the package at every start, which an installed package never does.
    """
    compileall.compile_dir(Path(projection.__file__).parent, quiet=1)


def ndjson(settings: Settings, progress: Progress) -> Workload:
    cores = len(os.sched_getaffinity(0))
    _write_bytecode()
    text = TYPICAL.text
    peaks: dict[str, list[int]] = {}

    def runner(name: str, workers: int) -> Callable[[Path], None]:
        peaks[name] = []
        return lambda path: peaks[name].append(
            run_measuring_memory(_apply_argv(text, path, workers))
        )

    def extra(name: str) -> dict[str, Any]:
        return {
            "peak_rss_bytes": max(peaks[name]),
            "peak_rss_bytes_median": statistics.median(peaks[name]),
            "peak_rss_samples": peaks[name],
        }

    path, sample, size = _stream(settings.stream_bytes, progress)
    counts = {f"{n} worker{'s' if n > 1 else ''}": n for n in sorted({1, cores})}
    candidates = _candidates(
        {
            name: (
                functools.partial(runner, name, workers),
                [path],
                _apply_check(text, sample, workers),
            )
            for name, workers in counts.items()
        }
    )
    group = _group(
        f"{size / 1e6:,.0f} MB",
        text,
        size,
        candidates,
        floor=None,
        baseline="1 worker",
        # Each round is two runs of the command, about a second each: more rounds, for a
        # ratio that moves less between runs on a shared machine.
        rounds=settings.rounds_for(9, 2),
        settings=settings,
        progress=progress,
        extra=extra,
    )
    return Workload(
        key="ndjson",
        title="3. An NDJSON stream through `projection apply`",
        description=(
            f"`python -m projection apply EXPR FILE -w N > /dev/null` as a subprocess (the "
            f"package's bytecode written first, as an install does) on a "
            f"{size / 1e6:,.0f} MB NDJSON file of tickets (written once, deleted at the end), with "
            f"one worker and with all {cores} cores: wall time including start-up, and the peak "
            f"resident memory of the whole process tree (VmRSS summed over the process and its "
            f"children, polled every 20 ms; pages shared between processes count once each)."
        ),
        unit="MB/s",
        floor=None,
        baseline="1 worker",
        groups=[group],
    )


# -- workload 4: parsing, cold ----------------------------------------------------------------


def _jsonmask_parse() -> Callable[[str], object]:
    try:
        import jsonmask
    except ImportError:
        raise UnavailableError("jsonmask is not installed (pip install --group bench)") from None
    parse_fields: Callable[[str], object] = jsonmask.parse_fields
    return parse_fields


def parse(settings: Settings, progress: Progress) -> Workload:
    groups = []
    for label, text in (("short", SHORT), ("long", LONG), (WIDEST, WIDEST_TEXT)):
        candidates = _candidates(
            {
                "projection.parse": (lambda: projection.parse, [text], None),
                "parse + compile": (lambda: _parse_and_compile, [text], None),
                "jsonmask.parse_fields": (_jsonmask_parse, [text], None),
            }
        )
        groups.append(
            _group(
                label,
                f"{text[:11]}…{text[-7:]}" if label == WIDEST else text,
                None,
                candidates,
                floor=None,
                baseline="jsonmask.parse_fields",
                rounds=settings.rounds_for(21, 5),
                settings=settings,
                progress=progress,
            )
        )
    return Workload(
        key="parse",
        title="4. Parsing an expression, cold",
        description=(
            "Each call parses the text anew (no expression cache; the grammar's parser is built "
            "once per process, before timing). `parse + compile` also builds the fast path, as "
            "`p.project` does for an expression's second document. The three produce different "
            "things (a `Projection`, a compiled projector, a nested dict): not compared. The "
            "widest expression lists "
            f"{WIDEST_TEXT.count(',') + 1:,} names of three characters side by side "
            f"({len(WIDEST_TEXT):,} characters), the most names the default limits accept: "
            "`jsonmask.parse_fields` takes time in the square of the names side by side."
        ),
        unit="calls/s",
        floor=None,
        baseline="jsonmask.parse_fields",
        groups=groups,
    )


def _parse_and_compile(text: str) -> object:
    return compiled(projection.parse(text))


# -- workload 5: the cached convenience against a projection compiled once --------------------


def cached(settings: Settings, progress: Progress) -> Workload:
    pool = list(_pool())
    text = TYPICAL.text
    compiled = projection.parse(text)
    check = _same_values(_projected_value(compiled.project))

    def cached_project(data: bytes) -> bytes:
        return projection.project(text, data)

    candidates = _candidates(
        {
            "projection.project (cached)": (lambda: cached_project, pool, check),
            "p.project (precompiled)": (lambda: compiled.project, pool, check),
        }
    )
    group = _group(
        TYPICAL.label,
        text,
        round(statistics.mean(map(len, pool))),
        candidates,
        floor=None,
        baseline="p.project (precompiled)",
        rounds=settings.rounds_for(21, 5),
        settings=settings,
        progress=progress,
    )
    return Workload(
        key="cached",
        title="5. The cached convenience, warm",
        description=(
            "`projection.project(expr, ticket)` (a lookup in the shared LRU cache of parsed "
            "projections, then the fast path) against `p.project(ticket)` with `p` parsed and "
            "compiled once, on the single-ticket loop of workload 1."
        ),
        unit="calls/s",
        floor=None,
        baseline="p.project (precompiled)",
        groups=[group],
    )


# -- workload 6: typed decoding of projected or full bytes -----------------------------------

# The SDK case: a client asks for a couple of names and decodes them into typed objects.
NAMES = Expression(
    label="names",
    text="customerAccount(firstName,lastName)",
    spec={"customerAccount": {"firstName": True, "lastName": True}},
    jsonmask_negated=False,
    glom=None,
)


# The CustomerAuthTicket schema as an OpenAPI document gives it; the benchmarks' own copy.
OPENAPI_DOCUMENT = Path(__file__).with_name("data") / "authticket_openapi.json"
OPENAPI_TYPED = "typed decode, OpenAPI type"


@functools.cache
def _openapi_ticket() -> type[msgspec.Struct]:
    try:
        from projection.openapi import OpenAPI
    except ImportError:
        raise UnavailableError("this version of projection has no `projection.openapi`") from None
    return OpenAPI.load(OPENAPI_DOCUMENT).schema("CustomerAuthTicket")


def _typed_candidates(expression: Expression, data: bytes) -> dict[str, Candidate]:
    p = projection.parse(expression.text)
    projected = p.project(data)

    def check(expected: Any) -> Check:
        return _same_values(
            lambda _: expected, lambda value: orjson.loads(msgspec.json.encode(value))
        )

    def typed_decode(schema: type[msgspec.Struct] = CustomerAuthTicket) -> Callable[[bytes], Any]:
        typed = p.typed(schema)
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[typed])  # type: ignore[valid-type]
        return decoder.decode

    def project_then_decode() -> Callable[[bytes], Any]:
        decode = typed_decode()
        return lambda document: decode(p.project(document))

    full: msgspec.json.Decoder[Any] = msgspec.json.Decoder(list[CustomerAuthTicket])
    selected = check(orjson.loads(projected))
    return _candidates(
        {
            SCAN.name: (functools.partial(SCAN.make, expression, True), [data], None),
            "full decode": (lambda: full.decode, [data], check(orjson.loads(data))),
            "typed decode": (typed_decode, [data], selected),
            OPENAPI_TYPED: (lambda: typed_decode(_openapi_ticket()), [data], selected),
            "typed decode of projected bytes": (typed_decode, [projected], selected),
            "p.project + typed decode": (project_then_decode, [data], selected),
        }
    )


def typed(settings: Settings, progress: Progress) -> Workload:
    data = _array(settings.tickets)
    key, title = "typed", "6. Typed decoding: projected Structs against the full model"
    unit, floor, baseline = "MB/s", SCAN.name, "full decode"
    groups = [
        _group(
            expression.label,
            expression.text,
            len(data),
            _typed_candidates(expression, data),
            floor=floor,
            baseline=baseline,
            rounds=settings.rounds_for(9, 3),
            settings=settings,
            progress=progress,
        )
        for expression in (*EXPRESSIONS, NAMES)
    ]
    description = (
        f"One JSON array of {settings.tickets:,} tickets ({len(data) / 1e6:.1f} MB) decoded "
        "with msgspec into `list[CustomerAuthTicket]` (full decode), into "
        "`list[p.typed(CustomerAuthTicket)]` (a Struct type with only the selected fields) from "
        "the full bytes, the same with the CustomerAuthTicket type `projection.openapi` builds "
        "from an OpenAPI document (benchmarks/data/authticket_openapi.json), from the bytes "
        "`p.project` gave (what a client of a projecting server decodes), and projected then "
        "decoded in one go. Throughput counts the full array's bytes for every contender."
    )
    return Workload(key, title, description, unit, floor, baseline, groups)


# -- workload 7: hostile input against friendly input of the same size ------------------------

SIZES = ("n", "2n")
DEEP = 800  # levels of arrays: deep, yet within what the decoder takes (Python's recursion limit)
_PAD = b'{"pad":""}'  # the least element that pads an array of tickets to a size


def hostile(size: str) -> str:
    """The name of the contender projecting a family's hostile input of ``size`` ("n", "2n")."""
    return f"hostile ({size})"


def friendly(size: str) -> str:
    """The name of the contender projecting the friendly counterpart of ``size``."""
    return f"friendly ({size})"


def _tickets(size: int, pool: Sequence[bytes] | None = None) -> bytes:
    """Tickets of the pool joined by commas, exactly ``size`` bytes: an object pads the end."""
    pieces: list[bytes] = []
    total = 0
    for ticket in itertools.cycle(pool or _pool()):
        if total + len(ticket) + 1 + len(_PAD) > size:
            break
        pieces.append(ticket)
        total += len(ticket) + 1
    pieces.append(_PAD[:-2] + b"x" * (size - total - len(_PAD)) + _PAD[-2:])
    return b",".join(pieces)


def _ticket_array(size: int) -> bytes:
    """The friendly input: a JSON array of tickets, exactly ``size`` bytes."""
    return b"[" + _tickets(size - 2) + b"]"


def _cut_tickets(size: int) -> bytes:
    """The friendly counterpart of input refused for where it ends: tickets cut at ``size``."""
    return _ticket_array(2 * size)[:size]


def _quotes_cut_off(size: int) -> bytes:
    # A kept value of escaped quotes, cut off: every string scan walks escapes one by one.
    return (b'[{"accessToken":"' + b'\\"' * size)[:size]


def _deep_arrays(size: int) -> bytes:
    return b"[" * DEEP + _tickets(size - 2 * DEEP) + b"]" * DEEP


def _white_space(size: int) -> bytes:
    first, second = _pool()[:2]
    space = b" \t\r\n" * (size // 4 + 1)
    rest = size - len(first) - len(second) - 3
    third = rest // 3
    return (
        space[:third]
        + b"["
        + first
        + b","
        + space[:third]
        + second
        + b"]"
        + space[: rest - 2 * third]
    )


def _invalid_utf8_kept(size: int) -> bytes:
    # One run in every ticket, in the kept accessToken: the first is found in one pass.
    pool = [ticket.replace(b'"accessToken":"', b'"accessToken":"\xff', 1) for ticket in _pool()]
    return b"[" + _tickets(size - 2, pool) + b"]"


_SKIPPED_TEXT = re.compile(rb'("(?:createBy|updateBy|refreshToken|userId)":")([0-9a-f]*)"')


def _invalid_utf8_dense(size: int) -> bytes:
    # A run every other byte in values the projection skips, one kept run in the last ticket:
    # past 64 runs the search for the kept one narrows stretches down, a projection each.
    pool = [
        _SKIPPED_TEXT.sub(lambda match: match[1] + match[2].replace(b"", b"\xff")[1:] + b'"', t)
        for t in _pool()
    ]
    data = b"[" + _tickets(size - 4, pool) + b"]"
    kept = data.rindex(b'"accessToken":"') + len(b'"accessToken":"')
    return data[:kept] + b"\xc0\xaf" + data[kept:]


def _nesting_too_deep(size: int) -> bytes:
    return b"[" * (size // 2) + b"]" * (size - size // 2)


def _deep_after_tickets(size: int) -> bytes:
    # Tickets, then arrays and objects nested n/8 bytes deep, far deeper than the decoder goes:
    # the byte where it gives up is found past a long valid beginning.
    deep = (b'[{"a":' * (size // 48 + 1))[: size // 8]
    return b"[" + _tickets(size - 2 - len(deep)) + b"," + deep


def _closed_arrays(size: int, end: bytes) -> bytes:
    # Arrays open half the decoder's limit deep (whatever frames the caller uses), then closed
    # arrays ``[],[],...``, then ``end``; white space makes the length.
    below = b"[" * (sys.getrecursionlimit() // 2)
    pairs, rest = divmod(size - len(below) - 2 - len(end), 3)
    return below + b"[]" + b",[]" * pairs + b" " * rest + end


def _closed_then_too_deep(size: int) -> bytes:
    # Every stretch of the data opens enough brackets to reach the limit, and closes them
    # again, until the end nests too deep.
    return _closed_arrays(size, b"," + b"[" * sys.getrecursionlimit())


def _closed_then_closed(size: int) -> bytes:
    # The same arrays closed at the end: valid, projected.
    return _closed_arrays(size, b"]" * (sys.getrecursionlimit() // 2))


def _small_arrays(size: int) -> bytes:
    # Arrays of two numbers, as many as fit: nothing to project in them (rule 7), only brackets,
    # commas and numbers to copy.
    pairs, rest = divmod(size - 7, 6)
    return b"[" + b"[1,2]," * pairs + b"[1,2]" + b" " * rest + b"]"


def _numbers_and_objects_deep(size: int) -> bytes:
    # A number and an empty object, side by side, over and over, in arrays 8 deep: each object
    # is projected, each number copied.
    pairs, rest = divmod(size - 17, 5)
    return b"[" * 8 + b"1,{}," * pairs + b"1" + b" " * rest + b"]" * 8


def _small_arrays_deep(size: int) -> bytes:
    # Arrays of a number and an empty object, as many as fit, two levels down: each object is
    # projected, each number copied.
    pairs, rest = divmod(size - 10, 7)
    return b"[[" + b"[1,{}]," * pairs + b"[1,{}]" + b" " * rest + b"]]"


@dataclass(frozen=True)
class _Family:
    """A family of hostile JSON: its input of a size, its friendly counterpart, and where the
    hostile input is refused (None: it is valid and projected; a byte of None: anywhere)."""

    label: str
    hostile: Callable[[int], bytes]
    friendly: Callable[[int], bytes]
    refused_at: Callable[[bytes], int | None] | None


_FAMILIES = (
    _Family("escaped quotes cut off", _quotes_cut_off, _cut_tickets, len),
    _Family(f"arrays {DEEP} deep", _deep_arrays, _ticket_array, None),
    _Family("long white space", _white_space, _ticket_array, None),
    _Family(
        "invalid UTF-8 kept, one run per ticket",
        _invalid_utf8_kept,
        _ticket_array,
        lambda data: data.index(b"\xff"),
    ),
    _Family(
        "invalid UTF-8 dense, kept once at the end",
        _invalid_utf8_dense,
        _ticket_array,
        lambda data: data.index(b"\xc0\xaf"),
    ),
    # Refused where the decoder gives up, which depends on the frames in use.
    _Family("nesting too deep", _nesting_too_deep, _cut_tickets, lambda data: None),
    _Family(
        "tickets, then nesting too deep", _deep_after_tickets, _ticket_array, lambda data: None
    ),
    _Family(
        "closed arrays half the limit deep, then nesting too deep",
        _closed_then_too_deep,
        _closed_then_closed,
        lambda data: None,
    ),
    _Family("array of tickets cut short", _cut_tickets, _ticket_array, len),
    _Family("arrays of two numbers", _small_arrays, _ticket_array, None),
    _Family(
        "a number and an object, side by side, arrays 8 deep",
        _numbers_and_objects_deep,
        _ticket_array,
        None,
    ),
    _Family(
        "arrays of a number and an object, two levels down",
        _small_arrays_deep,
        _ticket_array,
        None,
    ),
)


def _projecting(project: Callable[[bytes], bytes]) -> Callable[[bytes], bytes | PayloadError]:
    """``project``, returning the error it raises on refused input, so refusals can be timed."""

    def call(data: bytes) -> bytes | PayloadError:
        try:
            return project(data)
        except PayloadError as error:
            return error

    return call


def _refused_at(where: Callable[[bytes], int | None] | None) -> Check:
    """A check that each input is refused with ``PayloadError`` at ``where(input)``, or
    refused at all when ``where`` is None or gives None."""

    def check(task: Task) -> None:
        for item in task.inputs:
            outcome = task.call(item)
            if not isinstance(outcome, PayloadError):
                raise UnavailableError("the input was not refused")
            pos = None if where is None else where(item)
            if pos is not None and outcome.pos != pos:
                raise UnavailableError(f"refused at byte {outcome.pos}, not {pos}")

    return check


def _family_group(family: _Family, size: int, settings: Settings, progress: Progress) -> Group:
    parsed = projection.parse(TYPICAL.text)
    project = _projecting(parsed.project)
    projected = _same_values(lambda data: parsed.apply(orjson.loads(data)))
    # Friendly input cut off is refused too, for where it ends.
    refused_friendly = _refused_at(None) if family.friendly is _cut_tickets else None
    entries: dict[str, Entry] = {}
    sizes: dict[str, int] = {}
    for scale, label in enumerate(SIZES, start=1):
        hostile_input = family.hostile(scale * size)
        friendly_input = family.friendly(scale * size)
        hostile_check = projected if family.refused_at is None else _refused_at(family.refused_at)
        entries[hostile(label)] = (lambda: project, [hostile_input], hostile_check)
        entries[friendly(label)] = (
            lambda: project,
            [friendly_input],
            refused_friendly or projected,
        )
        sizes |= {hostile(label): len(hostile_input), friendly(label): len(friendly_input)}
    return _group(
        family.label,
        TYPICAL.text,
        size,
        _candidates(entries),
        floor=None,
        baseline=None,
        rounds=settings.rounds_for(9, 3),
        settings=settings,
        progress=progress,
        extra=lambda name: {"input_bytes": sizes[name]},
        sizes=sizes,
    )


def _expression(length: int, blow_up: bool) -> str:
    """An expression of exactly ``length`` characters: names, and with ``blow_up`` as many
    "-*/x" exclusions between them, each copied into every entry of the canonical form."""
    items: list[str] = []
    total = -1
    for number in itertools.count():
        item = f"-*/x{number}" if blow_up and number % 2 else f"k{number}"
        if total + 1 + len(item) + 2 > length:
            break
        items.append(item)
        total += 1 + len(item)
    items.append("z" * (length - total - 1))
    return ",".join(items)


def _parsing(text: str) -> projection.Projection | ExpressionError:
    try:
        return projection.parse(text)
    except ExpressionError as error:
        return error


class _ExpressionFamily(NamedTuple):
    """Hostile expressions: how to make one of n characters, and how it must be refused."""

    label: str
    make: Callable[[int], str]
    refused: Callable[[ExpressionError, str], bool]


def _cut_short(error: ExpressionError, text: str) -> bool:
    return isinstance(error, ProjectionSyntaxError) and error.pos == len(text)


_EXPRESSION_FAMILIES = (
    _ExpressionFamily(
        "canonical blow-up refused",
        lambda length: _expression(length, True),
        lambda error, _: (
            isinstance(error, ProjectionLimitError) and "in canonical form" in str(error)
        ),
    ),
    _ExpressionFamily(
        "a name list cut short after its last comma",
        lambda length: _expression(length - 1, False) + ",",
        _cut_short,
    ),
    _ExpressionFamily(
        "names nested n/2 deep, never closed",
        lambda length: ("a(" * length)[:length],
        _cut_short,
    ),
)


def _parse_check(refused: Callable[[ExpressionError, str], bool] | None) -> Check:
    """Friendly input (``refused`` None) parses; hostile input is refused as ``refused`` says."""

    def check(task: Task) -> None:
        for item in task.inputs:
            outcome = task.call(item)
            if refused is None:
                if isinstance(outcome, ExpressionError):
                    raise UnavailableError(f"refused: {outcome}")
            elif not isinstance(outcome, ExpressionError) or not refused(outcome, item):
                raise UnavailableError(f"not refused as it must be: {outcome}")

    return check


def _expression_group(
    family: _ExpressionFamily, length: int, settings: Settings, progress: Progress
) -> Group:
    entries: dict[str, Entry] = {}
    for scale, label in enumerate(SIZES, start=1):
        hostile_text = family.make(scale * length)
        names = _expression(scale * length, False)
        entries[hostile(label)] = (lambda: _parsing, [hostile_text], _parse_check(family.refused))
        entries[friendly(label)] = (lambda: _parsing, [names], _parse_check(None))
    sizes = {name: length * (2 if name.endswith("(2n)") else 1) for name in entries}
    return _group(
        family.label,
        None,
        None,  # characters, not bytes: shown in calls/s
        _candidates(entries),
        floor=None,
        baseline=None,
        rounds=settings.rounds_for(9, 3),
        settings=settings,
        progress=progress,
        extra=lambda name: {"input_bytes": sizes[name]},
    )


def hostile_input(settings: Settings, progress: Progress) -> Workload:
    size = (32 if settings.quick else 1024) << 10
    length = 1024
    groups = [_family_group(family, size, settings, progress) for family in _FAMILIES]
    groups += [
        _expression_group(family, length, settings, progress) for family in _EXPRESSION_FAMILIES
    ]
    description = (
        f"Each family of hostile input against friendly input of the same size, timed in the "
        f"same rounds, at n = {size >> 10:,} KiB and 2n = {size >> 9:,} KiB: `p.project(data)` "
        f"with `{TYPICAL.text}`, a refusal (`PayloadError`) timed like an output. Friendly input: "
        f"Kibo tickets, valid, or cut off at the same length where the hostile input is refused "
        f"for where it ends (escaped quotes cut off, nesting too deep). Hostile: a kept string "
        f"of escaped quotes cut off; tickets inside arrays {DEEP} deep; two tickets in white "
        f"space (before, between, after); an invalid byte in every ticket's kept accessToken; "
        f"an invalid byte every other byte of skipped values and one kept in the last ticket; "
        f"arrays nested n/2 deep; tickets, then arrays and objects nested n/8 bytes deep "
        f"(against the tickets whole); arrays open half the decoder's limit deep, then "
        f"closed arrays `[],[],...`, then nesting too deep (against the same arrays, "
        f"closed at the end: projected); the array of tickets cut short (against it whole); "
        f"arrays of two numbers `[[1,2],[1,2],...]`; `1,{{}}` over and over in arrays 8 deep; "
        f"arrays `[1,{{}}]` side by side, two levels down. "
        f"Last, `projection.parse` refusing expressions of n = {length:,} characters (and "
        f"2n) against parsing a plain name list of the same length: one whose canonical form "
        f"passes the limits (names and as many `-*/x` exclusions), the name list ending in a "
        f"comma, and `a(a(a(...` never closed (a syntax error at the end of each). "
        f"Each check: the output equals the reference's, or the refusal is where it must be."
    )
    return Workload(
        key="hostile",
        title="7. Hostile input against friendly input of the same size",
        description=description,
        unit="MB/s",
        floor=None,
        baseline=None,
        groups=groups,
    )


# -- workload 8: the NDJSON file on a Dask cluster against the command on one machine ---------

DASK_WORKERS = 2
DASK_APPLY = f"apply, {DASK_WORKERS} workers"  # the baseline
DASK_COLD = f"dask, {DASK_WORKERS} workers"
DASK_WARM = f"dask, {DASK_WORKERS} workers, cluster up"
TERABYTE_PER_HOUR = 1e12 / 3600  # bytes a second


def _dask_argv(expression: str, path: Path, output: Path) -> list[str]:
    argv = [sys.executable, "-m", "projection", "apply", expression, str(path), "--dask"]
    return [*argv, "-w", str(DASK_WORKERS), "--output", str(output)]


def _parts(directory: Path) -> bytes:
    return b"".join(part.read_bytes() for part in sorted(directory.iterdir()))


@contextlib.contextmanager
def _local_cluster() -> Iterator[Any]:
    """A client of a cluster of ``DASK_WORKERS`` worker processes on this machine."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=DASK_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            # Its HTTP port chosen by the system, as the command's is: port 8787 may be taken.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def ndjson_dask(settings: Settings, progress: Progress) -> Workload:
    key, title = "ndjson-dask", f"8. The NDJSON file on a Dask cluster of {DASK_WORKERS} workers"
    unit, baseline = "MB/s", DASK_APPLY
    if any(importlib.util.find_spec(name) is None for name in ("dask", "distributed")):
        note = "skipped: dask and distributed are not installed (pip install -e '.[dask]')"
        return Workload(key, title, "", unit, None, baseline, groups=[], notes=[note])
    from projection.dask import project_ndjson

    _write_bytecode()
    text = TYPICAL.text
    path, sample, size = _stream(settings.stream_bytes, progress)
    peaks: dict[str, list[int]] = {}
    # The parts go to memory where the system has it (tmpfs), as `apply`'s output goes to
    # /dev/null: written to disk, their write-back slowed every contender's next rounds.
    memory = Path("/dev/shm")
    parts_root = tempfile.TemporaryDirectory(
        prefix="projection-bench-parts-", dir=memory if memory.is_dir() else None
    )
    scratch = Path(parts_root.name, "parts")

    def fresh() -> Path:
        """An empty directory for a run's parts: the last run's are removed first."""
        shutil.rmtree(scratch, ignore_errors=True)
        return scratch

    def command(name: str, argv: Callable[[Path], list[str]]) -> Callable[[Path], None]:
        peaks[name] = []
        return lambda path: peaks[name].append(run_measuring_memory(argv(path)))

    def extra(name: str) -> dict[str, Any]:
        if not peaks.get(name):
            return {}
        return {
            "peak_rss_bytes": max(peaks[name]),
            "peak_rss_bytes_median": statistics.median(peaks[name]),
            "peak_rss_samples": peaks[name],
        }

    def check_cold(task: Task) -> None:
        subprocess.run(_dask_argv(text, sample, fresh()), capture_output=True, check=True)
        _check_lines(text, sample, _parts(scratch))

    with _local_cluster() as client:

        def warm(path: Path) -> None:
            project_ndjson(path, fresh(), text, client=client)

        def check_warm(task: Task) -> None:
            project_ndjson(sample, fresh(), text, client=client)
            _check_lines(text, sample, _parts(scratch))

        candidates = _candidates(
            {
                "apply, 1 worker": (
                    functools.partial(
                        command, "apply, 1 worker", lambda p: _apply_argv(text, p, 1)
                    ),
                    [path],
                    _apply_check(text, sample, 1),
                ),
                DASK_APPLY: (
                    functools.partial(
                        command, DASK_APPLY, lambda p: _apply_argv(text, p, DASK_WORKERS)
                    ),
                    [path],
                    _apply_check(text, sample, DASK_WORKERS),
                ),
                DASK_COLD: (
                    functools.partial(
                        command, DASK_COLD, lambda path: _dask_argv(text, path, fresh())
                    ),
                    [path],
                    check_cold,
                ),
                DASK_WARM: (lambda: warm, [path], check_warm),
            }
        )
        group = _group(
            f"{size / 1e6:,.0f} MB",
            text,
            size,
            candidates,
            floor=None,
            baseline=baseline,
            # A run of the command on a cluster takes seconds, most of them starting it.
            rounds=settings.rounds_for(5, 2),
            settings=settings,
            progress=progress,
            extra=extra,
        )
    parts_root.cleanup()
    description = (
        f"The {size / 1e6:,.0f} MB NDJSON file of workload 3: `projection apply EXPR FILE -w N "
        f"> /dev/null` with 1 and {DASK_WORKERS} processes, against `projection apply EXPR FILE "
        f"--dask -w {DASK_WORKERS} --output DIR`: one command that starts Python, imports Dask, "
        f"starts a `LocalCluster` of {DASK_WORKERS} worker processes (forked, one thread each), "
        "projects the file in blocks of 64 MiB, each worker writing its blocks' parts to DIR "
        "(in memory, /dev/shm, where the system has it; `apply` writes to /dev/null), and "
        "stops the cluster. Each time is the wall time "
        "of the whole command, from its start to its exit, with the peak memory of its process "
        "tree, as in workload 3; each run of the cluster first removes the last run's parts. "
        "`cluster up` is `project_ndjson(FILE, DIR, EXPR, client=client)` on such a cluster "
        "started once, before the rounds (no memory figure: the cluster is not a child of one "
        "command)."
    )
    return Workload(key, title, description, unit, None, baseline, [group], notes=_sizing(group))


def _sizing(group: Group) -> list[str]:
    """How many workers project a terabyte in an hour, at the throughput a started cluster
    showed per worker: an estimate, which leaves out reading from object storage."""
    warm = group.find(DASK_WARM)
    if warm is None or warm.megabytes_per_second is None:
        return []
    per_worker = warm.megabytes_per_second * 1e6 / DASK_WORKERS
    workers = math.ceil(TERABYTE_PER_HOUR / per_worker)
    return [
        f"Sizing: a started cluster projected {per_worker / 1e6:,.0f} MB/s per worker here, "
        f"so 1 TB of uncompressed NDJSON in an hour takes about {workers} such "
        f"worker{'s' if workers > 1 else ''}, if storage delivers 280 MB/s; an estimate, not a "
        "measurement."
    ]


# -- workload 9: a new expression for every call, against the same one warm -----------------

FIRST_USE = "projection.project, new expression"
FIRST_USE_PARSED = "parse(expr).project, new expression"
WARM = "projection.project, same expression"


def first_use(settings: Settings, progress: Progress) -> Workload:
    pool = list(_pool())
    text = TYPICAL.text
    # Each call names one more key, which no ticket has: the output is the typical one's, and
    # the text is one no cache has seen. Drawn from a counter, so however many calls the rounds
    # take, none repeats; formatting it is part of the call (a tenth of a microsecond).
    fresh = map(f"{text},x{{}}".format, itertools.count())
    warm_text = f"{text},x"
    # A cache of its own, the size ``projection.project``'s has: the new expressions never push
    # the warm one out of the shared cache, which then stays parsed and compiled.
    cache = projection.ProjectionCache()

    def new_expression(data: bytes) -> bytes:
        return cache.project(next(fresh), data)

    def parsed_new(data: bytes) -> bytes:
        return projection.parse(next(fresh)).project(data)

    def warm(data: bytes) -> bytes:
        return projection.project(warm_text, data)

    check = _same_values(_projected_value(projection.parse(text).project))
    candidates = _candidates(
        {
            FIRST_USE: (lambda: new_expression, pool, check),
            FIRST_USE_PARSED: (lambda: parsed_new, pool, check),
            WARM: (lambda: warm, pool, check),
        }
    )
    group = _group(
        TYPICAL.label,
        f"{text},x<n>",
        round(statistics.mean(map(len, pool))),
        candidates,
        floor=None,
        baseline=WARM,
        rounds=settings.rounds_for(21, 5),
        settings=settings,
        progress=progress,
    )
    return Workload(
        key="first-use",
        title="9. A new expression for every call",
        description=(
            f"A client that varies its expression: each call projects one ticket of workload 1 "
            f"by an expression seen for the first time, `{text},x<n>` with n counting up (no "
            "ticket has `x<n>`): parsed, applied the generic way (nothing compiled), through a "
            "`ProjectionCache` like the one behind `projection.project`, and with "
            f"`projection.parse(expr).project(ticket)`. Against `projection.project` with the "
            f"same expression every call (`{text},x`), parsed and compiled before the rounds."
        ),
        unit="calls/s",
        floor=None,
        baseline=WARM,
        groups=[group],
    )


WORKLOADS: dict[str, Callable[[Settings, Progress], Workload]] = {
    "single": single,
    "array": array,
    "ndjson": ndjson,
    "parse": parse,
    "cached": cached,
    "typed": typed,
    "hostile": hostile_input,
    "ndjson-dask": ndjson_dask,
    "first-use": first_use,
}
