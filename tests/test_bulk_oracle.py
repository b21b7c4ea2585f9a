"""Bulk output against the reference applier, document by document, through the public API.

Each valid line of a generated NDJSON stream must come out as the reference applier's value for
that line's document, written compact (rule 11: the documents are written compact, so the bytes
are fixed), in input order; each invalid line must be reported by its number, counting blank
lines, and stop the stream or be skipped as ``--on-error`` says. The streams go through
``project_lines`` (line by line, and in blocks when longer than a block) and through
``projection apply --workers 2`` on files longer than a block, so that a worker process and this
one share them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import projection

from .oracle import reference
from .strategies import documents, documents_with_expressions, objects, weighted

# A little more than a block of ``projection apply`` (about 4 MB, README "The command line").
BEYOND_A_BLOCK = 9 << 19

# Lines no projection takes: the structure is wrong, and what a projection skips is still scanned
# for structure (rule 11).
BAD_LINES = [
    b"not json",
    b'{"a":}',
    b"}{",
    b"[1,]",
    b'{"a" 1}',
    b'{"a": 1}}',
    b"tru",
    b'"abc',
    b'{"a": [1, 2}',
    b'{"a": 1} x',
]


class Line(NamedTuple):
    """One line of a stream: its bytes, and the document it holds (None: blank or invalid)."""

    data: bytes
    document: Any = None
    valid: bool = True


def document_line(document: Any) -> Line:
    return Line(orjson.dumps(document), document)


_blank = st.sampled_from([b"", b"  ", b"\t", b"\r"]).map(Line)
_bad = st.sampled_from(BAD_LINES).map(lambda data: Line(data, valid=False))


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[Line]]:
    """An expression and NDJSON lines: documents it changes, a few blank and invalid ones."""
    first, text = draw(documents_with_expressions)
    # Mostly objects, as NDJSON lines are: a block of them alone takes the one-pass way.
    more = draw(st.lists(weighted((4, objects), (1, documents)), max_size=6))
    lines = [document_line(document) for document in [first, *more]]
    lines += draw(st.lists(st.one_of(_blank, _bad), max_size=4))
    return text, draw(st.permutations(lines))


def joined(lines: list[Line], ends: list[bytes]) -> bytes:
    return b"".join(line.data + end for line, end in zip(lines, ends, strict=True))


def expected_output(parsed: projection.Projection, lines: list[Line]) -> list[bytes]:
    """The reference applier's value for each valid document line, written compact."""
    return [
        orjson.dumps(reference(parsed, line.document)) + b"\n"
        for line in lines
        if line.valid and line.data.strip(b" \t\r")
    ]


def invalid_numbers(lines: list[Line]) -> list[int]:
    return [number for number, line in enumerate(lines, start=1) if not line.valid]


@given(stream=streams(), folded=st.booleans(), crlf=st.booleans())
@settings(max_examples=30, deadline=None)
def test_project_lines_gives_the_reference_value_of_each_line_until_an_invalid_one(
    stream: tuple[str, list[Line]], folded: bool, crlf: bool
) -> None:
    text, lines = stream
    parsed = projection.parse(text, case_insensitive=folded)
    event("the projection changes a document" if expected_changes(parsed, lines) else "unchanged")
    # The stream as generated, and its valid lines alone (a block of them is projected in one
    # pass where the projection allows), each line by line and in blocks.
    for kept in (lines, [line for line in lines if line.valid]):
        data = joined(kept, [b"\r\n" if crlf else b"\n"] * len(kept))
        invalid = invalid_numbers(kept)
        expected = expected_output(parsed, kept[: invalid[0] - 1] if invalid else kept)
        # Longer than a block: the lines go through the block engine, the padding after them.
        for padding in (b"", b'{"~": "' + b"~" * BEYOND_A_BLOCK + b'"}\n'):
            output: list[bytes] = []
            stopped_at = None
            try:
                output.extend(parsed.project_lines(data + padding))
            except projection.PayloadError as error:
                stopped_at = error.line
            assert stopped_at == (invalid[0] if invalid else None)
            if padding and not invalid:
                output.pop()  # the padding's
            assert output == expected


