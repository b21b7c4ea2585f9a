"""The targets the figures are read against: reported with whether each is met, never asserted.

A target whose workload did not run, or whose contenders were not both measured, is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from benchmarks._timing import Ratio, ratio
from benchmarks.contenders import FAST_PATH
from benchmarks.results import Group, Workload

__all__ = ["Target", "evaluate"]

MB = 1e6


@dataclass(frozen=True)
class Target:
    """One figure, what it measured, the target and whether it is met."""

    figure: str
    value: float
    measured: str
    target: str
    met: bool


def evaluate(workloads: list[Workload]) -> list[Target]:
    """Every target that the workloads run can answer, in the order of the workloads."""
    found: list[Target] = []
    for workload in workloads:
        check = _CHECKS.get(workload.key)
        if check is not None:
            found.extend(check(workload))
    return found


def _time_ratio(group: Group, numerator: str, denominator: str) -> Ratio | None:
    """``numerator``'s time over ``denominator``'s, round by round, if both were measured."""
    a, b = group.find(numerator), group.find(denominator)
    if a is None or b is None or a.stats is None or b.stats is None:
        return None
    return ratio(a.stats, b.stats)


def _single(workload: Workload) -> Iterator[Target]:
    assert workload.floor is not None
    for group in workload.groups:
        found = _time_ratio(group, FAST_PATH.name, workload.floor)
        if found is not None:
            yield Target(
                f"single ticket, {group.label}: `p.project` time / scan floor time",
                found.median,
                f"{found.median:.2f}x",
                "≤ 1.4x",
                found.median <= 1.4,
            )


def _array(workload: Workload) -> Iterator[Target]:
    assert workload.floor is not None
    assert workload.baseline is not None
    for group in workload.groups:
        share = _time_ratio(group, workload.floor, FAST_PATH.name)
        if share is not None:
            yield Target(
                f"bulk array, {group.label}: `p.project` throughput / scan floor throughput",
                share.median,
                f"{share.median:.2f}",
                "≥ 0.75",
                share.median >= 0.75,
            )
    for group in workload.groups:
        speedup = _time_ratio(group, workload.baseline, FAST_PATH.name)
        if speedup is not None:
            yield Target(
                f"bulk array, {group.label}: `p.project` speed-up over {workload.baseline}",
                speedup.median,
                f"{speedup.median:.1f}x",
                "≥ 20x",
                speedup.median >= 20,
            )


def _ndjson(workload: Workload) -> Iterator[Target]:
    for group in workload.groups:
        measured = [m for m in group.measurements if m.stats is not None]
        for m in measured:
            peak = m.extra["peak_rss_bytes"]
            yield Target(
                f"NDJSON {group.label}, {m.contender}: peak memory of the process tree",
                peak / MB,
                f"{peak / MB:,.0f} MB",
                "< 256 MB",
                peak < 256 * MB,
            )
        most = measured[-1] if measured else None
        if most is not None and most.contender != workload.baseline and most.speedup is not None:
            yield Target(
                f"NDJSON {group.label}: {most.contender} speed-up over {workload.baseline}",
                most.speedup.median,
                f"{most.speedup.median:.2f}x",
                "≥ 1.6x",
                most.speedup.median >= 1.6,
            )


def _parse(workload: Workload) -> Iterator[Target]:
    assert workload.baseline is not None
    for group in workload.groups:
        found = _time_ratio(group, "projection.parse", workload.baseline)
        if found is not None:
            yield Target(
                f"cold parse, {group.label} expression: `projection.parse` time / "
                f"`{workload.baseline}` time",
                found.median,
                f"{found.median:.2f}x",
                "≤ 3x",
                found.median <= 3,
            )


def _cached(workload: Workload) -> Iterator[Target]:
    assert workload.baseline is not None
    for group in workload.groups:
        found = _time_ratio(group, "projection.project (cached)", workload.baseline)
        if found is not None:
            yield Target(
                f"warm cache, {group.label}: `projection.project` time / precompiled "
                "`p.project` time",
                found.median,
                f"{found.median:.2f}x",
                "≤ 1.1x",
                found.median <= 1.1,
            )


_CHECKS: dict[str, Callable[[Workload], Iterator[Target]]] = {
    "single": _single,
    "array": _array,
    "ndjson": _ndjson,
    "parse": _parse,
    "cached": _cached,
}
