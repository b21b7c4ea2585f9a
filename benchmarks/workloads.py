"""The workloads, on Kibo sample tickets generated at run time; each returns a ``Workload``.

Every group goes through the same steps: build each contender, check that its output equals the
fast path's (as Python values), time those that pass in interleaved rounds, summarize. A contender
that is missing, cannot say the expression or answers differently is listed with the reason.
"""

from __future__ import annotations

import compileall
import functools
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from projection.kibo import CustomerAuthTicket, iter_sample_lines, sample_authtickets, sample_bytes

__all__ = ["WIDEST", "WORKLOADS", "Progress", "Settings"]

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
) -> Group:
    """Time the candidates that are tasks together and summarize each against floor and baseline."""
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
            input_bytes=input_bytes,
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
        expected = b"".join(projection.parse(expression).project_lines(sample.read_bytes()))
        argv = _apply_argv(expression, sample, workers)
        output = subprocess.run(argv, capture_output=True, check=True).stdout
        if output != expected:
            raise UnavailableError("output differs from p.project_lines on the first lines")

    return check


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

    with tempfile.TemporaryDirectory(prefix="projection-bench-") as directory:
        path, sample = Path(directory, "tickets.ndjson"), Path(directory, "first.ndjson")
        progress(f"writing {settings.stream_bytes / 1e6:,.0f} MB of NDJSON to {path}")
        size = _write_stream(path, settings.stream_bytes)
        with path.open("rb") as file:
            sample.write_bytes(file.read(VERIFY_BYTES) + file.readline())
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
            "once per process, before timing). `parse + compile` also builds the fast path: "
            "`parse(text).compiled()`. The three produce different things (a `Projection`, a "
            "compiled projector, a nested dict): not compared. The widest expression lists "
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
    return projection.parse(text).compiled()


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


def _typed_candidates(expression: Expression, data: bytes) -> dict[str, Candidate]:
    p = projection.parse(expression.text)
    projected = p.project(data)

    def check(expected: Any) -> Check:
        return _same_values(
            lambda _: expected, lambda value: orjson.loads(msgspec.json.encode(value))
        )

    def typed_decode() -> Callable[[bytes], Any]:
        typed = p.typed(CustomerAuthTicket)
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
            "typed decode of projected bytes": (typed_decode, [projected], selected),
            "p.project + typed decode": (project_then_decode, [data], selected),
        }
    )


def typed(settings: Settings, progress: Progress) -> Workload:
    data = _array(settings.tickets)
    key, title = "typed", "6. Typed decoding: projected Structs against the full model"
    unit, floor, baseline = "MB/s", SCAN.name, "full decode"
    if not hasattr(projection.Projection, "typed"):
        note = "skipped: this version of projection has no `Projection.typed`"
        return Workload(key, title, "", unit, floor, baseline, groups=[], notes=[note])
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
        "the full bytes, from the bytes `p.project` gave (what a client of a projecting server "
        "decodes), and projected then decoded in one go. Throughput counts the full array's "
        "bytes for every contender."
    )
    return Workload(key, title, description, unit, floor, baseline, groups)


WORKLOADS: dict[str, Callable[[Settings, Progress], Workload]] = {
    "single": single,
    "array": array,
    "ndjson": ndjson,
    "parse": parse,
    "cached": cached,
    "typed": typed,
}
