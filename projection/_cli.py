"""The ``projection`` command: check expressions, project JSON and NDJSON, sample tickets, mock.

Every subcommand only calls the public core. Exit status: 0 on success, 1 when an expression or
a payload is rejected (the error, with its caret, goes to stderr), 2 on misuse of the command, or
where it cannot do its work: a FILE it cannot read, an output it cannot write, a worker process
that dies.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn, TextIO

import orjson

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

from ._bulk import BLOCK_BYTES, own_the_collector
from ._errors import ExpressionError, PayloadError, ProjectionError
from ._mask import DROP, WHOLE, Mask, Node
from ._projection import Projection, compiled, mask_of, parse
from ._stream import project_stream
from ._workers import WorkerError

__all__ = ["main", "run"]

# What ``--schema`` can name without ``--openapi``: the Kibo models names resolve against.
# The command starts in about a tenth of a second; the Kibo models and the sample generator load
# only for the subcommands and options that use them.
_SCHEMAS = {"authticket": "CustomerAuthTicket"}


def run() -> NoReturn:
    """Run the command as a process of its own, then exit with its status.

    The entry point of the console script and of ``python -m projection``; callers that go on
    running afterwards call ``main``.
    """
    own_the_collector()  # this process is the library's own
    status = main()
    if "distributed" in sys.modules:
        # A run on Dask imported some 700 modules, which tearing the interpreter down frees one
        # by one: 0.15 s of a run, measured. Everything the run opened is closed by now (the
        # cluster and its client, the parts): the process ends here, its output flushed.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
                stream.flush()
        os._exit(status)
    # What is still alive ends with the process: out of the collector's sight, the collection
    # at exit does not walk it (a tenth of a short run, measured).
    gc.freeze()
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser, commands = _parser()
    words = sys.argv[1:] if argv is None else list(argv)
    command = commands.get(words[0]) if words else None
    hint = None
    if command is not None and command.takes_operands:
        words, hint = _operands_placed(command, words)
    arguments = _arguments(parser, command, words, hint)
    return _run_command(arguments, hint)


def _operands_placed(command: _Parser, words: list[str]) -> tuple[list[str], str | None]:
    """``words`` with the operands after ``--``, where argparse takes them as they are, and a
    hint for errors when EXPR looks like one of ``command``'s options."""
    options, operands = _options_and_operands(command, words[1:])
    # Behind "--", argparse takes an EXPR such as -i as itself, not as the option.
    placed = [words[0], *options, *(["--", *operands] if operands else [])]
    if operands and operands[0] in command.takes_value:
        return placed, (
            f"{operands[0]} stands where EXPR does, so it is the expression; "
            "write the option after EXPR, or spelt with '--' before it"
        )
    return placed, None


def _arguments(
    parser: _Parser, command: _Parser | None, words: list[str], hint: str | None
) -> argparse.Namespace:
    """The parsed ``words``; on misuse (or ``--help``), exits as argparse does, after ``hint``."""
    try:
        arguments = parser.parse_args(words)
        misuse = getattr(arguments, "misuse", None)
        found = misuse(arguments) if misuse is not None else None
        if found is not None and command is not None:
            command.error(found)
    except SystemExit as stop:
        if stop.code and hint:
            _say(f"note: {hint}")
        raise
    return arguments


def _run_command(arguments: argparse.Namespace, hint: str | None) -> int:
    """Run the subcommand ``arguments`` name; returns the exit status, once what it wrote is
    out (``_flushed``)."""
    try:
        status: int = arguments.run(arguments)
    except ProjectionError as error:
        _say(str(error))
        status = 1
    except WorkerError as error:
        _say(str(error))
        status = 2
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do. Whichever stream
        # it read, nothing more is to be said.
        for stream in (sys.stdout, sys.stderr):
            _dropped(stream)
        return 0
    except KeyboardInterrupt:
        # Ctrl-C: stop without a traceback, with the status shells give it (128 + SIGINT).
        return 130
    except OSError as error:
        return _failed(error, hint)
    return _flushed(status)


