"""Mutation testing: small deliberate bugs in the core modules, and whether the suite notices.

A mutant changes one token or one statement of a module (a comparison turned around, ``and`` for
``or``, a constant off by one, a condition negated, a call left out). For each, the module's
tests run on a copy of the repository with that one change; the mutant is *killed* when they
fail (or hang), and *survives* when they pass, which names a behaviour no test pins, or a change
that makes no difference (an equivalent mutant). Every survivor gets a test or an argument.

The mutants of a module are all its candidate sites, or a seeded sample of them::

    python tools/mutants.py                         # a sample of 25 per module, seed 0
    python tools/mutants.py --per-module 0 --jobs 2 # every site, two at a time
    python tools/mutants.py --module projection/_mask.py --list

A mutant runs only the tests that execute its line. One run of the module's test files under
coverage, with each test as its own context, first finds them; a line no test runs in the tests'
own process (module-level code, code run by a child process) runs the module's test files whole.
A mutant that survives its tests is run against the module's test files whole before it is called
a survivor, so the selection can only make a run quicker, never a survivor out of a killed mutant.

A survivor that ``equivalent_mutants.toml`` (beside this file) lists, by its module, its source
line and its change, is *equivalent*: the file says why it changes no behaviour. Results go to
``--output`` as JSON lines, one per mutant, and survivors are printed with their place and their
change; the exit status is 1 if any survived.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final, NamedTuple

from coverage import CoverageData

ROOT = Path(__file__).resolve().parent.parent

# Each module under test, and the test files that speak for it.
MODULES: dict[str, list[str]] = {
    "projection/_mask.py": [
        "test_cases",
        "test_appliers",
        "test_limits",
        "test_properties",
        "test_errors",
    ],
    "projection/_compile.py": ["test_cases", "test_appliers", "test_fast_path", "test_hostile"],
    "projection/_bulk.py": [
        "test_bulk",
        "test_bulk_oracle",
        "test_input_layout",
        "test_cli",
        "test_fast_path",
    ],
    "projection/_stream.py": ["test_bulk", "test_bulk_oracle", "test_input_layout", "test_cli"],
    "projection/_workers.py": ["test_bulk", "test_bulk_oracle", "test_appliers"],
    "projection/asgi.py": ["test_asgi", "test_appliers", "test_limits"],
    "projection/_schema.py": ["test_schema", "test_schema_paths", "test_schema_edges"],
}

# The tests run the same way, with the same examples, when lines are covered and mutants tried.
_PYTEST: Final = (
    *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
    "--hypothesis-seed=0",
)

_SWAPPED_OPERATORS = {
    "<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
    "+": "-", "-": "+", "+=": "-=", "-=": "+=",
}  # fmt: skip
_SWAPPED_NAMES = {"and": "or", "or": "and", "True": "False", "False": "True", "is": "is not"}


class Mutant(NamedTuple):
    module: str
    line: int
    start: int  # byte offsets in the module's source
    end: int
    replacement: bytes
    kind: str

    def applied(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement + source[self.end :]

    def change(self, source: bytes) -> str:
        before = source[self.start : self.end].decode().splitlines()[0]
        return f"{self.kind}: {before!r} -> {self.replacement.decode()!r}"

    def describe(self, source: bytes) -> str:
        return f"{self.module}:{self.line} {self.change(source)}"

    def name(self, source: bytes) -> tuple[str, str, str]:
        """What names the mutant in ``EQUIVALENTS``, whatever lines come before it."""
        line = source.splitlines()[self.line - 1].decode().strip()
        return self.module, line, self.change(source)


EQUIVALENTS = Path(__file__).with_name("equivalent_mutants.toml")


def equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str, str], str]:
    """The mutants shown to change no behaviour, each with the argument: by module, source line
    (stripped) and change."""
    with path.open("rb") as file:
        listed = tomllib.load(file)["mutant"]
    return {(each["module"], each["line"], each["change"]): each["why"] for each in listed}


def mutants(module: str, root: Path = ROOT) -> list[Mutant]:
    """Every mutant of ``module`` (in the repository at ``root``) that still parses, in order."""
    source = (root / module).read_bytes()
    found = sorted(set(_token_mutants(module, source)) | set(_statement_mutants(module, source)))
    return [
        mutant
        for mutant in sorted(found, key=lambda mutant: (mutant.start, mutant.kind))
        if _parses(mutant.applied(source))
    ]


def _offsets(source: bytes) -> list[int]:
    """The byte offset at which each line starts (1-based lines: index 0 unused)."""
    starts = [0, 0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _token_mutants(module: str, source: bytes) -> Iterator[Mutant]:
    lines = source.decode().splitlines(keepends=True)
    starts = _offsets(source)
    skipped = _skipped_lines(source)

    def offset(row: int, column: int) -> int:
        return starts[row] + len(lines[row - 1][:column].encode())

    for token in tokenize.tokenize(io.BytesIO(source).readline):
        row = token.start[0]
        candidate = token.type in (tokenize.OP, tokenize.NAME, tokenize.NUMBER)
        if not candidate or row in skipped or token.start[0] != token.end[0]:
            continue
        start, end = offset(*token.start), offset(*token.end)
        if token.type == tokenize.OP and token.string in _SWAPPED_OPERATORS:
            replacement = _SWAPPED_OPERATORS[token.string]
            yield Mutant(module, row, start, end, replacement.encode(), "operator")
        elif token.type == tokenize.NAME and token.string in _SWAPPED_NAMES:
            yield Mutant(module, row, start, end, _SWAPPED_NAMES[token.string].encode(), "name")
        elif token.type == tokenize.NAME and token.string == "not":
            yield Mutant(module, row, start, end + 1, b"", "not removed")
        elif token.type == tokenize.NUMBER and token.string.isdigit():
            bigger = str(int(token.string) + 1).encode()
            yield Mutant(module, row, start, end, bigger, "constant")


def _skipped_lines(source: bytes) -> set[int]:
    """Lines that hold no behaviour: imports, ``__all__`` and annotations-only declarations."""
    skipped: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        imports = isinstance(node, ast.Import | ast.ImportFrom)
        exports = isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        )
        if isinstance(node, ast.stmt) and (imports or exports):
            skipped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            skipped.update(range(node.returns.lineno, (node.returns.end_lineno or 0) + 1))
        elif isinstance(node, ast.arg | ast.AnnAssign):
            annotation = node.annotation
            if annotation is not None:
                skipped.update(range(annotation.lineno, (annotation.end_lineno or 0) + 1))
    return skipped


def _statement_mutants(module: str, source: bytes) -> Iterator[Mutant]:
    starts = _offsets(source)

    def span(node: ast.expr | ast.stmt) -> tuple[int, int]:
        assert node.end_lineno is not None
        assert node.end_col_offset is not None
        return starts[node.lineno] + node.col_offset, starts[node.end_lineno] + node.end_col_offset

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            start, end = span(node.value)
            yield Mutant(module, node.lineno, start, end, b"None", "call left out")
        elif isinstance(node, ast.If | ast.While) and not _for_type_checkers(node.test):
            start, end = span(node.test)
            negated = b"not (" + source[start:end] + b")"
            yield Mutant(module, node.lineno, start, end, negated, "condition negated")


def _for_type_checkers(test: ast.expr) -> bool:
    """Whether a condition is ``TYPE_CHECKING``: what it guards only type checkers read."""
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _parses(source: bytes) -> bool:
    try:
        compile(source, "<mutant>", "exec")
    except SyntaxError:
        return False
    return True


class Outcome(NamedTuple):
    mutant: Mutant
    killed: bool
    seconds: float
    reason: str


class Covered(NamedTuple):
    """Which tests (pytest node ids) execute each line, by module and line, and each test's time."""

    tests: dict[str, dict[int, frozenset[str]]]
    seconds: dict[str, float]

    def of(self, module: str, lines: Iterable[int]) -> list[str]:
        """The tests that execute any of ``lines``, quickest first: a mutant most tests notice
        is then killed after a short run."""
        by_line = self.tests[module]
        found = frozenset().union(*(by_line.get(line, frozenset()) for line in lines))
        return sorted(found, key=lambda test: (self.seconds.get(test, 0.0), test))

    def time_limit(self, tests: list[str]) -> float:
        """Seconds a run of ``tests`` (node ids, or whole files) may take before the mutant
        counts as a hang, which kills it: a minute for pytest to start, and three times what
        they took unmutated, under coverage."""
        files = tuple(f"{test}::" for test in tests if "::" not in test)
        named = set(tests)
        spent = sum(
            seconds
            for test, seconds in self.seconds.items()
            if test in named or test.startswith(files)
        )
        return 60 + 3 * spent


