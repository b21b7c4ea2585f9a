"""Mutation testing: small deliberate bugs in the core modules, and whether the suite notices.

A mutant changes one token or one statement of a module (a comparison turned around, ``and`` for
``or``, a constant off by one, a condition negated, a call left out). For each, the module's
tests run on a copy of the repository with that one change; the mutant is *killed* when they
fail (or hang), and *survives* when they pass, which names a behaviour no test pins, or a change
that makes no difference (an equivalent mutant). Every survivor gets a test or an argument.

The mutants of a module are all its candidate sites, or a seeded sample of them::

    python tools/mutants.py                         # a sample of 25 per module, seed 0
    python tools/mutants.py --per-module 0          # every site
    python tools/mutants.py --module projection/_mask.py --list

Results go to ``--output`` as JSON lines, one per mutant, and survivors are printed with their
place and their change. It takes minutes per module: each mutant runs the module's test files,
stopping at the first failure.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent

# Each module under test, and the test files that speak for it.
MODULES: dict[str, list[str]] = {
    "projection/_mask.py": ["test_cases", "test_appliers", "test_limits", "test_properties"],
    "projection/_compile.py": ["test_cases", "test_appliers", "test_fast_path", "test_hostile"],
    "projection/_bulk.py": ["test_bulk", "test_bulk_oracle", "test_input_layout", "test_cli"],
    "projection/_stream.py": ["test_bulk", "test_bulk_oracle", "test_input_layout", "test_cli"],
    "projection/_workers.py": ["test_bulk", "test_bulk_oracle", "test_appliers"],
    "projection/asgi.py": ["test_asgi", "test_appliers", "test_limits"],
    "projection/_schema.py": ["test_schema", "test_schema_paths", "test_schema_edges"],
}

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

    def describe(self, source: bytes) -> str:
        before = source[self.start : self.end].decode().splitlines()[0]
        return f"{self.module}:{self.line} {self.kind}: {before!r} -> {self.replacement.decode()!r}"


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
        elif isinstance(node, ast.If | ast.While):
            start, end = span(node.test)
            negated = b"not (" + source[start:end] + b")"
            yield Mutant(module, node.lineno, start, end, negated, "condition negated")


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


def run(mutant: Mutant, copy: Path, timeout: float) -> Outcome:
    """The module's tests on ``copy`` with ``mutant`` applied; the module restored after."""
    path = copy / mutant.module
    source = path.read_bytes()
    path.write_bytes(mutant.applied(source))
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--hypothesis-seed=0", *(f"tests/{name}.py" for name in MODULES[mutant.module])]
    started = time.perf_counter()
    try:
        result = subprocess.run(
            command,
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        killed, reason = result.returncode != 0, _last_line(result.stdout)
    except subprocess.TimeoutExpired:
        killed, reason = True, f"timed out after {timeout:.0f} s"
    finally:
        path.write_bytes(source)
    return Outcome(mutant, killed, time.perf_counter() - started, reason)


def _last_line(output: bytes) -> str:
    lines = output.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES))
    parser.add_argument("--per-module", type=int, default=25, help="0 for every site")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one mutant")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--output", type=Path, default=Path("mutants.jsonl"))
    options = parser.parse_args(argv)

    survivors: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        # The mutants are those of this copy, taken once: the tests run on the very sources the
        # mutants were made from, and described from, whatever happens to the checkout meanwhile.
        copy = Path(scratch, "repository")
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv*", "__pycache__"))
        chosen: list[Mutant] = []
        for module in options.module or sorted(MODULES):
            every = mutants(module, copy)
            sample = every
            if 0 < options.per_module < len(every):
                sample = sorted(random.Random(options.seed).sample(every, options.per_module))
            print(f"{module}: {len(every)} mutants, {len(sample)} run", file=sys.stderr)
            chosen += sample
        sources = {module: (copy / module).read_bytes() for module in {m.module for m in chosen}}
        if options.list:
            for mutant in chosen:
                print(mutant.describe(sources[mutant.module]))
            return 0

        with options.output.open("w") as results:
            for number, mutant in enumerate(chosen, 1):
                outcome = run(mutant, copy, options.timeout)
                described = mutant.describe(sources[mutant.module])
                verdict = "killed" if outcome.killed else "SURVIVED"
                print(f"[{number}/{len(chosen)}] {verdict} {described}", file=sys.stderr)
                if not outcome.killed:
                    survivors.append(described)
                record = {"mutant": described, "killed": outcome.killed, "reason": outcome.reason}
                results.write(json.dumps({**record, "seconds": round(outcome.seconds, 1)}) + "\n")
                results.flush()  # a run stopped part way keeps what it found
    killed = len(chosen) - len(survivors)
    print(f"{len(chosen)} mutants: {killed} killed, {len(survivors)} survived")
    for described in survivors:
        print(f"  survived: {described}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
