"""Typed decoding of sample tickets: the full ``CustomerAuthTicket`` against a projection's Struct.

``python -m benchmarks.typed_decode`` decodes one JSON array of sample tickets into
``list[CustomerAuthTicket]`` and into ``list[T]`` with ``T = parse(EXPRESSION).typed(...)``, in
alternating rounds after a warm-up, and prints the median, the spread and the ratio of medians.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

import projection
from projection.kibo import CustomerAuthTicket, sample_bytes

EXPRESSION = "customerAccount(firstName,lastName)"


def _seconds(decode: Callable[[bytes], Any], data: bytes) -> float:
    # A full collection first, so garbage from the previous round is not charged to this one.
    gc.collect()
    start = time.perf_counter()
    decoded = decode(data)
    elapsed = time.perf_counter() - start
    # Freed only after the clock stops: the decoding is measured, not the deallocation.
    del decoded
    return elapsed


def _summary(label: str, seconds: list[float]) -> str:
    median = 1000 * statistics.median(seconds)
    low, high = 1000 * min(seconds), 1000 * max(seconds)
    return f"{label:<6} median {median:7.1f} ms   spread {low:.1f} - {high:.1f} ms"


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurement and print it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.typed_decode")
    parser.add_argument("-n", "--tickets", type=int, default=10_000, help="tickets in the array")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds of each (at least 7)")
    arguments = parser.parse_args(argv)
    if arguments.rounds < 7:
        parser.error("--rounds must be at least 7")

    data = sample_bytes(arguments.tickets)
    typed = projection.parse(EXPRESSION).typed(CustomerAuthTicket)
    decoders: dict[str, Callable[[bytes], Any]] = {
        "full": msgspec.json.Decoder(list[CustomerAuthTicket]).decode,
        "typed": msgspec.json.Decoder(list[typed]).decode,  # type: ignore[valid-type]
    }
    # Warm-up: first calls build msgspec's type caches and fault in the pages of ``data``.
    for decode in decoders.values():
        decode(data)
    times: dict[str, list[float]] = {name: [] for name in decoders}
    names = list(decoders)
    for round_number in range(arguments.rounds):
        # Alternating which goes first, so drift (clock, heat, other load) hits both alike.
        for name in names if round_number % 2 == 0 else names[::-1]:
            times[name].append(_seconds(decoders[name], data))

    print(
        f"decoding {arguments.tickets:,} sample tickets ({len(data) / 2**20:.1f} MiB, one JSON "
        f"array), {arguments.rounds} alternating rounds after a warm-up"
    )
    print(_summary("full", times["full"]) + "   list[CustomerAuthTicket]")
    print(_summary("typed", times["typed"]) + f"   list[parse({EXPRESSION!r}).typed(...)]")
    ratio = statistics.median(times["full"]) / statistics.median(times["typed"])
    print(f"ratio of medians, full / typed: {ratio:.2f}x")


if __name__ == "__main__":
    main()