# A line of pytest's --durations report: seconds, phase, node id.
_DURATION: Final = re.compile(r"([0-9.]+)s (?:setup|call|teardown) +(\S.*)")


def covering_tests(copy: Path, modules: list[str]) -> Covered:
    """Which tests execute each line of ``modules``: one run of their test files under coverage."""
    data_file = copy / ".coverage.mutants"
    # Every test, past any failure: the unmutated suite passes, and if one test does not, the
    # others still say which lines they run.
    command = [*_PYTEST, "--cov=projection", "--cov-context=test", "--cov-report="]
    command += ["--durations=0", "--durations-min=0", *_test_files(modules)]
    result = subprocess.run(
        command,
        cwd=copy,
        env={**os.environ, "PYTHONPATH": str(copy), "COVERAGE_FILE": str(data_file)},
        capture_output=True,
        check=False,
    )
    seconds: dict[str, float] = {}
    for line in result.stdout.decode(errors="replace").splitlines():
        if timed := _DURATION.fullmatch(line.strip()):
            seconds[timed[2]] = seconds.get(timed[2], 0.0) + float(timed[1])
    data = CoverageData(str(data_file))
    data.read()
    tests: dict[str, dict[int, frozenset[str]]] = {}
    for module in modules:
        by_line = data.contexts_by_lineno(str((copy / module).resolve()))
        # A context is "node id|phase"; the empty context is import time.
        tests[module] = {
            line: frozenset(context.rpartition("|")[0] for context in contexts if context)
            for line, contexts in by_line.items()
        }
    return Covered(tests, seconds)


