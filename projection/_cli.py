"""The ``projection`` command: check expressions, project JSON and NDJSON, write sample tickets.

Every subcommand only calls the public core. Exit status: 0 on success, 1 when an expression or
a payload is rejected (the error, with its caret, goes to stderr), 2 on misuse of the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO, Any

import orjson

from ._errors import PayloadError, ProjectionError
from ._mask import DROP, WHOLE, Mask, Node
from ._tree import Projection, parse
from .kibo import iter_sample_lines, sample_bytes

__all__ = ["main"]

_DEFAULT_EXPRESSION = "customerAccount(contacts(address)),accessToken"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser, commands = _parser()
    words = sys.argv[1:] if argv is None else list(argv)
    arguments = parser.parse_args(_expressions_as_operands(commands, words))
    try:
        status: int = arguments.run(arguments)
    except ProjectionError as error:
        print(f"projection: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    return status


def _expressions_as_operands(
    commands: dict[str, argparse.ArgumentParser], argv: list[str]
) -> list[str]:
    """``argv`` with an expression such as ``-jwtAccessToken`` moved behind ``--``.

    argparse would read a leading ``-`` as an option. Any word after the command that is not one
    of that command's options is an operand, so ``projection apply -accessToken FILE`` works.
    """
    if not argv or argv[0] not in commands:
        return argv
    command = commands[argv[0]]
    flags = {flag for action in command._actions for flag in action.option_strings}
    takes_value = {
        flag for action in command._actions if action.nargs != 0 for flag in action.option_strings
    }
    options: list[str] = []
    operands: list[str] = []
    words = iter(argv[1:])
    for word in words:
        if word == "--":
            operands.extend(words)
        elif word in takes_value:
            options += [word, next(words, "")]
        elif word in flags or word.startswith("--"):
            options.append(word)
        else:
            operands.append(word)
    return [argv[0], *options, "--", *operands] if operands else [argv[0], *options]


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="projection",
        description="Parse Kibo responseFields expressions and project JSON payloads with them.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate an expression, print its canonical form")
    check.add_argument("expression", metavar="EXPR")
    check.add_argument("--json", action="store_true", help="print one JSON object for machines")
    _add_parse_options(check)
    check.set_defaults(run=_check)

    apply = commands.add_parser(
        "apply", help="project a JSON document, a JSON array or NDJSON to stdout"
    )
    apply.add_argument("expression", metavar="EXPR")
    apply.add_argument("file", metavar="FILE", nargs="?", help="input file (default: stdin)")
    _add_parse_options(apply)
    apply.set_defaults(run=_apply)

    sample = commands.add_parser("sample", help="write realistic Kibo CustomerAuthTicket documents")
    sample.add_argument("-n", type=int, default=10, help="how many tickets (default: 10)")
    sample.add_argument("--seed", type=int, default=0, help="the same seed gives the same tickets")
    sample.add_argument(
        "--format", choices=("ndjson", "json"), default="ndjson", help="one per line, or an array"
    )
    sample.set_defaults(run=_sample)
    return parser, {"check": check, "apply": apply, "sample": sample}


def _add_parse_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "-i", "--case-insensitive", action="store_true", help="match names ignoring case"
    )


def _parse(arguments: argparse.Namespace) -> Projection:
    return parse(arguments.expression, case_insensitive=arguments.case_insensitive)


# -- check ------------------------------------------------------------------------------------


def _check(arguments: argparse.Namespace) -> int:
    projection = _parse(arguments)
    try:
        paths: list[str] | None = projection.paths()
    except ValueError:
        paths = None
    if arguments.json:
        report = {
            "canonical": str(projection),
            "case_insensitive": projection.case_insensitive,
            "paths": paths,
            "tree": _mask_json(projection.mask),
        }
        sys.stdout.buffer.write(orjson.dumps(report, option=orjson.OPT_APPEND_NEWLINE))
        return 0
    print(str(projection) or "(empty: the whole document)")
    print("\n".join(_draw(projection.mask)))
    if paths is not None:
        print("paths: " + ", ".join(paths))
    return 0


def _mask_json(mask: Mask) -> Any:
    if not isinstance(mask, Node):
        return mask.value
    return {
        "default": _mask_json(mask.default),
        "entries": [{"key": key, "mask": _mask_json(entry)} for key, entry in mask.entries.items()],
    }


def _draw(mask: Mask) -> list[str]:
    """The mask as an indented tree, one key per line."""
    if mask is WHOLE:
        return ["* keep"]
    lines: list[str] = []
    _draw_node(mask, "", lines)
    return lines


def _draw_node(mask: Mask, indent: str, lines: list[str]) -> None:
    assert isinstance(mask, Node)
    rows: list[tuple[str, Mask]] = [(repr(key), entry) for key, entry in mask.entries.items()]
    if mask.default is not DROP or not rows:
        rows.append(("* (every other key)", mask.default))
    for number, (label, entry) in enumerate(rows):
        last = number == len(rows) - 1
        lines.append(f"{indent}{'└── ' if last else '├── '}{label}{_verdict(entry)}")
        if isinstance(entry, Node):
            _draw_node(entry, indent + ("    " if last else "│   "), lines)


def _verdict(mask: Mask) -> str:
    if mask is WHOLE:
        return "  keep"
    if mask is DROP:
        return "  drop"
    return ""


# -- sample ------------------------------------------------------------------------------------


def _sample(arguments: argparse.Namespace) -> int:
    if arguments.n < 0:
        raise SystemExit("projection sample: -n must be 0 or more")
    if arguments.format == "json":
        sys.stdout.buffer.write(sample_bytes(arguments.n, seed=arguments.seed) + b"\n")
    else:
        sys.stdout.buffer.writelines(iter_sample_lines(arguments.n, seed=arguments.seed))
    return 0


# -- apply ------------------------------------------------------------------------------------


def _apply(arguments: argparse.Namespace) -> int:
    projection = _parse(arguments)
    if arguments.file is None:
        if sys.stdin.isatty():
            print(
                "projection apply: reading JSON from the terminal; pipe a file in or name one:\n"
                "  projection apply EXPR FILE\n  cat tickets.ndjson | projection apply EXPR",
                file=sys.stderr,
            )
            return 2
        _project_stream(projection, sys.stdin.buffer, sys.stdout.buffer)
        return 0
    with open(arguments.file, "rb") as source:
        _project_stream(projection, source, sys.stdout.buffer)
    return 0


def _project_stream(projection: Projection, source: IO[bytes], sink: IO[bytes]) -> None:
    """One JSON document (any layout) or NDJSON, told apart by whether line 1 is whole JSON."""
    first = source.readline()
    try:
        head = orjson.loads(first) if first.strip() else None
    except orjson.JSONDecodeError:
        document = first + source.read()
        sink.write(_dump(projection.apply(_load(document))))
        return
    if head is not None:
        sink.write(_dump(projection.apply(head)))
    for number, line in enumerate(source, start=2):
        if line.strip():
            sink.write(_dump(projection.apply(_load(line, line=number))))


def _load(data: bytes, *, line: int | None = None) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        where = f"line {line}, " if line is not None else ""
        raise PayloadError(
            f"invalid JSON at {where}character {error.pos}: {error.msg}", pos=error.pos, line=line
        ) from None


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