def _flushed(status: int) -> int:
    """``status``, once what the command wrote to stdout is out: flushed here, where a failure
    is told, rather than at exit, where Python makes it status 120. A reader gone away leaves
    the status as it is."""
    try:
        if sys.stdout is not None:  # None: started without one (``>&-``)
            sys.stdout.flush()
    except BrokenPipeError:
        _dropped(sys.stdout)
    except OSError as error:
        return _failed(error, None)  # a hint on EXPR would be off the point here
    return status


def _failed(error: OSError, hint: str | None) -> int:
    """Say ``error``, a FILE that cannot be read or an output that cannot be written; status 2.

    What stdout still holds is dropped: the output is cut short either way, and where it is
    stdout that failed, flushed at exit it would fail again.
    """
    _say(_described(error))
    if hint:
        _say(f"note: {hint}")
    _dropped(sys.stdout)
    return 2


def _described(error: OSError) -> str:
    """``error`` as the command says it: what went wrong, then the file, where it names one."""
    what = error.strerror or str(error) or type(error).__name__
    return what if error.filename is None else f"{what}: {error.filename}"


def _dropped(stream: TextIO | None) -> None:
    """Send what ``stream`` still holds, and anything written to it later, to nowhere: its
    reader went away, or it cannot be written. Flushed at exit, it would fail again, and make
    the status 120."""
    if stream is None:  # started without it (``>&-``)
        return
    with contextlib.suppress(OSError, ValueError):  # not a real file (captured), or closed
        nowhere = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(nowhere, stream.fileno())
        finally:
            os.close(nowhere)