def _statement_lines(source: bytes) -> dict[int, int]:
    """Each line's innermost statement's first line: the line coverage reports for it."""
    first: dict[int, int] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt):
            body_start = min(
                (
                    child.lineno
                    for child in ast.iter_child_nodes(node)
                    if isinstance(child, ast.stmt)
                ),
                default=(node.end_lineno or node.lineno) + 1,
            )
            for line in range(node.lineno, body_start):
                # ast.walk goes outside in: an inner statement's claim comes later and wins.
                first[line] = node.lineno
    return first


def _test_files(modules: list[str]) -> list[str]:
    names = dict.fromkeys(name for module in modules for name in MODULES[module])
    return [f"tests/{name}.py" for name in names]


def run(mutant: Mutant, copy: Path, tests: list[str], covered: Covered) -> Outcome:
    """The tests that run the mutant's line, on ``copy`` with ``mutant`` applied; then, if they
    pass, the module's test files whole. The module is restored after."""
    path = copy / mutant.module
    source = path.read_bytes()
    path.write_bytes(mutant.applied(source))
    started = time.perf_counter()
    try:
        whole = _test_files([mutant.module])
        killed, reason = False, ""
        if tests:
            killed, reason = _fails(copy, tests, covered.time_limit(tests))
        if not killed:
            killed, reason = _fails(copy, whole, covered.time_limit(whole))
        elif tests:
            reason = f"{reason} ({len(tests)} tests selected)"
    finally:
        path.write_bytes(source)
    return Outcome(mutant, killed, time.perf_counter() - started, reason)


