"""The ``projection`` command, run as users run it: a subprocess with real pipes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import projection
from projection._bulk import BLOCK_BYTES
from projection._cli import _Progress, main
from projection.kibo import iter_sample_lines


def run(*arguments: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "projection", *arguments],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_version_is_the_package_version() -> None:
    # The installed metadata gives it; test_wheel.py checks it against pyproject.toml.
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.decode() == f"projection {projection.__version__}\n"


def test_there_is_no_bench_command() -> None:
    # The benchmarks run from a source checkout, as ``python -m benchmarks``.
    result = run("bench", "--help")
    assert result.returncode == 2
    assert result.stdout == b""


def test_check_prints_the_canonical_form_the_tree_and_the_paths() -> None:
    result = run("check", " customerAccount(contacts(address)), accessToken ")
    assert result.returncode == 0
    assert result.stdout.decode().splitlines() == [
        "customerAccount(contacts(address)),accessToken",
        "├── 'customerAccount'",
        "│   └── 'contacts'",
        "│       └── 'address'  keep",
        "└── 'accessToken'  keep",
        "paths: customerAccount.contacts.address, accessToken",
    ]


def test_check_json_is_for_machines() -> None:
    result = run("check", "--json", "a(b),-a/c,*(d)")
    assert result.returncode == 0
    report = orjson.loads(result.stdout)
    assert report == {
        "canonical": "*(d),a(b)",
        "case_insensitive": False,
        "paths": None,
        "tree": {
            "default": {"default": "drop", "entries": [{"key": "d", "mask": "whole"}]},
            "entries": [
                {
                    "key": "a",
                    "mask": {"default": "drop", "entries": [{"key": "b", "mask": "whole"}]},
                }
            ],
        },
    }


def test_check_reports_a_bad_expression_with_its_caret_and_status_1() -> None:
    result = run("check", "a(b")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == (
        "projection: unexpected end of the expression at column 4: expected '(', '/', ',' or ')'\n"
        "  a(b\n     ^\n"
    )


def test_apply_projects_ndjson_line_by_line() -> None:
    lines = b'{"a": 1, "b": {"c": 2, "d": 3}}\n\n{"b": [{"c": 4}, {"d": 5}], "a": 6}\n'
    result = run("apply", "b/c", stdin=lines)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b'{"b":{"c":2}}\n{"b":[{"c":4},{}]}\n'


def test_apply_projects_one_pretty_printed_document_or_array(tmp_path: Path) -> None:
    document = tmp_path / "tickets.json"
    document.write_bytes(b'[\n  {"a": 1, "b": 2},\n  {"b": 3}\n]\n')
    result = run("apply", "-b", str(document))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b'[{"a":1},{}]\n'


def test_apply_says_which_line_is_invalid() -> None:
    result = run("apply", "a", stdin=b'{"a": 1}\n{"a": 2\n')
    assert result.returncode == 1
    assert result.stdout == b'{"a":1}\n'
    assert b"line 2" in result.stderr


def test_sample_and_apply_make_the_main_job() -> None:
    # The README's main command: ``projection sample -n 3 | projection apply EXPR``.
    sample = run("sample", "-n", "3")
    assert sample.returncode == 0
    assert len(sample.stdout.splitlines()) == 3
    expression = "customerAccount(contacts(address)),accessToken"
    result = run("apply", expression, stdin=sample.stdout)
    assert result.returncode == 0, result.stderr
    expected = projection.parse(expression)
    projected = [orjson.loads(line) for line in result.stdout.splitlines()]
    for source, value in zip(sample.stdout.splitlines(), projected, strict=True):
        assert value == expected.apply(orjson.loads(source))
    # It shows what the expression does: contacts with addresses, in most tickets.
    with_addresses = [
        value
        for value in projected
        if any("address" in contact for contact in value["customerAccount"]["contacts"])
    ]
    assert len(with_addresses) >= 2


@pytest.mark.parametrize("seed", ["0", "7"])
def test_sample_formats_hold_the_same_tickets(seed: str) -> None:
    ndjson = run("sample", "-n", "300", "--seed", seed)
    array = run("sample", "-n", "300", "--seed", seed, "--format", "json")
    assert ndjson.returncode == array.returncode == 0
    assert array.stdout.endswith(b"]\n")
    assert orjson.loads(array.stdout) == [orjson.loads(line) for line in ndjson.stdout.splitlines()]
    assert run("sample", "-n", "0", "--format", "json").stdout == b"[]\n"


def test_apply_from_a_terminal_says_how_to_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert main(["apply", "a"]) == 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_quietly_with_status_130(workers: str) -> None:
    command = [sys.executable, "-m", "projection", "apply", "a", "--workers", workers]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdin is not None
        process.stdin.write(b'{"a": 1}\n')  # NDJSON, then nothing more: it waits for input
        process.stdin.flush()
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 130
    assert errors == b""


def test_misuse_exits_with_status_2() -> None:
    assert run("frobnicate").returncode == 2
    assert run("apply").returncode == 2


def test_workers_keep_the_input_order_across_many_blocks(tmp_path: Path) -> None:
    lines = b"".join(iter_sample_lines(3_000, seed=3))
    assert len(lines) > 2 * BLOCK_BYTES  # several blocks: this process and a worker take part
    source = tmp_path / "tickets.ndjson"
    source.write_bytes(lines)
    expression = "customerAccount(id,contacts(email)),-customerAccount/contacts/email"
    one = run("apply", expression, str(source))
    two = run("apply", "--workers", "2", expression, str(source))
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 3_000


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("mode", ["skip", "report"])
def test_rejected_lines_are_counted_and_reported(mode: str, workers: str) -> None:
    lines = b'{"a": 1}\n{"a": \n{"a": 3}\nnot json\n'
    result = run("apply", "a", "--on-error", mode, "--workers", workers, stdin=lines)
    assert result.returncode == 1
    assert result.stdout == b'{"a":1}\n{"a":3}\n'
    errors = result.stderr.decode().splitlines()
    assert errors[-1] == "projection: rejected 2 invalid lines: 2, 4"
    if mode == "report":
        assert errors[0].startswith("projection: line 2: invalid JSON at byte 6")
        assert errors[1].startswith("projection: line 4: invalid JSON at byte ")
    else:
        assert len(errors) == 1


def test_failing_stops_at_the_first_invalid_line_with_workers() -> None:
    lines = b'{"a": 1}\n{"a": \n{"a": 3}\n'
    result = run("apply", "a", "--workers", "2", stdin=lines)
    assert result.returncode == 1
    assert result.stdout == b'{"a":1}\n'
    assert result.stderr.decode().startswith("projection: line 2: invalid JSON")


def test_progress_is_drawn_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with _Progress(total=4 * 2**20) as progress:
        progress(2**20)
        progress(2 * 2**20)  # within 0.2 s of the last drawing: skipped
    drawn = capsys.readouterr().err
    assert drawn.startswith("\r[#######                       ]  25.0% 1 MiB ")
    assert drawn.count("%") == 1
    assert drawn.endswith("\r\x1b[K")


def test_rejected_lines_are_numbered_across_blocks_and_processes(tmp_path: Path) -> None:
    good = list(iter_sample_lines(3_000, seed=5))
    bad_lines = [1_200, 2_500]  # in the second block and the third, whichever process takes them
    for number in bad_lines:
        good[number - 1] = b'{"accessToken": }\n'
    source = tmp_path / "tickets.ndjson"
    source.write_bytes(b"".join(good))
    result = run("apply", "accessToken", str(source), "-w", "2", "--on-error", "skip")
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 3_000 - len(bad_lines)
    assert result.stderr.decode().splitlines() == [
        "projection: rejected 2 invalid lines: 1200, 2500"
    ]
