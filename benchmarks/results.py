"""The results of a run: workloads, their groups (one expression or input each) and measurements.

Plain frozen dataclasses: the workloads fill them, the targets read them, the report renders them,
and ``dataclasses.asdict`` turns them into ``results.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks._timing import Ratio, Stats, ratio

__all__ = ["Group", "Measurement", "Workload", "measurement"]


@dataclass(frozen=True)
class Measurement:
    """One contender in one group; without ``stats`` it was not measured and ``note`` says why.

    ``floor_time`` is its time over the floor's (per round, then the median), ``floor_share`` the
    floor's time over its own (the share of the floor's throughput it reaches), ``speedup`` the
    baseline's time over its own.
    """

    contender: str
    stats: Stats | None = None
    note: str | None = None
    calls_per_second: float | None = None
    megabytes_per_second: float | None = None
    floor_time: Ratio | None = None
    floor_share: Ratio | None = None
    speedup: Ratio | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """The contenders measured together on the same input, for one expression or setting."""

    label: str
    expression: str | None
    input_bytes: int | None
    measurements: list[Measurement]

    def find(self, contender: str) -> Measurement | None:
        return next((m for m in self.measurements if m.contender == contender), None)


@dataclass(frozen=True)
class Workload:
    """One workload: what it measures, its floor and baseline contenders, and its groups."""

    key: str
    title: str
    description: str
    unit: str  # the throughput shown first: "MB/s" or "calls/s"
    floor: str | None
    baseline: str | None
    groups: list[Group]
    notes: list[str] = field(default_factory=list)


def measurement(
    contender: str,
    stats: Stats,
    *,
    input_bytes: int | None,
    floor: Stats | None,
    baseline: Stats | None,
    extra: dict[str, Any] | None = None,
) -> Measurement:
    """A measured contender with its throughput and its ratios to the floor and the baseline."""
    return Measurement(
        contender=contender,
        stats=stats,
        calls_per_second=1 / stats.median,
        megabytes_per_second=None if input_bytes is None else input_bytes / stats.median / 1e6,
        floor_time=None if floor is None else ratio(stats, floor),
        floor_share=None if floor is None else ratio(floor, stats),
        speedup=None if baseline is None else ratio(baseline, stats),
        extra=extra or {},
    )
