"""How ``projection apply`` tells NDJSON from one document when the first line is broken.

README, "The command line": NDJSON when the first line is a whole JSON value or looks like one
(``{...}``, ``[...]``), invalid or not; otherwise the first block decides. Here the lines after a
broken first one are indented, which no NDJSON line is told by, so only the first line's look
can make the input NDJSON; run as users run it, a subprocess with a pipe.

Internals reached: the size of a block (``projection._bulk.BLOCK_BYTES``), to fill one.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from projection import _bulk


def apply(data: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "projection", "apply", "a", *options],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "first",
    [b"[1,,2]", b"[{'a': 1}]", b'{"a": 1,}', b'  {"a" 1}  '],
)
@pytest.mark.parametrize("following", [b"", b'  {"a": 2, "b": 3}\n'])
def test_a_broken_first_line_that_looks_like_a_line_makes_ndjson(
    first: bytes, following: bytes
) -> None:
    result = apply(first + b"\n" + following, "--on-error", "report")
    assert result.returncode == 1
    assert result.stdout == (b'{"a":2}\n' if following else b"")
    errors = result.stderr.decode().splitlines()
    assert errors[0].startswith("projection: line 1: invalid JSON at byte ")
    assert errors[-1] == "projection: rejected 1 invalid line: 1"


@pytest.mark.parametrize("data", [b"[\n  1,,\n  2\n]\n", b'{\n  "a": 1,\n  "b":\n}\n'])
def test_a_broken_document_spread_over_lines_is_one_document(data: bytes) -> None:
    result = apply(data, "--on-error", "report")
    assert result.returncode == 1
    assert result.stdout == b""
    # Said of the document, where it goes wrong, not of its first line.
    assert result.stderr.decode().startswith("projection: invalid JSON at byte ")


@pytest.mark.parametrize("first", [b"1", b'"x"', b"null", b" true "])
def test_a_first_line_that_is_a_whole_scalar_makes_ndjson_past_a_block_of_blank_lines(
    first: bytes,
) -> None:
    # Blank lines fill the first block whole: read alone it could begin one document, but the
    # first line, a whole value, has already said NDJSON.
    blank = b"\n" * (2 * _bulk.BLOCK_BYTES)
    result = apply(first + b"\n" + blank + b'{"a": 2, "b": 3}\n')
    assert result.returncode == 0, result.stderr
    assert result.stdout == first.strip() + b'\n{"a":2}\n'


def test_the_first_blocks_whole_lines_decide_not_the_line_it_cuts() -> None:
    # "[", "1", blank lines, then "x..." cut by the end of the first block: the whole lines begin
    # one document (an array), whatever follows them in the block.
    head = b"[\n1\n" + b"\n" * (_bulk.BLOCK_BYTES - 14)
    result = apply(head + b"x" * 20 + b"\n", "--on-error", "report")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode().startswith("projection: invalid JSON at byte ")


def test_a_first_block_whose_last_whole_line_breaks_the_document_is_ndjson() -> None:
    # "[", "1", blank lines, then "]]" as the first block's last whole line: no one document
    # begins so, and the line "1", a whole value, says NDJSON.
    head = b"[\n1\n" + b"\n" * (_bulk.BLOCK_BYTES - 10) + b"]]\n"
    result = apply(head + b'{"a": 2, "b": 3}\n', "--on-error", "report")
    assert result.returncode == 1
    assert result.stdout == b'1\n{"a":2}\n'
    assert result.stderr.decode().splitlines()[-1].startswith("projection: rejected 2 invalid")
