"""The ``projection`` command, run as users run it: a subprocess with real pipes.

Internals reached: the command's entry point ``projection._cli.main``, to run it in this process
where a subprocess would add nothing; its progress line (``_Progress``); the bulk engine's block
size (``projection._bulk.BLOCK_BYTES``), to make input that spans several blocks.
"""

from __future__ import annotations

import errno
import functools
import gzip
import io
import multiprocessing
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

import projection
from projection import _bulk
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


def _default_sigint() -> None:
    """Ctrl-C as a terminal sends it, in the child: a test run started in the background (``&``
    in a shell without job control) ignores SIGINT, and its children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_stops_quietly_with_status_130(workers: str) -> None:
    command = [sys.executable, "-m", "projection", "apply", "a", "--workers", workers]
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_default_sigint,
    ) as process:
        assert process.stdin is not None
        # NDJSON, less than a block, then nothing more: it waits for input. More than a pipe
        # holds (the command widens its own to 1 MiB), so once written, the command is past its
        # start-up and reading: no sleep that a loaded machine could outlast.
        process.stdin.write(b'{"a": 1}\n' * 300_000)
        process.stdin.flush()
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


class Outcome(NamedTuple):
    status: int | str | None
    out: bytes
    err: str


@pytest.fixture
def command(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> Callable[..., Outcome]:
    """The command run in this process, faster than a subprocess: its status, stdout, stderr."""

    def run_here(*arguments: str, stdin: bytes = b"") -> Outcome:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            status: int | str | None = main(list(arguments))
        except SystemExit as stop:  # argparse: misuse, or --help
            status = stop.code
        captured = capsysbinary.readouterr()
        return Outcome(status, captured.out, captured.err.decode())

    return run_here


@pytest.mark.parametrize("mode", ["skip", "report"])
def test_a_truncated_first_line_does_not_make_ndjson_one_document(
    command: Callable[..., Outcome], mode: str
) -> None:
    lines = b'{"a": 1, "b": \n{"a": 2}\n{"a": 3}\n'
    result = command("apply", "a", "--on-error", mode, stdin=lines)
    assert result.status == 1
    assert result.out == b'{"a":2}\n{"a":3}\n'
    *reported, summary = result.err.splitlines()
    assert summary == "projection: rejected 1 invalid line: 1"
    if mode == "report":
        assert len(reported) == 1
        assert reported[0].startswith("projection: line 1: invalid JSON at byte 14: ")
    else:
        assert reported == []


@pytest.mark.parametrize("layout", ["auto", "json", "ndjson"])
@pytest.mark.parametrize("data", [b"", b" \n\t\n", b"\r\n", b"\xef\xbb\xbf"])
def test_input_without_a_document_gives_nothing(
    command: Callable[..., Outcome], data: bytes, layout: str
) -> None:
    assert command("apply", "a", "--format", layout, stdin=data) == (0, b"", "")


@pytest.mark.parametrize("layout", ["auto", "json", "ndjson"])
@pytest.mark.parametrize(
    "data",
    [b'{"a": 1, "b": 2}\n', b'{\n  "a": 1,\n  "b": 2\n}\n', b'\r\n{"a": 1, "b": 2}\r\n'],
    ids=["line", "pretty", "crlf"],
)
@pytest.mark.parametrize("from_file", [False, True], ids=["stdin", "file"])
def test_a_byte_order_mark_is_skipped(
    command: Callable[..., Outcome],
    tmp_path: Path,
    data: bytes,
    layout: str,
    from_file: bool,
) -> None:
    if layout == "ndjson" and b"\n  " in data:
        return  # a pretty-printed document is no NDJSON
    path = tmp_path / "marked.json"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    files = [str(path)] if from_file else []
    result = command("apply", "a", *files, "--format", layout, stdin=path.read_bytes())
    assert result == (0, b'{"a":1}\n', "")


@pytest.mark.parametrize("layout", ["auto", "json", "ndjson"])
def test_gzip_input_gets_a_hint(command: Callable[..., Outcome], layout: str) -> None:
    result = command("apply", "a", "--format", layout, stdin=gzip.compress(b'{"a": 1}\n'))
    assert result.status == 1
    assert result.out == b""
    assert result.err.startswith("projection: input looks gzip-compressed; decompress it first")


DOCUMENT = {"a": 1, "h": 2, "i": 3, "id": 4, "w": 5, "warehouse": 6}


@pytest.mark.parametrize(
    ("arguments", "expression"),
    [
        (["-warehouse", "FILE"], "-warehouse"),
        (["-id", "FILE"], "-id"),
        (["-i", "FILE"], "-i"),
        (["-w"], "-w"),  # from stdin
        (["-i", "--", "FILE"], "-i"),
        (["--", "-a", "FILE"], "-a"),
        (["--", "-h", "FILE"], "-h"),
        (["--workers", "2", "-a", "FILE"], "-a"),
        (["--work", "2", "-a", "FILE"], "-a"),  # long options may be cut short
        (["--on-error=skip", "--format", "json", "-i", "FILE"], "-i"),
        (["-a", "FILE", "--workers", "2"], "-a"),
        (["-a", "-w", "2", "FILE", "--on-error", "report"], "-a"),
        (["-a", "FILE", "-w2"], "-a"),
        (["-w", "FILE", "-w", "2"], "-w"),
        (["-A", "FILE", "-i"], "-a"),  # after EXPR, -i is the option
    ],
)
def test_an_expression_may_start_with_a_dash(
    command: Callable[..., Outcome], tmp_path: Path, arguments: list[str], expression: str
) -> None:
    path = tmp_path / "document.json"
    path.write_bytes(orjson.dumps(DOCUMENT))
    words = [str(path) if word == "FILE" else word for word in arguments]
    result = command("apply", *words, stdin=path.read_bytes())
    assert (result.status, result.err) == (0, "")
    assert orjson.loads(result.out) == projection.parse(expression).apply(DOCUMENT)


@pytest.mark.parametrize(
    ("arguments", "report"),
    [
        (["-x"], {"canonical": "-x", "case_insensitive": False}),
        (["-i"], {"canonical": "-i", "case_insensitive": False}),
        (["--case-insensitive", "-i"], {"canonical": "-i", "case_insensitive": True}),
        (["-X", "-i"], {"canonical": "-x", "case_insensitive": True}),
    ],
)
def test_check_takes_a_word_with_a_dash_as_the_expression(
    command: Callable[..., Outcome], arguments: list[str], report: dict[str, object]
) -> None:
    result = command("check", "--json", *arguments)
    assert (result.status, result.err) == (0, "")
    assert orjson.loads(result.out).items() >= report.items()


@pytest.mark.parametrize(
    ("arguments", "misread"),
    [
        # EXPR -w, FILE 2, then a -w without its number.
        (["apply", "-w", "2", "-w"], "-w"),
        # EXPR -i, FILE a, and one word too many.
        (["apply", "-i", "a", "FILE"], "-i"),
        (["check", "-i", "a"], "-i"),
        # EXPR -i, FILE missing: the file cannot be read.
        (["apply", "-i", "missing.json"], "-i"),
    ],
)
def test_a_short_option_where_expr_stands_is_the_expression_and_misuse_says_so(
    command: Callable[..., Outcome], tmp_path: Path, arguments: list[str], misread: str
) -> None:
    path = tmp_path / "document.json"
    path.write_bytes(b"{}")
    result = command(*[str(path) if word == "FILE" else word for word in arguments])
    assert result.status == 2
    assert result.out == b""
    assert result.err.splitlines()[-1] == (
        f"projection: note: {misread} stands where EXPR does, so it is the expression; "
        "write the option after EXPR, or spelt with '--' before it"
    )


@pytest.mark.parametrize("arguments", [["apply", "-h"], ["check", "--help"], ["apply", "-a", "-h"]])
def test_help_states_where_expr_stands(
    command: Callable[..., Outcome], arguments: list[str]
) -> None:
    result = command(*arguments)
    assert result.status == 0
    assert "EXPR may start with '-'" in result.out.decode()


def test_sample_options_are_not_taken_for_an_expression(command: Callable[..., Outcome]) -> None:
    result = command("sample", "-n", "2", "--seed", "1")
    assert result.status == 0
    assert len(result.out.splitlines()) == 2


@pytest.mark.parametrize(
    "arguments",
    [
        [b"check", b"\xff"],
        [b"check", b"--json", b"ab\xff"],
        [b"apply", b"\xff", b"-"],
    ],
)
def test_an_expression_that_is_not_utf8_is_rejected_where_it_is_not(
    arguments: list[bytes],
) -> None:
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"projection", *arguments],
        input=b"{}",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == b""
    column = arguments[-1].index(b"\xff") + 1 if arguments[0] == b"check" else 1
    assert result.stderr.decode().splitlines()[0] == (
        f"projection: the expression is not valid UTF-8 at column {column}"
    )


# -- check against an OpenAPI document ----------------------------------------------------------

OPENAPI = str(Path(__file__).resolve().parent / "fixtures" / "kibo_openapi.json")


@pytest.mark.parametrize(
    "selector",
    [
        ["--route", "GET /api/commerce/orders/1"],
        ["--route", "get /commerce/orders/{orderId}"],
        ["--schema", "Order"],
    ],
)
def test_check_resolves_names_against_a_route_or_schema_of_a_document(
    selector: list[str],
) -> None:
    result = run(
        "check", "TOTAL,Items(product(NAME)),id", "--openapi", OPENAPI, *selector, "--strict"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines()[0] == "id,total,items(product(name))"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["id,itemz", "--route", "GET /commerce/orders/7"],
            "unknown field 'itemz' at column 4: did you mean 'items'?\n  id,itemz\n     ^",
        ),
        (
            ["items,totalcont", "--route", "GET /commerce/orders"],
            "unknown field 'totalcont' at column 7: did you mean 'totalCount'?\n"
            "  items,totalcont\n        ^",
        ),
        (
            ["id", "--route", "GET /commerce/order"],
            "no route 'GET /commerce/order' in the document: did you mean "
            "'GET /commerce/orders', 'GET /commerce/orders/{orderId}' or "
            "'GET /commerce/orders/{orderId}/data'?",
        ),
        (
            ["id", "--route", "DELETE /commerce/carts/1"],
            "DELETE /commerce/carts/{cartId} has no JSON response body",
        ),
        (
            ["id", "--route", "GET /commerce/orders/1/status"],
            "GET /commerce/orders/{orderId}/status answers str, with no fields to check names "
            "against",
        ),
        (
            ["id", "--schema", "Ordr"],
            "no schema 'Ordr' in the document: did you mean 'Order', 'OrderItem' or 'OrderStatus'?",
        ),
    ],
)
def test_check_against_a_document_reports_what_it_lacks_with_status_1(
    arguments: list[str], message: str
) -> None:
    result = run("check", *arguments, "--openapi", OPENAPI, "--strict")
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == f"projection: {message}\n"


def test_check_says_when_a_file_is_no_openapi_document(tmp_path: Path) -> None:
    path = tmp_path / "swagger.json"
    path.write_bytes(b'{"swagger": "2.0"}')
    result = run("check", "id", "--openapi", str(path), "--schema", "Order")
    assert result.returncode == 1
    assert result.stderr.decode() == (
        "projection: not an OpenAPI 3.x document: it is Swagger '2.0'; convert it to OpenAPI 3 "
        "first\n"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--openapi", OPENAPI], "--openapi needs either --schema NAME or --route 'METHOD PATH'"),
        (
            ["--openapi", OPENAPI, "--schema", "Order", "--route", "GET /commerce/orders"],
            "--openapi needs either --schema NAME or --route 'METHOD PATH'",
        ),
        (["--route", "GET /commerce/orders"], "--route needs --openapi FILE"),
        (["--schema", "Order"], "--schema 'Order': without --openapi, one of: authticket"),
        (
            ["--openapi", OPENAPI, "--route", "/commerce/orders"],
            "--route takes a method and a path, as in 'GET /commerce/orders', not "
            "'/commerce/orders'",
        ),
    ],
)
def test_check_misusing_the_document_options_exits_with_status_2(
    arguments: list[str], message: str
) -> None:
    result = run("check", "id", *arguments)
    assert result.returncode == 2
    assert result.stderr.decode() == f"projection: {message}\n"


def run_for_a_reader_gone(path: Path, *options: str, together: bool = False) -> Outcome:
    """``projection apply a FILE`` with stdout a pipe its reader closed before anything was
    written, as ``| head -c 0`` does; stderr read, or the same pipe (``together``)."""
    # Stdout buffered, as users have it.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    command = [sys.executable, "-m", "projection", "apply", "a", str(path), *options]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if together else subprocess.PIPE,
        env=environment,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, errors = process.communicate(timeout=60)
    return Outcome(process.returncode, b"", (errors or b"").decode())


@pytest.mark.parametrize("mode", ["skip", "report"])
@pytest.mark.parametrize(
    "lines",
    [
        # A block of invalid lines, then output: the write that finds the reader gone comes
        # after they were rejected.
        [b'{"a": "%b"\n' % (b"x" * 200)] * (BLOCK_BYTES // 200) + [b'{"a": 1}\n'] * 100_000,
        # Output small enough to wait in stdout's buffer until the end.
        [b'{"a":\n', b'{"a": 1}\n'],
    ],
    ids=["written", "flushed"],
)
def test_a_reader_gone_stops_the_run_quietly_with_the_status_of_the_lines_rejected(
    tmp_path: Path, mode: str, lines: list[bytes]
) -> None:
    path = tmp_path / "input.ndjson"
    path.write_bytes(b"".join(lines))
    result = run_for_a_reader_gone(path, "--format", "ndjson", "--on-error", mode)
    assert result.status == 1
    said = result.err.splitlines()
    assert all(line.startswith("projection: ") for line in said)  # nothing of the pipe
    assert said[-1].startswith("projection: rejected ")


def test_a_reader_of_both_outputs_gone_leaves_the_status_of_the_lines_rejected(
    tmp_path: Path,
) -> None:
    path = tmp_path / "input.ndjson"
    path.write_bytes(b'{"a":\n{"a": 1}\n')
    assert run_for_a_reader_gone(path, "--on-error", "report", together=True).status == 1


@pytest.mark.parametrize(
    ("words", "closed"),
    [
        (["apply", "a", "FILE"], "stdout"),
        (["apply", "a"], "stdin"),
        (["sample"], "stdout"),
        (["check", "a"], "stdout"),
        (["check", "a", "--json"], "stdout"),
    ],
)
def test_a_closed_standard_stream_the_command_needs_is_misuse(
    tmp_path: Path, words: list[str], closed: str
) -> None:
    path = tmp_path / "input.ndjson"
    path.write_bytes(b'{"a": 1}\n')
    descriptor = {"stdin": 0, "stdout": 1}[closed]
    operands = [str(path) if word == "FILE" else word for word in words]
    result = subprocess.run(
        [sys.executable, "-m", "projection", *operands],
        # Started without it, as ``>&-`` or ``<&-`` start it.
        preexec_fn=functools.partial(os.close, descriptor),
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().startswith(f"projection: {closed} is closed")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("buffered", [True, False])
@pytest.mark.parametrize(
    "words",
    [["apply", "a", "FILE"], ["apply", "a", "FILE", "--on-error", "skip"], ["sample"]],
)
def test_an_output_that_cannot_be_written_is_said_once_with_status_2(
    tmp_path: Path, words: list[str], buffered: bool
) -> None:
    path = tmp_path / "input.ndjson"
    path.write_bytes(b'{"a": 1}\n')
    operands = [str(path) if word == "FILE" else word for word in words]
    environment = dict(os.environ)
    if buffered:  # as users have it: the output waits in a buffer until the end
        environment.pop("PYTHONUNBUFFERED", None)
    else:
        environment["PYTHONUNBUFFERED"] = "1"
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "projection", *operands],
            stdout=full,
            stderr=subprocess.PIPE,
            env=environment,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.decode() == f"projection: {os.strerror(errno.ENOSPC)}\n"


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ndjson"
    result = run("apply", "a", str(missing))
    assert result.returncode == 2
    assert result.stderr.decode() == f"projection: {os.strerror(errno.ENOENT)}: {missing}\n"


@pytest.mark.skipif(
    multiprocessing.get_start_method() != "fork", reason="the patch reaches workers by fork"
)
def test_a_worker_that_dies_is_said_with_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: Callable[..., Outcome]
) -> None:
    monkeypatch.setattr(_bulk, "BLOCK_BYTES", 8 << 10)
    path = tmp_path / "tickets.ndjson"
    path.write_bytes(b"".join(iter_sample_lines(400, seed=1)))
    parent = os.getpid()
    project_block = _bulk.project_block

    def dying_in_a_worker(*arguments: Any) -> _bulk.Block:
        if os.getpid() != parent:
            os._exit(3)  # as a worker killed, or out of memory, stops
        return project_block(*arguments)

    monkeypatch.setattr(_bulk, "project_block", dying_in_a_worker)
    result = command("apply", "a", str(path), "--workers", "2")
    assert result.status == 2
    assert re.fullmatch(r"projection: worker process \d+ stopped unexpectedly .*\n", result.err)
