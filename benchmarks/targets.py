"""The targets the figures are read against: reported with whether each is met, never asserted.

A target whose workload did not run, or whose contenders were not both measured, is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from benchmarks._timing import Ratio, ratio
from benchmarks.contenders import FAST_PATH, FAST_PATH_SCHEMA
from benchmarks.results import Group, Workload
from benchmarks.workloads import DASK_COLD, FIRST_USE, SIZES, WIDEST, friendly, hostile

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


def _ratios(
    workload: Workload,
    figure: str,
    numerator: str | None,
    denominator: str | None,
    *,
    bound: float,
    at_most: bool,
    unit: str = "x",
    digits: int = 2,
    bounds: dict[str, float] | None = None,
) -> Iterator[Target]:
    """For each group: ``numerator``'s time over ``denominator``'s, read against ``bound``.

    ``figure`` names the figure, with ``{label}`` for the group's label; ``bounds`` overrides
    ``bound`` for the groups it names.
    """
    assert numerator is not None
    assert denominator is not None
    for group in workload.groups:
        found = _time_ratio(group, numerator, denominator)
        if found is None:
            continue
        value = found.median
        limit = (bounds or {}).get(group.label, bound)
        yield Target(
            figure.format(label=group.label),
            value,
            shown(value, digits, limit) + unit,
            f"{'≤' if at_most else '≥'} {limit:g}{unit}",
            value <= limit if at_most else value >= limit,
        )


def shown(value: float, digits: int, bound: float) -> str:
    """``value`` with ``digits`` decimals, or more where fewer would show it equal to ``bound``.

    A share of 0.7487 against "≥ 0.75" reads 0.749, not a 0.75 that fails.
    """
    while value != bound and round(value, digits) == bound and digits < 6:
        digits += 1
    return f"{value:.{digits}f}"


# With the schema every node is a Struct, exclusions and wildcards included; the widest shapes
# copy more values, and get a lower share of the floor.
_SCHEMA_SHARES = {"wide": 0.6, "wildcard": 0.6}


def _single(workload: Workload) -> Iterator[Target]:
    figure = "single ticket, {label}: `p.project` time / scan floor time"
    yield from _ratios(workload, figure, FAST_PATH.name, workload.floor, bound=1.4, at_most=True)
    figure = "single ticket, {label}, with the schema: `p.project` time / scan floor time"
    yield from _ratios(
        workload, figure, FAST_PATH_SCHEMA.name, workload.floor, bound=1.4, at_most=True
    )


def _array(workload: Workload) -> Iterator[Target]:
    share = "bulk array, {label}: `p.project` throughput / scan floor throughput"
    yield from _ratios(
        workload, share, workload.floor, FAST_PATH.name, bound=0.75, at_most=False, unit=""
    )
    share = "bulk array, {label}, with the schema: `p.project` throughput / scan floor throughput"
    yield from _ratios(
        workload,
        share,
        workload.floor,
        FAST_PATH_SCHEMA.name,
        bound=0.75,
        at_most=False,
        unit="",
        bounds=_SCHEMA_SHARES,
    )
    speedup = f"bulk array, {{label}}: `p.project` speed-up over {workload.baseline}"
    yield from _ratios(
        workload, speedup, workload.baseline, FAST_PATH.name, bound=20, at_most=False, digits=1
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
                shown(most.speedup.median, 2, 1.6) + "x",
                "≥ 1.6x",
                most.speedup.median >= 1.6,
            )


def _ndjson_dask(workload: Workload) -> Iterator[Target]:
    for group in workload.groups:
        cold = group.find(DASK_COLD)
        if cold is None or cold.speedup is None:
            continue
        share = cold.speedup.median  # the baseline's time over the cluster's: a throughput ratio
        yield Target(
            f"NDJSON {group.label} on Dask, start-up included: {DASK_COLD} throughput / "
            f"{workload.baseline} throughput",
            share,
            shown(share, 2, 0.7),
            "≥ 0.7",
            share >= 0.7,
        )


def _parse(workload: Workload) -> Iterator[Target]:
    figure = (
        f"cold parse, {{label}} expression: `projection.parse` time / `{workload.baseline}` time"
    )
    others = replace(workload, groups=[g for g in workload.groups if g.label != WIDEST])
    yield from _ratios(others, figure, "projection.parse", workload.baseline, bound=3, at_most=True)
    speedup = (
        f"cold parse, {{label}} expression: `projection.parse` speed-up over {workload.baseline}"
    )
    widest = replace(workload, groups=[g for g in workload.groups if g.label == WIDEST])
    yield from _ratios(
        widest, speedup, workload.baseline, "projection.parse", bound=4, at_most=False, digits=1
    )


def _cached(workload: Workload) -> Iterator[Target]:
    figure = "warm cache, {label}: `projection.project` time / precompiled `p.project` time"
    numerator = "projection.project (cached)"
    yield from _ratios(workload, figure, numerator, workload.baseline, bound=1.1, at_most=True)


def _first_use(workload: Workload) -> Iterator[Target]:
    figure = "first use, {label}: a new expression's `projection.project` time / the warm one's"
    yield from _ratios(workload, figure, FIRST_USE, workload.baseline, bound=10, at_most=True)


def _typed(workload: Workload) -> Iterator[Target]:
    figure = (
        "typed decode, {label}: OpenAPI-built `CustomerAuthTicket` time / hand-written model time"
    )
    numerator = "typed decode, OpenAPI type"
    yield from _ratios(workload, figure, numerator, "typed decode", bound=1.1, at_most=True)


def _per_input(group: Group, numerator: str, denominator: str, scale: float) -> Ratio | None:
    """``numerator``'s time per input byte over ``denominator``'s, round by round, times
    ``scale``; None unless both were measured."""
    found = _time_ratio(group, numerator, denominator)
    a, b = group.find(numerator), group.find(denominator)
    if found is None or a is None or b is None:
        return None
    per = scale * b.extra["input_bytes"] / a.extra["input_bytes"]
    return Ratio(found.median * per, found.minimum * per, found.maximum * per)


def _bounded(figure: str, found: Ratio, bound: float) -> Target:
    """A ratio that should stay at most ``bound``, shown with its range over the rounds."""
    spread = f" ({found.minimum:.2f} - {found.maximum:.2f})"
    return Target(
        figure,
        found.median,
        shown(found.median, 2, bound) + "x" + spread,
        f"≤ {bound:g}x",
        found.median <= bound,
    )


def _hostile(workload: Workload) -> Iterator[Target]:
    for group in workload.groups:
        unit = "byte" if group.expression is not None else "character"
        for size in SIZES:
            found = _per_input(group, hostile(size), friendly(size), 1)
            if found is not None:
                figure = f"hostile input, {group.label}, {size}: time per {unit} / friendly's"
                yield _bounded(figure, found, 5)
        # Normalized to input exactly twice as long (the hostile inputs are, to the byte).
        growth = _per_input(group, hostile("2n"), hostile("n"), 2)
        if growth is not None:
            figure = f"hostile input, {group.label}: time at 2n / time at n"
            yield _bounded(figure, growth, 2.3)


_CHECKS: dict[str, Callable[[Workload], Iterator[Target]]] = {
    "single": _single,
    "array": _array,
    "ndjson": _ndjson,
    "ndjson-dask": _ndjson_dask,
    "parse": _parse,
    "cached": _cached,
    "typed": _typed,
    "hostile": _hostile,
    "first-use": _first_use,
}
