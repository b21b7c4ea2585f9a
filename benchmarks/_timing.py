"""Measurement: each contender of a comparison timed in the same rounds, interleaved, summarized.

One round times each contender once, over a batch of calls sized so the round lasts long enough to
read the clock well; the order rotates from round to round, so drift (clock, heat, neighbours on a
shared machine) hits every contender alike. Figures are medians with their spread, never one timing.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Ratio", "Stats", "Task", "measure", "ratio"]


@dataclass(frozen=True)
class Task:
    """One contender on its inputs: a round calls ``call`` on a batch cycling through ``inputs``."""

    name: str
    call: Callable[[Any], object]
    inputs: Sequence[Any]


@dataclass(frozen=True)
class Stats:
    """Seconds per call, one sample per round, and their summary."""

    samples: list[float]
    calls_per_round: int
    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float
    iqr: float

    @classmethod
    def of(cls, samples: list[float], calls_per_round: int) -> Stats:
        q1, q3 = _quartiles(samples)
        return cls(
            samples=samples,
            calls_per_round=calls_per_round,
            median=statistics.median(samples),
            minimum=min(samples),
            maximum=max(samples),
            q1=q1,
            q3=q3,
            iqr=q3 - q1,
        )


@dataclass(frozen=True)
class Ratio:
    """A ratio taken round by round (both sides timed in the same round), then summarized."""

    median: float
    minimum: float
    maximum: float


def measure(
    tasks: Sequence[Task], *, rounds: int, round_seconds: float, progress: Callable[[str], None]
) -> dict[str, Stats]:
    """Time every task in ``rounds`` interleaved rounds; seconds per call for each, by name.

    Each task is called once first (warm-up and estimate) and its batch sized so one round of it
    lasts about ``round_seconds``. The garbage collector runs between samples, not inside them,
    and stays enabled inside them: collections a contender's own garbage triggers are its cost.
    """
    batches = {task.name: _batch(task, round_seconds) for task in tasks}
    samples: dict[str, list[float]] = {task.name: [] for task in tasks}
    for number in range(rounds):
        shift = number % len(tasks)
        for task in [*tasks[shift:], *tasks[:shift]]:
            progress(f"round {number + 1}/{rounds}: {task.name}")
            batch = batches[task.name]
            samples[task.name].append(_seconds(task.call, batch) / len(batch))
    return {task.name: Stats.of(samples[task.name], len(batches[task.name])) for task in tasks}


def ratio(numerator: Stats, denominator: Stats) -> Ratio:
    """``numerator / denominator`` per round (the rounds are paired), with its median and range."""
    per_round = [a / b for a, b in zip(numerator.samples, denominator.samples, strict=True)]
    return Ratio(statistics.median(per_round), min(per_round), max(per_round))


def _batch(task: Task, round_seconds: float) -> list[Any]:
    """The inputs of one round: enough calls to last ``round_seconds``, at least one."""
    inputs = task.inputs
    calls = 1
    elapsed = _seconds(task.call, [inputs[0]])
    # Doubling until the estimate is itself long enough to trust, as ``timeit.autorange`` does.
    while elapsed < round_seconds / 4:
        calls *= 2
        elapsed = _seconds(task.call, [inputs[i % len(inputs)] for i in range(calls)])
    calls = max(1, math.ceil(calls * round_seconds / elapsed))
    return [inputs[i % len(inputs)] for i in range(calls)]


def _seconds(call: Callable[[Any], object], batch: list[Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    for item in batch:
        call(item)
    return time.perf_counter() - start


def _quartiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, q3