class _Parser(argparse.ArgumentParser):
    """An argument parser that knows whether it takes operands, and which options take a value.

    ``_options_and_operands`` needs to know, to tell an option's value from an operand; the
    subcommands' parsers are of this class too, as argparse makes them of their parent's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before argparse's own set-up, which adds -h/--help through ``add_argument``.
        self.takes_value: dict[str, bool | Callable[[str], bool]] = {}
        self.takes_operands = False
        super().__init__(*args, **kwargs)

    def add_argument(
        self, *args: Any, value_if: Callable[[str], bool] | None = None, **kwargs: Any
    ) -> argparse.Action:
        """As argparse's; an option whose value may be left out (``nargs="?"``) says with
        ``value_if`` which next words are its value: the others are operands."""
        action = super().add_argument(*args, **kwargs)
        for spelling in action.option_strings:
            self.takes_value[spelling] = value_if or action.nargs != 0
        if not action.option_strings:
            self.takes_operands = True
        return action

    def value_follows(self, option: str, following: str) -> bool:
        """Whether ``option`` takes the word ``following`` it as its value.

        Not when the value is attached (``--workers=2``, ``-w2``). A long option may be cut
        short, as argparse allows (``--work 2``); one that is unknown or ambiguous takes none,
        and argparse rejects it.
        """
        takes = self.takes_value.get(option)
        if takes is None:
            if not option.startswith("--") or "=" in option:
                return False
            spelt = [value for name, value in self.takes_value.items() if name.startswith(option)]
            if len(spelt) != 1:
                return False
            takes = spelt[0]
        return takes(following) if callable(takes) else takes


# The rule ``_options_and_operands`` follows, as ``--help`` of check and apply states it.
_OPERAND_RULE: Final = (
    "EXPR may start with '-' (an exclusion): the first word that is neither an option spelt "
    "with '--' (--workers 4, --on-error=skip) nor its value is EXPR, even -i or -w, which "
    "there exclude the fields i and w. After EXPR, short options work too (-w 4, -i). '--' "
    "ends the options (%(prog)s -- -h); -h is always help."
)


def _options_and_operands(command: _Parser, words: list[str]) -> tuple[list[str], list[str]]:
    """The words after the command, split: options with their values, then the operands.

    Before EXPR, the first operand, only a word starting with ``--`` is an option, since any
    ``-word`` is also an expression (an exclusion): the place of a word decides what it is
    (``_OPERAND_RULE``). After it, any ``-word`` is an option. Everything after ``--`` is an
    operand.
    """
    options: list[str] = []
    operands: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            operands.extend(words[index:])
            break
        # Before EXPR, a -word is the expression; "-" alone is an operand, as argparse has it.
        option = word.startswith("-") and word != "-" if operands else word.startswith("--")
        if option or word == "-h":
            options.append(word)
            if index < len(words) and command.value_follows(word, words[index]):
                options.append(words[index])
                index += 1
        else:
            operands.append(word)
    return options, operands


# What ``--dask`` takes as the scheduler's address: a URL of one of distributed's transports, or
# host:port. Any other word after it is an operand, such as a file, or s3://bucket/key.
_ADDRESS: Final = re.compile(r"(?:tcp|tls|ucx|inproc|ws|wss)://\S+|[\w.-]+:\d+|\[[\w:.%]+\]:\d+")


def _is_address(word: str) -> bool:
    return _ADDRESS.fullmatch(word) is not None


def _at_least(least: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``least`` (misuse, exit status 2)."""

    def number(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {least} or more, not {value}")
        return value

    number.__name__ = "integer"  # how argparse names the type in its error for "x"
    return number


# How a subcommand's parser is made: ``add_parser`` of the command's subparsers.
_AddCommand = Callable[..., _Parser]


def _parser() -> tuple[_Parser, dict[str, _Parser]]:
    """The command's parser, and each subcommand's by name."""
    parser = _Parser(
        prog="projection",
        description="Parse Kibo responseFields expressions and project JSON payloads with them.",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    add_command = parser.add_subparsers(required=True, metavar="COMMAND").add_parser
    # In the order ``--help`` lists them.
    commands = {
        "check": _check_parser(add_command),
        "apply": _apply_parser(add_command),
        "sample": _sample_parser(add_command),
        "mock": _mock_parser(add_command),
    }
    return parser, commands


def _check_parser(add_command: _AddCommand) -> _Parser:
    check = add_command(
        "check", help="validate an expression, print its canonical form", epilog=_OPERAND_RULE
    )
    check.add_argument("expression", metavar="EXPR")
    check.add_argument("--json", action="store_true", help="print one JSON object for machines")
    _add_parse_options(check, openapi=True)
    check.set_defaults(run=_check)
    return check


def _apply_parser(add_command: _AddCommand) -> _Parser:
    apply = add_command(
        "apply",
        help="project a JSON document, a JSON array or NDJSON to stdout",
        epilog=_OPERAND_RULE,
    )
    apply.add_argument("expression", metavar="EXPR")
    apply.add_argument(
        "files",
        metavar="FILE",
        nargs="*",
        help="input file (default: stdin); with --dask, one or more paths, globs or URLs "
        "(s3://...) of NDJSON files, compressed or not, taken in sorted order",
    )
    apply.add_argument(
        "-w",
        "--workers",
        type=_at_least(1),
        help=f"NDJSON: project in this many processes, output in input order (default: 1; "
        f"this machine: {os.cpu_count()} cores); with --dask alone, the local cluster's workers "
        "(default: one per core)",
    )
    apply.add_argument(
        "--dask",
        nargs="?",
        const="",
        metavar="ADDRESS",
        value_if=_is_address,
        help="NDJSON files on a Dask cluster: the scheduler at ADDRESS (tcp://host:port), or "
        "without one a local cluster; needs --output (pip install 'kibo-projection[dask]')",
    )
    apply.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="with --dask: the directory (or URL) that receives part-00000.ndjson, ...; "
        "concatenated in name order, they are what apply writes for the files in turn",
    )
    apply.add_argument(
        "--on-error",
        choices=("fail", "skip", "report"),
        default="fail",
        help="NDJSON: an invalid line stops the run (fail), or is left out and counted (skip), "
        "or left out, counted and each one shown (report)",
    )
    apply.add_argument(
        "--format",
        choices=("auto", "json", "ndjson"),
        default="auto",
        help="one JSON document (read whole) or NDJSON (streamed); auto: NDJSON when the first "
        "line is a whole JSON value or looks like one ({...}, [...]); else one document when the "
        f"first {BLOCK_BYTES >> 20} MiB read as one, whole or cut short, or hold no NDJSON line "
        "(a whole value from the line's first byte)",
    )
    _add_parse_options(apply)
    apply.set_defaults(run=_apply, misuse=_apply_misuse)
    return apply


def _sample_parser(add_command: _AddCommand) -> _Parser:
    sample = add_command("sample", help="write realistic Kibo CustomerAuthTicket documents")
    sample.add_argument("-n", type=_at_least(0), default=10, help="how many tickets (default: 10)")
    sample.add_argument("--seed", type=int, default=0, help="the same seed gives the same tickets")
    sample.add_argument(
        "--format", choices=("ndjson", "json"), default="ndjson", help="one per line, or an array"
    )
    sample.set_defaults(run=_sample)
    return sample


def _mock_parser(add_command: _AddCommand) -> _Parser:
    mock = add_command(
        "mock",
        help="serve a mock of Kibo's API (uvicorn): anonymous-shopper auth tickets, application "
        "tokens, the tenant lookup, and every GET operation of an OpenAPI document",
    )
    mock.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    mock.add_argument("--port", type=int, default=8080, help="port to bind (default: 8080)")
    mock.add_argument(
        "--fd",
        type=int,
        help="serve on this listening socket, already bound (instead of --host and --port)",
    )
    mock.add_argument(
        "--token",
        help="accept only this bearer token, and those the mock issues (default: any)",
    )
    mock.add_argument(
        "--seed", type=int, default=0, help="the same seed gives the same tickets and documents"
    )
    mock.add_argument(
        "--openapi",
        metavar="FILE",
        help="also serve every GET operation of this OpenAPI 3 document (such as one of Kibo's) "
        "with generated documents",
    )
    mock.add_argument(
        "--client-id",
        metavar="ID",
        help="issue application tokens only to this client id (default: any)",
    )
    mock.add_argument(
        "--shared-secret",
        metavar="SECRET",
        help="issue application tokens only for this shared secret (default: any)",
    )
    mock.add_argument(
        "--ssl-certfile",
        metavar="PEM",
        help="serve HTTPS with this certificate (and --ssl-keyfile), as SDKs that build "
        "https:// URLs need",
    )
    mock.add_argument("--ssl-keyfile", metavar="PEM", help="the private key of --ssl-certfile")
    mock.add_argument(
        "--no-access-log", action="store_true", help="do not log each request on stdout"
    )
    mock.set_defaults(run=_mock)
    return mock


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> NoReturn:
        from . import __version__

        print(f"projection {__version__}")
        parser.exit()


def _add_parse_options(command: _Parser, *, openapi: bool = False) -> None:
    """The options that shape parsing; ``openapi``: also those naming a schema of a document."""
    command.add_argument(
        "-i", "--case-insensitive", action="store_true", help="match names ignoring case"
    )
    if not openapi:
        command.add_argument(
            "--schema",
            choices=sorted(_SCHEMAS),
            help="resolve names against a Kibo model, ignoring case "
            "(authticket: CustomerAuthTicket)",
        )
    else:
        # Free text: with --openapi, any component of the document (checked once it is read).
        command.add_argument(
            "--schema",
            metavar="NAME",
            help="resolve names against a schema, ignoring case: a component of the --openapi "
            "document, or without it a Kibo model (authticket: CustomerAuthTicket)",
        )
        command.add_argument(
            "--openapi",
            metavar="FILE",
            help="an OpenAPI 3 document (JSON, or YAML with PyYAML), such as one of Kibo's; "
            "with --schema NAME or --route",
        )
        command.add_argument(
            "--route",
            metavar="ROUTE",
            help="with --openapi: resolve names against the response schema of the operation "
            "serving a request, 'METHOD PATH' ('GET /commerce/orders/{orderId}' or "
            "'GET /api/commerce/orders/1')",
        )
    command.add_argument(
        "--strict",
        action="store_true",
        help="with a schema: reject names it does not have, suggesting the closest",
    )


def _misuse(message: str) -> NoReturn:
    _say(message)
    raise SystemExit(2)


def _standard(stream: TextIO | None, name: str, instead: str) -> TextIO:
    """``stream``, the standard stream ``name`` the command needs; misuse if the command was
    started without it (``>&-``), which Python gives as None. ``instead`` says what to do."""
    if stream is None:
        _misuse(f"{name} is closed, and the command needs it: {instead}")
    return stream


def _stdout() -> TextIO:
    """stdout, where check, sample and apply write; misuse if the command has none."""
    return _standard(sys.stdout, "stdout", "send the output to a file, or to /dev/null")


def _schema(arguments: argparse.Namespace) -> Any:
    """The Struct type the options name (``None`` for none); misuse exits with status 2."""
    document: str | None = getattr(arguments, "openapi", None)
    route: str | None = getattr(arguments, "route", None)
    if document is None:
        if route is not None:
            _misuse("--route needs --openapi FILE")
        if arguments.schema is None:
            if arguments.strict:
                _misuse("--strict needs --schema")
            return None
        if arguments.schema not in _SCHEMAS:
            choices = ", ".join(sorted(_SCHEMAS))
            _misuse(f"--schema {arguments.schema!r}: without --openapi, one of: {choices}")
        from . import kibo

        return getattr(kibo, _SCHEMAS[arguments.schema])
    if (arguments.schema is None) == (route is None):
        _misuse("--openapi needs either --schema NAME or --route 'METHOD PATH'")
    from .openapi import OpenAPI, OpenAPILookupError

    spec = OpenAPI.load(document)
    if arguments.schema is not None:
        return spec.schema(arguments.schema)
    assert route is not None
    method, _, path = route.strip().partition(" ")
    if not path.strip():
        _misuse(f"--route takes a method and a path, as in 'GET /commerce/orders', not {route!r}")
    method, path = method.upper(), path.strip()
    # The route's response first: an unknown route is an error naming the closest.
    response = spec.response_schema(method, path)
    operation = spec.match(method, path)
    assert operation is not None
    if operation.schema is not None:
        return spec.schema(operation.schema)
    if arguments.strict:
        raise OpenAPILookupError(
            f"{operation.method} {operation.path} answers {_type_name(response)}, with no "
            "fields to check names against",
            route,
        )
    return None


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _parse(arguments: argparse.Namespace) -> Projection:
    schema = _schema(arguments)
    return parse(
        _utf8(arguments.expression),
        case_insensitive=arguments.case_insensitive,
        schema=schema,
        strict=arguments.strict,
    )


def _utf8(expression: str) -> str:
    """``expression`` if the command line gave it in UTF-8, or an error that says where not.

    Python hands bytes that are not UTF-8 over as lone surrogates (PEP 383), which no output
    can encode.
    """
    try:
        expression.encode()
    except UnicodeEncodeError as error:
        # Shown with each surrogate as U+FFFD, one character, so the caret stays under it.
        shown = "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in expression)
        raise ExpressionError(
            f"the expression is not valid UTF-8 at column {error.start + 1}", shown, error.start
        ) from None
    return expression


# -- check ------------------------------------------------------------------------------------


def _check(arguments: argparse.Namespace) -> int:
    projection = _parse(arguments)
    output = _stdout()
    try:
        paths: list[str] | None = projection.paths()
    except ValueError:
        paths = None
    if arguments.json:
        report = {
            "canonical": str(projection),
            "case_insensitive": projection.case_insensitive,
            "paths": paths,
            "tree": _mask_json(mask_of(projection)),
        }
        output.buffer.write(orjson.dumps(report, option=orjson.OPT_APPEND_NEWLINE))
        return 0
    print(str(projection) or "(empty: the whole document)", file=output)
    print("\n".join(_draw(mask_of(projection))), file=output)
    if paths is not None:
        print("paths: " + ", ".join(paths), file=output)
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
    from . import kibo

    output = _stdout().buffer
    lines = kibo.iter_sample_lines(arguments.n, seed=arguments.seed)
    if arguments.format == "ndjson":
        output.writelines(lines)
        return 0
    # The same tickets as NDJSON, one array of them, written as they come: constant memory.
    output.write(b"[")
    for number, line in enumerate(lines):
        output.write(line[:-1] if number == 0 else b"," + line[:-1])
    output.write(b"]\n")
    return 0


# -- mock -------------------------------------------------------------------------------------


def _mock(arguments: argparse.Namespace) -> int:
    # Imported here: uvicorn is an optional dependency, and the other commands do without it.
    try:
        import uvicorn
    except ImportError:
        print(
            "projection mock: needs uvicorn: pip install 'kibo-projection[server]'", file=sys.stderr
        )
        return 2
    from .mock import create_app

    if arguments.ssl_keyfile is not None and arguments.ssl_certfile is None:
        _misuse("--ssl-keyfile needs --ssl-certfile")
    spec = None
    if arguments.openapi is not None:
        from .openapi import OpenAPI

        spec = OpenAPI.load(arguments.openapi)
    app = create_app(
        token=arguments.token,
        seed=arguments.seed,
        openapi=spec,
        client_id=arguments.client_id,
        shared_secret=arguments.shared_secret,
    )
    if arguments.fd is not None:
        _without_delay(arguments.fd)
    uvicorn.run(
        app,
        host=arguments.host,
        port=arguments.port,
        fd=arguments.fd,
        ssl_certfile=arguments.ssl_certfile,
        ssl_keyfile=arguments.ssl_keyfile,
        access_log=not arguments.no_access_log,
    )
    return 0


def _without_delay(descriptor: int) -> None:
    """Turn Nagle's algorithm off on a TCP listening socket, for the connections it accepts.

    uvicorn takes a socket given by descriptor for a Unix one and leaves the algorithm on for its
    connections, whose small responses then wait for delayed acknowledgements: 5 ms a request,
    measured. Linux copies the option from the listening socket to each connection it accepts.
    """
    import socket  # here: the other commands do without it, and start sooner

    with socket.socket(fileno=os.dup(descriptor)) as listener:
        if listener.family in (socket.AF_INET, socket.AF_INET6):
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


# -- apply ------------------------------------------------------------------------------------


def _apply_misuse(arguments: argparse.Namespace) -> str | None:
    """What is wrong with how ``apply`` was called, if anything."""
    if arguments.dask is None and arguments.output is None:
        return "several FILEs need --dask and --output" if len(arguments.files) > 1 else None
    if arguments.dask is None or arguments.output is None:
        return "--dask and --output go together: the cluster's workers write the parts"
    if not arguments.files:
        return "--dask reads FILEs, not stdin: name one or more (paths, globs, URLs)"
    if arguments.format == "json":
        return "--dask projects NDJSON files: --format json is for one document"
    if arguments.dask and arguments.workers is not None:
        return "--workers sizes a local cluster: the cluster at ADDRESS has its own workers"
    return None


def _apply(arguments: argparse.Namespace) -> int:
    projection = _parse(arguments)
    if arguments.dask is not None:
        return _apply_on_dask(arguments, projection)
    arguments.file = arguments.files[0] if arguments.files else None
    output = _stdout()
    if (
        arguments.file is None
        and _standard(sys.stdin, "stdin", "name a FILE, or pipe the input in").isatty()
    ):
        print(
            "projection apply: reading JSON from the terminal; pipe a file in or name one:\n"
            "  projection apply EXPR FILE\n  cat tickets.ndjson | projection apply EXPR",
            file=sys.stderr,
        )
        return 2
    rejected = _Rejected(report=arguments.on_error == "report")
    for stream in (sys.stdin, output):
        _widen_pipe(stream)
    with contextlib.ExitStack() as stack:
        if arguments.file is None:
            source, total = sys.stdin.buffer, None
        else:
            source = stack.enter_context(open(arguments.file, "rb"))
            total = os.fstat(source.fileno()).st_size
        progress = stack.enter_context(_Progress(total)) if sys.stderr.isatty() else None
        try:
            project_stream(
                compiled(projection),
                source,
                output.buffer,
                path=arguments.file,
                workers=arguments.workers or 1,
                on_error=None if arguments.on_error == "fail" else rejected,
                progress=progress,
                layout=arguments.format,
            )
        except BrokenPipeError:
            # The reader went away (``| head``): the run stops there, quietly, as Unix tools
            # do, but says which lines it rejected before, and ends with their status.
            _dropped(output)
    return rejected.summarize()


# Linux moves data through a pipe 64 KiB at a time by default, a wakeup of each end per 64 KiB;
# at 1 MiB (what an unprivileged process may ask by default), reading 1 GB from ``cat`` took a
# quarter of the time, measured.
_PIPE_BYTES: Final = 1 << 20


def _widen_pipe(stream: Any) -> None:
    """Ask for a larger buffer when ``stream`` is a pipe, where the system allows it."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    try:
        descriptor = stream.fileno()
        if stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            fcntl.fcntl(descriptor, set_size, _PIPE_BYTES)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured in tests), closed, or refused: the default will do


class _Rejected:
    """Counts the NDJSON lines ``--on-error skip|report`` let through, so none vanishes silently."""

    _SHOWN: Final = 20  # line numbers kept for the summary: memory stays flat

    def __init__(self, *, report: bool) -> None:
        self.report = report
        self.count = 0
        self.first_lines: list[str] = []

    def __call__(self, error: PayloadError) -> None:
        assert error.line is not None
        self.add(str(error.line), str(error))

    def add(self, line: str, message: str) -> None:
        """Count a rejected line: ``line`` as the summary shows it, ``message`` as report does."""
        self.count += 1
        if len(self.first_lines) < self._SHOWN:
            self.first_lines.append(line)
        if self.report:
            _say(message)

    def summarize(self) -> int:
        """Say how many lines were rejected; the exit status is 1 if any was."""
        count = self.count
        if not count:
            return 0
        shown = ", ".join(self.first_lines) + (", ..." if count > self._SHOWN else "")
        _say(f"rejected {count} invalid line{'s' if count > 1 else ''}: {shown}")
        return 1


def _say(message: str) -> None:
    """Print ``message`` on stderr, unless its reader went away (``2>&1 | head``): then it, and
    all that follows, goes nowhere, and the run goes on to its status."""
    try:
        print(f"projection: {message}", file=sys.stderr)
    except BrokenPipeError:
        _dropped(sys.stderr)


def _apply_on_dask(arguments: argparse.Namespace, projection: Projection) -> int:
    """``apply --dask [ADDRESS] --output DIR FILE...``: NDJSON files projected on a cluster."""
    import threading

    try:
        # Imported here: the extra is optional, and the command starts sooner without it.
        import dask
        from distributed import Client, LocalCluster

        from .dask import project_ndjson
    except ImportError:
        print(
            "projection apply: --dask needs dask and distributed: "
            "pip install 'kibo-projection[dask]'",
            file=sys.stderr,
        )
        return 1
    with contextlib.ExitStack() as stack:
        if arguments.dask:
            try:
                client = stack.enter_context(Client(arguments.dask))
            except OSError as error:
                print(
                    f"projection apply: no Dask scheduler answers at {arguments.dask}: "
                    f"{_described(error)}",
                    file=sys.stderr,
                )
                return 2
        else:
            if sys.platform == "linux" and threading.active_count() == 1:
                # Forked, the workers start at once; spawned, as Dask does by default, each
                # starts an interpreter and imports Dask again: 2 s of a 1 GB run, measured.
                # A fork copies the locks other threads hold, never to be released: so only
                # from a process with no thread but this one, as the command run on its own
                # is, not one that called ``main`` with threads of its own. Dask then forks
                # from a thread of its own, the others its own, and Python renews the locks of
                # logging and threading in the child. (macOS, Windows: no safe fork.)
                method = {"distributed.worker.multiprocessing-method": "fork"}
                stack.enter_context(dask.config.set(method))
            cluster = LocalCluster(
                n_workers=arguments.workers or _cores(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # Without a dashboard the scheduler still serves HTTP, on port 8787 unless
                # told otherwise, and says so on stderr when another cluster holds that port.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        report = project_ndjson(
            arguments.files,
            arguments.output,
            projection,
            client=client,
            on_error=arguments.on_error,
            progress=sys.stderr.isatty(),
        )
    rejected = _Rejected(report=arguments.on_error == "report")
    for line in report.rejected:
        rejected.add(f"{line.file}:{line.line}", str(line))
    return rejected.summarize()


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class _Progress:
    """A one-line progress bar on stderr, redrawn at most five times a second."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.started = time.monotonic()
        self.drawn = 0.0

    def __enter__(self) -> _Progress:
        return self

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.2:
            return
        self.drawn = now
        rate = done / max(now - self.started, 1e-9) / 2**20
        if self.total:
            share = min(done / self.total, 1.0)
            bar = "#" * int(share * 30)
            line = f"[{bar:<30}] {share:6.1%} {done / 2**20:,.0f} MiB {rate:,.0f} MiB/s"
        else:
            line = f"{done / 2**20:,.0f} MiB {rate:,.0f} MiB/s"
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()

    def __exit__(self, *exc_info: object) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
