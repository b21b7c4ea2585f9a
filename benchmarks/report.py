"""The outputs of a run: ``results.json`` (everything), ``RESULTS.md`` (the machine, the targets
and every table, with the chart) and ``results.png`` (the chart).

The chart needs matplotlib (the ``bench`` dependency group); without it the run still writes the
other two files and says so in them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks.contenders import CONTENDERS, EXPRESSIONS
from benchmarks.results import Group, Measurement, Workload
from benchmarks.targets import Target

__all__ = ["Run", "write"]


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run: how it was started, on what, and what it found."""

    command: str
    mode: str
    started: str
    seconds: float
    machine: dict[str, Any]
    settings: dict[str, Any]
    workloads: list[Workload]
    targets: list[Target]


def write(run: Run, directory: Path) -> list[Path]:
    """Write the outputs into ``directory`` (created if need be); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    chart = directory / "results.png"
    chart_note = _chart(run.workloads, chart)
    paths = [directory / "results.json", directory / "RESULTS.md"]
    document = dataclasses.asdict(run) | {
        "format": 1,
        "contenders": [{"name": c.name, "how": c.how} for c in CONTENDERS],
        "expressions": [{"label": e.label, "text": e.text} for e in EXPRESSIONS],
        "chart": chart_note or chart.name,
    }
    paths[0].write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    paths[1].write_text(markdown(run, chart_note))
    return paths if chart_note else [*paths, chart]


# -- Markdown ---------------------------------------------------------------------------------


def markdown(run: Run, chart_note: str | None = None) -> str:
    """The report as Markdown: the machine, the targets, then one table per workload."""
    machine = run.machine
    versions = ", ".join(
        f"{name} {found or 'not installed'}" for name, found in machine["versions"].items()
    )
    lines = [
        "# Benchmark results",
        "",
        f"`{run.command}` ({run.mode} mode), started {run.started}, took {run.seconds / 60:.1f} "
        "minutes.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable), "
        f"{machine['memory_gb']} GB; {machine['implementation']} {machine['python']} on "
        f"{machine['os']}. Versions: {versions}.",
        "",
        "Each time is the median over rounds in which all contenders of a table ran, in rotating "
        "order, so that drift on a shared machine hits them alike; the spread is min - max and "
        "the interquartile range. Ratios are taken round by round, then their median. MB = "
        "10^6 bytes. Every contender's output was checked equal to `p.project`'s (as Python "
        "values) before it was timed.",
    ]
    if chart_note:
        lines += ["", f"No chart: {chart_note}."]
    else:
        lines += ["", "![Throughput per contender and workload](results.png)"]
    if run.targets:
        lines += ["", "## Targets", "", *_targets_table(run.targets)]
    for workload in run.workloads:
        lines += ["", f"## {workload.title}"]
        if workload.description:
            lines += ["", workload.description]
        if workload.groups:
            lines += ["", *_workload_table(workload)]
        if workload.notes:
            lines += ["", *[f"- {note}" for note in workload.notes]]
    lines += ["", "## Contenders", ""]
    lines += [f"- **{contender.name}**: {contender.how}" for contender in CONTENDERS]
    lines += ["", "## Expressions", ""]
    lines += [f"- {expression.label}: `{expression.text}`" for expression in EXPRESSIONS]
    return "\n".join(lines) + "\n"


def _targets_table(targets: Sequence[Target]) -> list[str]:
    rows = ["| figure | measured | target | met? |", "|---|---:|---:|:---:|"]
    rows += [
        f"| {t.figure} | {t.measured} | {t.target} | {'yes' if t.met else '**no**'} |"
        for t in targets
    ]
    return rows


def _workload_table(workload: Workload) -> list[str]:
    header = ["", "contender", "median", "min - max", "IQR", "throughput"]
    if workload.floor is not None:
        header += ["time / floor", "share of floor"]
    if workload.baseline is not None:
        header += [f"speed-up vs {workload.baseline}"]
    memory = any("peak_rss_bytes" in m.extra for g in workload.groups for m in g.measurements)
    if memory:
        header += ["peak memory"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
    notes: list[str] = []
    for group in workload.groups:
        for index, m in enumerate(group.measurements):
            label = f"**{group.label}**" if index == 0 else ""
            cells = [label, m.contender]
            if m.stats is None:
                notes.append(f"{group.label}, {m.contender}: {m.note}")
                cells += [f"n/a [{len(notes)}]"] + ["-"] * (len(header) - 3)
            else:
                cells += _cells(workload, m, memory)
            rows.append("| " + " | ".join(cells) + " |")
    legend = _expression_legend(workload.groups)
    footnotes = [f"[{number}] {note}  " for number, note in enumerate(notes, start=1)]
    for block in (legend, footnotes):
        if block:
            rows += ["", *block]
    return rows


def _cells(workload: Workload, m: Measurement, memory: bool) -> list[str]:
    stats = m.stats
    assert stats is not None
    cells = [
        _duration(stats.median),
        f"{_duration(stats.minimum)} - {_duration(stats.maximum)}",
        _duration(stats.iqr),
        _throughput(workload.unit, m),
    ]
    if workload.floor is not None:
        cells += [
            "-" if m.floor_time is None else f"{m.floor_time.median:.2f}x",
            "-" if m.floor_share is None else f"{m.floor_share.median:.0%}",
        ]
    if workload.baseline is not None:
        cells += ["-" if m.speedup is None else f"{m.speedup.median:.2f}x"]
    if memory:
        peak = m.extra.get("peak_rss_bytes")
        cells += ["-" if peak is None else f"{peak / 1e6:,.0f} MB"]
    return cells


def _expression_legend(groups: Sequence[Group]) -> list[str]:
    named = [group for group in groups if group.expression is not None]
    if all(group.expression == group.label for group in named):
        return []
    return [f"**{group.label}**: `{group.expression}`  " for group in named]


def _duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _throughput(unit: str, m: Measurement) -> str:
    if unit == "MB/s" and m.megabytes_per_second is not None:
        return f"{m.megabytes_per_second:,.0f} MB/s"
    assert m.calls_per_second is not None
    calls = f"{m.calls_per_second:,.0f} calls/s"
    if m.megabytes_per_second is None:
        return calls
    return f"{calls} ({m.megabytes_per_second:,.0f} MB/s)"


# -- the chart --------------------------------------------------------------------------------


def _chart(workloads: Sequence[Workload], path: Path) -> str | None:
    """Draw throughput per contender per workload into ``path``; the reason if it cannot."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install --group bench)"
    matplotlib.use("Agg")
    from matplotlib import pyplot

    drawn = [
        w for w in workloads if any(_value(w.unit, m) for g in w.groups for m in g.measurements)
    ]
    if not drawn:
        return "nothing was measured"
    names = list(
        dict.fromkeys(m.contender for w in drawn for g in w.groups for m in g.measurements)
    )
    palette = pyplot.get_cmap("tab20").colors  # type: ignore[attr-defined]
    colors = {name: palette[index % len(palette)] for index, name in enumerate(names)}
    heights = [1.2 + 0.16 * sum(len(g.measurements) for g in w.groups) for w in drawn]
    figure, axes = pyplot.subplots(
        len(drawn),
        1,
        figsize=(12, sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for workload, axis in zip(drawn, axes[:, 0], strict=True):
        _bars(axis, workload, colors)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return None


def _bars(axis: Any, workload: Workload, colors: dict[str, Any]) -> None:
    """One workload: a row of bars per group, one bar per measured contender, values printed."""
    values: list[float] = []
    for row, group in enumerate(workload.groups):
        # A measurement without the workload's unit (an expression refused, in MB/s) is left out.
        measured = [(m, value) for m in group.measurements if (value := _value(workload.unit, m))]
        width = 0.84 / max(len(measured), 1)
        for index, (m, value) in enumerate(measured):
            values.append(value)
            y = row - 0.42 + width * (index + 0.5)
            axis.barh(y, value, height=width * 0.9, color=colors[m.contender], label=m.contender)
            axis.text(value, y, f" {_short(value)}", va="center", fontsize=6)
    axis.set_yticks(range(len(workload.groups)), [g.label for g in workload.groups])
    axis.invert_yaxis()
    logarithmic = max(values) / min(values) > 30
    if logarithmic:
        axis.set_xscale("log")
    axis.set_xlim(right=max(values) * (4 if logarithmic else 1.15))
    axis.set_xlabel(f"throughput, {workload.unit}{' (log scale)' if logarithmic else ''}")
    axis.set_title(workload.title.replace("`", ""), fontsize=10, loc="left")
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axis.legend(
        unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1)
    )
    axis.grid(axis="x", alpha=0.3)


def _short(value: float) -> str:
    """``1530000`` as ``1.53M``: three significant digits, for labels on bars."""
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _value(unit: str, m: Measurement) -> float | None:
    """What a bar shows: the measurement in the workload's unit, None if it has none."""
    if m.stats is None:
        return None
    return m.megabytes_per_second if unit == "MB/s" else m.calls_per_second