def _fails(copy: Path, tests: list[str], timeout: float) -> tuple[bool, str]:
    command = [*_PYTEST, "-x", *tests]
    try:
        result = subprocess.run(
            command,
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return True, f"timed out after {timeout:.0f} s"
    return result.returncode != 0, _last_line(result.stdout)


def _last_line(output: bytes) -> str:
    lines = output.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES))
    parser.add_argument("--per-module", type=int, default=25, help="0 for every site")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--output", type=Path, default=Path("mutants.jsonl"))
    options = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        # The mutants are those of this copy, taken once: the tests run on the very sources the
        # mutants were made from, and described from, whatever happens to the checkout meanwhile.
        # Each job has its own copy, since a mutant is written into the copy it runs in.
        copies = [Path(scratch, f"repository-{job}") for job in range(max(options.jobs, 1))]
        for copy in copies:
            ignored = shutil.ignore_patterns(".git", ".venv*", "__pycache__", ".coverage*")
            shutil.copytree(ROOT, copy, ignore=ignored)
        chosen: list[Mutant] = []
        for module in options.module or sorted(MODULES):
            every = mutants(module, copies[0])
            sample = every
            if 0 < options.per_module < len(every):
                sample = sorted(random.Random(options.seed).sample(every, options.per_module))
            print(f"{module}: {len(every)} mutants, {len(sample)} run", file=sys.stderr)
            chosen += sample
        modules = sorted({mutant.module for mutant in chosen})
        sources = {module: (copies[0] / module).read_bytes() for module in modules}
        if options.list:
            for mutant in chosen:
                print(mutant.describe(sources[mutant.module]))
            return 0

        print("finding the tests that run each line", file=sys.stderr)
        covered = covering_tests(copies[0], modules)
        statements = {module: _statement_lines(sources[module]) for module in modules}

        def tests_of(mutant: Mutant) -> list[str]:
            first = statements[mutant.module].get(mutant.line, mutant.line)
            return covered.of(mutant.module, {first, mutant.line})

        free = list(copies)

        def run_in_a_copy(mutant: Mutant) -> Outcome:
            copy = free.pop()  # list.pop and append are atomic: one copy per running mutant
            try:
                return run(mutant, copy, tests_of(mutant), covered)
            finally:
                free.append(copy)

        known = equivalents()
        survivors: list[str] = []
        equivalent = 0
        with (
            options.output.open("w") as results,
            concurrent.futures.ThreadPoolExecutor(len(copies)) as pool,
        ):
            outcomes = pool.map(run_in_a_copy, chosen)
            for number, outcome in enumerate(outcomes, 1):
                mutant, source = outcome.mutant, sources[outcome.mutant.module]
                described = mutant.describe(source)
                if outcome.killed:
                    verdict = "killed"
                elif mutant.name(source) in known:
                    verdict = "equivalent"
                    equivalent += 1
                else:
                    verdict = "SURVIVED"
                    survivors.append(described)
                print(f"[{number}/{len(chosen)}] {verdict} {described}", file=sys.stderr)
                record = {"mutant": described, "verdict": verdict, "reason": outcome.reason}
                results.write(json.dumps({**record, "seconds": round(outcome.seconds, 1)}) + "\n")
                results.flush()  # a run stopped part way keeps what it found
    killed = len(chosen) - equivalent - len(survivors)
    print(
        f"{len(chosen)} mutants: {killed} killed, {equivalent} equivalent "
        f"({EQUIVALENTS.name}), {len(survivors)} survived"
    )
    for described in survivors:
        print(f"  survived: {described}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
