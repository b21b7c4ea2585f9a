"""The benchmark harness runs end to end on tiny inputs and writes its three outputs.

No thresholds: the figures of a few milliseconds on a shared machine prove nothing; only the
structure of what the harness writes is checked.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import projection
from benchmarks import harness, workloads
from benchmarks.harness import main
from benchmarks.targets import shown

STATS = {"samples", "calls_per_round", "median", "minimum", "maximum", "q1", "q3", "iqr"}
# The harness reads resident memory from /proc; where there is none, it reads 0.
MEMORY_READ = Path("/proc/self/status").exists()


def _run(output: Path, *options: str) -> dict[str, Any]:
    assert main(["--quick", "--rounds", "2", "--output", str(output), *options]) == 0
    assert (output / "RESULTS.md").read_text().startswith("# Benchmark results")
    results: dict[str, Any] = orjson.loads((output / "results.json").read_bytes())
    return results


@pytest.mark.slow
def test_quick_run_writes_every_output(tmp_path: Path) -> None:
    results = _run(tmp_path, "--only", "single", "ndjson", "--stream-mb", "1")
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
        assert "](results.png)" in (tmp_path / "RESULTS.md").read_text()
    machine = results["machine"]
    assert {"cpu", "cores", "python", "implementation", "os", "versions"} <= machine.keys()
    assert {"kibo-projection", "msgspec", "orjson", "lark"} <= machine["versions"].keys()
    assert [workload["key"] for workload in results["workloads"]] == ["single", "ndjson"]

    single, ndjson = results["workloads"]
    assert [group["label"] for group in single["groups"]] == [
        "narrow",
        "typical",
        "wide",
        "exclusion",
        "wildcard",
    ]
    for group in single["groups"]:
        fast = group["measurements"][0]
        assert fast["contender"] == "p.project"
        assert fast["stats"].keys() >= STATS
        assert len(fast["stats"]["samples"]) == 2
        for ratio in ("floor_time", "floor_share", "speedup"):
            assert {"median", "minimum", "maximum"} == fast[ratio].keys()
        # Every contender is either measured or says why not.
        for measurement in group["measurements"]:
            assert (measurement["stats"] is None) == (measurement["note"] is not None)

    (stream,) = ndjson["groups"]
    one = stream["measurements"][0]
    assert one["contender"] == "1 worker"
    assert one["extra"]["peak_rss_bytes"] > 0 or not MEMORY_READ
    assert {target["figure"].split(",")[0] for target in results["targets"]} >= {"single ticket"}
    assert all(isinstance(target["met"], bool) for target in results["targets"])


@pytest.mark.slow
def test_hostile_inputs_are_timed_against_friendly_ones_of_the_same_size(tmp_path: Path) -> None:
    results = _run(tmp_path, "--only", "hostile")
    (hostile,) = results["workloads"]
    assert hostile["key"] == "hostile"
    labels = [group["label"] for group in hostile["groups"]]
    assert labels == [
        "escaped quotes cut off",
        f"arrays {workloads.DEEP} deep",
        "long white space",
        "invalid UTF-8 kept, one run per ticket",
        "invalid UTF-8 dense, kept once at the end",
        "nesting too deep",
        "tickets, then nesting too deep",
        "closed arrays half the limit deep, then nesting too deep",
        "array of tickets cut short",
        "arrays of two numbers",
        "a number and an object, side by side, arrays 8 deep",
        "arrays of a number and an object, two levels down",
        "canonical blow-up refused",
        "a name list cut short after its last comma",
        "names nested n/2 deep, never closed",
    ]
    names = ["hostile (n)", "friendly (n)", "hostile (2n)", "friendly (2n)"]
    for group in hostile["groups"]:
        measured = {m["contender"]: m for m in group["measurements"]}
        assert list(measured) == names
        # Every input passed its check (an output equal to the reference's, or a refusal
        # where it must be), and was timed.
        assert all(m["note"] is None and m["stats"].keys() >= STATS for m in measured.values())
        size = {name: m["extra"]["input_bytes"] for name, m in measured.items()}
        assert size["hostile (2n)"] == 2 * size["hostile (n)"]
        assert size["friendly (n)"] == size["hostile (n)"]
        assert size["friendly (2n)"] == size["hostile (2n)"]
    figures = [t["figure"] for t in results["targets"] if t["figure"].startswith("hostile input")]
    assert len(figures) == 3 * len(labels)  # per byte at n and 2n, growth from n to 2n
    assert all(isinstance(target["met"], bool) for target in results["targets"])


@pytest.mark.parametrize("size", [16 << 10, 32 << 10, (32 << 10) + 7])
def test_hostile_inputs_have_the_size_asked_for(size: int) -> None:
    for family in workloads._FAMILIES:
        assert len(family.hostile(size)) == size
        assert len(family.friendly(size)) == size
    for blow_up in (False, True):
        assert len(workloads._expression(size // 8, blow_up)) == size // 8


def test_missing_peers_are_left_out_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry in sys.modules makes ``import name`` raise ImportError.
    for name in ("jsonmask", "glom", "simdjson", "matplotlib"):
        monkeypatch.setitem(sys.modules, name, None)
    results = _run(tmp_path, "--only", "parse")
    assert not (tmp_path / "results.png").exists()
    assert "matplotlib is not installed" in results["chart"]
    assert "No chart: matplotlib is not installed" in (tmp_path / "RESULTS.md").read_text()
    for group in results["workloads"][0]["groups"]:
        jsonmask = next(m for m in group["measurements"] if m["contender"].startswith("jsonmask"))
        assert jsonmask["stats"] is None
        assert "jsonmask is not installed" in jsonmask["note"]


@pytest.mark.parametrize(
    ("options", "record"),
    [
        ([], True),
        (["--quick"], False),
        (["--only", "parse"], False),
        (["--rounds", "3"], False),
        (["--tickets", "10"], False),
        (["--stream-mb", "1"], False),
    ],
)
def test_only_the_full_run_is_written_as_the_record(options: list[str], record: bool) -> None:
    # The full run writes benchmarks/RESULTS.md and results.png; any other run, scratch files.
    assert harness._full(harness._parser().parse_args(options)) is record


@pytest.mark.parametrize(
    ("value", "bound", "text"),
    [
        (0.7487, 0.75, "0.749"),
        (0.7512, 0.75, "0.751"),
        (0.75, 0.75, "0.75"),
        (0.7897, 0.75, "0.79"),
        (1.5997, 1.6, "1.5997"),
        (1.5994, 1.6, "1.599"),
    ],
)
def test_a_figure_never_reads_as_its_bound_when_it_is_not(
    value: float, bound: float, text: str
) -> None:
    assert shown(value, 2, bound) == text


def test_typed_decoding_compares_the_openapi_type_with_the_hand_written_model(
    tmp_path: Path,
) -> None:
    results = _run(tmp_path, "--only", "typed", "--tickets", "20")
    (typed,) = results["workloads"]
    for group in typed["groups"]:
        measured = {m["contender"]: m for m in group["measurements"]}
        # Both measured: the OpenAPI type's values were checked against the hand-written one's.
        assert measured["typed decode, OpenAPI type"]["stats"] is not None
        assert measured["typed decode"]["stats"] is not None
    figures = [target["figure"] for target in results["targets"]]
    assert sum("OpenAPI-built `CustomerAuthTicket`" in figure for figure in figures) == len(
        typed["groups"]
    )


def test_the_first_use_workload_parses_a_new_expression_for_every_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches: list[projection.ProjectionCache] = []

    class Recorded(projection.ProjectionCache):
        def __init__(self) -> None:
            super().__init__()
            caches.append(self)

    monkeypatch.setattr(projection, "ProjectionCache", Recorded)
    results = _run(tmp_path, "--only", "first-use")
    (group,) = results["workloads"][0]["groups"]
    measured = {m["contender"]: m for m in group["measurements"]}
    assert list(measured) == [workloads.FIRST_USE, workloads.FIRST_USE_PARSED, workloads.WARM]
    # Each output was checked against the fast path's, then timed.
    assert all(m["stats"] is not None for m in measured.values())
    (cache,) = caches
    assert cache.misses > 0
    assert cache.hits == 0
    (target,) = [t for t in results["targets"] if t["figure"].startswith("first use")]
    assert isinstance(target["met"], bool)


def test_the_dask_workload_is_skipped_without_dask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)
    (workload,) = _run(tmp_path, "--only", "ndjson-dask", "--stream-mb", "1")["workloads"]
    assert workload["groups"] == []
    assert workload["notes"][0].startswith("skipped: dask and distributed are not installed")


@pytest.mark.slow
def test_the_dask_workload_measures_the_cluster_against_the_command(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    results = _run(tmp_path, "--only", "ndjson-dask", "--stream-mb", "1", "--rounds", "1")
    (stream,) = results["workloads"][0]["groups"]
    measured = {m["contender"]: m for m in stream["measurements"]}
    assert list(measured) == [
        "apply, 1 worker",
        "apply, 2 workers",
        "dask, 2 workers",
        "dask, 2 workers, cluster up",
    ]
    assert all(m["stats"] is not None for m in measured.values()), measured
    assert measured["dask, 2 workers"]["extra"]["peak_rss_bytes"] > 0 or not MEMORY_READ
    (target,) = results["targets"]
    assert target["figure"].startswith("NDJSON 1 MB on Dask, start-up included")