def expected_changes(parsed: projection.Projection, lines: list[Line]) -> bool:
    return any(
        line.valid and line.data.strip() and reference(parsed, line.document) != line.document
        for line in lines
    )


# -- worker processes, and the modes of --on-error ------------------------------------------------
#
# One run of ``projection apply`` takes one expression: several generated expressions go through
# one run each on its own key, line N holding ``{"cK": document}`` for the K-th expression and the
# run's expression ``c0(e0),c1(e1),...`` (rule 2 gives each key its own). The reference applier
# takes that same expression, line by line.


@st.composite
def runs(draw: st.DrawFn) -> tuple[str, list[Line]]:
    """An expression and the lines of a run: documents of several expressions, blank and invalid
    lines, in any order."""
    groups = draw(st.lists(documents_with_expressions, min_size=1, max_size=4))
    texts: list[str] = []
    lines: list[Line] = []
    for key, (document, text) in enumerate(groups):
        texts.append(f"c{key}({text})" if text.strip() else f"c{key}")
        for each in [document, *draw(st.lists(documents, max_size=2))]:
            lines.append(document_line({f"c{key}": each}))
        if draw(st.booleans()):
            # Another of its documents, named as it names them.
            lines.append(document_line({f"c{key}": draw(documents)}))
    lines += draw(st.lists(st.one_of(_blank, _bad), max_size=5))
    return ",".join(texts), draw(st.permutations(lines))


def padded(lines: list[Line], pieces: int) -> list[Line]:
    """``lines`` with long lines between them, so that the file is longer than a block and cut
    into several parts, which the processes share."""
    padding = document_line({"~": "~" * (BEYOND_A_BLOCK // pieces)})
    step = max(1, -(-len(lines) // pieces))
    result: list[Line] = []
    for start in range(0, len(lines), step):
        result += [*lines[start : start + step], padding]
    return result


@given(run=runs(), mode=st.sampled_from(["skip", "report"]), pieces=st.sampled_from([1, 6]))
@settings(max_examples=10, deadline=None)
def test_worker_processes_give_the_reference_value_of_each_line_and_report_every_invalid_one(
    run: tuple[str, list[Line]], mode: str, pieces: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    text, lines = run
    lines = padded(lines, pieces)
    parsed = projection.parse(text)
    source = tmp_path_factory.mktemp("stream") / "lines.ndjson"
    source.write_bytes(joined(lines, [b"\n"] * len(lines)))
    result = apply(text, source, "--workers", "2", "--on-error", mode)
    assert result.stdout.splitlines(keepends=True) == expected_output(parsed, lines)
    invalid = invalid_numbers(lines)
    errors = result.stderr.decode().splitlines()
    assert result.returncode == (1 if invalid else 0), errors
    if not invalid:
        assert errors == []
        return
    count = f"{len(invalid)} invalid line{'s' if len(invalid) > 1 else ''}"
    assert errors[-1] == f"projection: rejected {count}: {', '.join(map(str, invalid))}"
    reported = [
        int(found) for found in re.findall(r"^projection: line (\d+): ", "\n".join(errors), re.M)
    ]
    assert reported == (invalid if mode == "report" else [])
    assert len(errors) == len(reported) + 1


def apply(text: str, source: Path, *options: str) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "projection", "apply", text, str(source), *options]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_failing_stops_at_the_first_invalid_line_after_every_line_before_it(
    tmp_path: Path,
) -> None:
    documents = [{"a": {"b": number, "c": number}, "d": number} for number in range(2000)]
    lines = padded([document_line(document) for document in documents], 6)
    lines.insert(len(lines) * 2 // 3, Line(b"[1,", valid=False))
    source = tmp_path / "lines.ndjson"
    source.write_bytes(joined(lines, [b"\n"] * len(lines)))
    parsed = projection.parse("a(-b),d")
    stop = invalid_numbers(lines)[0]
    result = apply("a(-b),d", source, "--workers", "2")
    assert result.returncode == 1
    assert result.stdout.splitlines(keepends=True) == expected_output(parsed, lines[: stop - 1])
    assert result.stderr.decode().startswith(f"projection: line {stop}: invalid JSON at byte ")
