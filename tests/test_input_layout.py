"""How ``projection apply`` tells NDJSON from one document when the first line is broken.

README, "The command line": NDJSON when the first line is a whole JSON value or looks like one
(``{...}``, ``[...]``), invalid or not; otherwise the first block decides. Here the lines after a
broken first one are indented, which no NDJSON line is told by, so only the first line's look
can make the input NDJSON; run as users run it, a subprocess with a pipe.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


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
