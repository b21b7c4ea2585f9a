"""The harness behind ``python -m benchmarks``: run the chosen workloads, report progress on
stderr, and write ``results.json``, ``RESULTS.md`` and ``results.png``.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks._machine import describe
from benchmarks.report import Run, write
from benchmarks.targets import evaluate
from benchmarks.workloads import WORKLOADS, Settings

__all__ = ["main"]

# A full run of every workload is the record kept beside the harness (RESULTS.md, results.png);
# any other run goes where it cannot overwrite it.
RECORD = Path(__file__).parent
SCRATCH = RECORD / "results"
GIB = 1 << 30


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status."""
    words = sys.argv[1:] if argv is None else list(argv)
    arguments = _parser().parse_args(words)
    quick = arguments.quick
    stream_mb = arguments.stream_mb if arguments.stream_mb is not None else 50 if quick else None
    settings = Settings(
        quick=quick,
        tickets=arguments.tickets or (1_000 if quick else 10_000),
        stream_bytes=GIB if stream_mb is None else round(stream_mb * 1e6),
        round_seconds=0.02 if quick else 0.1,
        rounds=arguments.rounds,
    )
    started = datetime.datetime.now(datetime.UTC)
    clock = time.perf_counter()
    workloads = []
    for key in arguments.only or WORKLOADS:
        workloads.append(WORKLOADS[key](settings, _progress(key)))
    run = Run(
        command=" ".join(["python -m benchmarks", *map(shlex.quote, words)]),
        mode="quick" if quick else "full",
        started=started.isoformat(timespec="seconds"),
        seconds=time.perf_counter() - clock,
        machine=describe(),
        settings={
            "tickets": settings.tickets,
            "stream_bytes": settings.stream_bytes,
            "round_seconds": settings.round_seconds,
            "rounds": settings.rounds,
        },
        workloads=workloads,
        targets=evaluate(workloads),
    )
    output = arguments.output or (RECORD if _full(arguments) else SCRATCH)
    for path in write(run, output):
        print(path)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure projection against the scan floor and its peers, as ratios measured "
        "in the same run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small inputs and few rounds: a smoke test of the harness, under a minute",
    )
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help="where results.json, RESULTS.md and results.png go (default: benchmarks/ for a full "
        "run of every workload, the record; benchmarks/results/ for any other)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help="run only these: " + ", ".join(WORKLOADS),
    )
    parser.add_argument(
        "--rounds", type=_positive, help="rounds of every workload (default: its own, 2 to 21)"
    )
    parser.add_argument(
        "--tickets",
        type=_positive,
        help="tickets in the bulk array (default: 10,000; --quick: 1,000)",
    )
    parser.add_argument(
        "--stream-mb",
        type=float,
        help="MB of NDJSON for the stream (default: 1 GiB; --quick: 50)",
    )
    return parser


def _full(arguments: argparse.Namespace) -> bool:
    """Whether this is the full run: every workload, at its own sizes and rounds."""
    changed = (arguments.only, arguments.rounds, arguments.tickets, arguments.stream_mb)
    return not arguments.quick and all(option is None for option in changed)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _progress(workload: str) -> Callable[[str], None]:
    def progress(message: str) -> None:
        print(f"[{workload}] {message}", file=sys.stderr, flush=True)

    return progress
