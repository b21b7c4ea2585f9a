"""Text to syntax: the responseFields grammar parsed by lark (LALR, transformer inline, made once).

The parser's tables ship with the grammar, as lark saves them: building them from the grammar
takes 14 ms of each process's first parse, loading them half a millisecond. They are loaded only
when saved from the same grammar, lark options and lark version; otherwise lark builds them. After
editing the grammar, save them again: ``python grammar/save_tables.py``.

``parse_syntax(text, limits)`` checks the length, then the syntax, then depth and item count left to
right, and returns the items in source order; it raises only ``ProjectionSyntaxError`` and
``ProjectionLimitError`` (lark's exceptions never leave this module); it never recurses on the text.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import lark
from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ._errors import ProjectionLimitError, ProjectionSyntaxError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "DEPTH_CEILING",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_LENGTH",
    "TABLES_FILE",
    "Item",
    "Limits",
    "Name",
    "Selection",
    "build_parser",
    "grammar_text",
    "parse_syntax",
    "repository_data_file",
    "save_tables",
    "tables_header",
]

_GRAMMAR_FILE: Final = "responsefields.lark"
TABLES_FILE: Final = "responsefields.lalr"


class Name(NamedTuple):
    """One path segment: a key, or the wildcard (``key is None``), and where it starts."""

    key: str | None
    pos: int


class Item(NamedTuple):
    """One comma-separated item: ``path(group)``, a bare ``path``, or ``-path`` when ``exclude``."""

    path: tuple[Name, ...]
    group: Selection | None
    exclude: bool


Selection = tuple[Item, ...]


# The defaults of DESIGN.md section 5, and the deepest nesting that may be asked for: masks nest
# one level per name, and this keeps every walk over them far from Python's recursion limit.
MAX_LENGTH: Final = 4096
MAX_DEPTH: Final = 32
MAX_ITEMS: Final = 1024
DEPTH_CEILING: Final = 128


class Limits(NamedTuple):
    """What the parser accepts; see DESIGN.md section 5."""

    max_length: int = MAX_LENGTH
    max_depth: int = MAX_DEPTH
    max_items: int = MAX_ITEMS

    def checked(self) -> Limits:
        """These limits, or ``ValueError`` if one is out of range."""
        if self.max_length < 0 or self.max_items < 0:
            raise ValueError(f"max_length and max_items must be 0 or more: {self}")
        if not 1 <= self.max_depth <= DEPTH_CEILING:
            raise ValueError(
                f"max_depth must be between 1 and {DEPTH_CEILING}, not {self.max_depth}"
            )
        return self


def grammar_text() -> str:
    """The grammar, as the package ships it."""
    return _data_file(_GRAMMAR_FILE).read_text(encoding="utf-8")


def _data_file(name: str) -> Traversable:
    """A file of the installed package's data, or of the repository for an editable install."""
    import importlib.resources  # only here: importing it costs more than the rest of parsing

    shipped = importlib.resources.files("projection") / "_data" / name
    if shipped.is_file():
        return shipped
    return repository_data_file(name)


def repository_data_file(name: str) -> Path:
    """Where the repository keeps a file that the wheel ships as package data."""
    return Path(__file__).resolve().parent.parent / "grammar" / name


class _ToSyntax(Transformer[Token, Selection]):
    """Called by the LALR parser at each reduction, so building the syntax never recurses.

    Callbacks take their children as a list (no ``v_args`` wrapper): parsing is mostly calls.
    """

    def start(self, children: list[Selection]) -> Selection:
        return children[0] if children else ()

    def selection(self, items: list[Item]) -> Selection:
        return tuple(items)

    def include(self, children: list[Any]) -> Item:
        path, *group = children
        return Item(path, group[0] if group else None, exclude=False)

    def exclude(self, children: list[tuple[Name, ...]]) -> Item:
        return Item(children[0], None, exclude=True)

    def path(self, tokens: list[Token]) -> tuple[Name, ...]:
        return tuple(Name(_key(token), _start(token)) for token in tokens)


def _key(token: Token) -> str | None:
    if token.type == "STAR":
        return None
    if token.type == "QUOTED":
        return token[1:-1].replace("``", "`")
    return str(token)


def _start(token: Token) -> int:
    assert token.start_pos is not None  # the lexer always records positions
    return token.start_pos


_OPTIONS: Final[dict[str, Any]] = {
    "parser": "lalr",
    "lexer": "basic",  # no two terminals compete for the same text
    "propagate_positions": False,
    "maybe_placeholders": False,
}


@functools.cache
def _parser() -> Lark:
    """The parser: its saved tables loaded if they were saved from this grammar, or built."""
    text = grammar_text()
    try:
        with _data_file(TABLES_FILE).open("rb") as file:
            if file.readline() == tables_header(text):
                return Lark.load(file)
    except FileNotFoundError:
        pass
    return build_parser(text)


def build_parser(text: str) -> Lark:
    """A parser for the grammar ``text``, its tables built by lark."""
    return Lark(text, transformer=_ToSyntax(), **_OPTIONS)


def tables_header(text: str) -> bytes:
    """The first line of the tables saved from ``text``: lark's version, a digest of both.

    The digest covers the grammar and the options; the transformer is saved as its class's name.
    """
    source = f"{sorted(_OPTIONS.items())}\n{text}".encode()
    return f"lark {lark.__version__} {hashlib.sha256(source).hexdigest()}\n".encode()


def save_tables(path: Path) -> None:
    """Save at ``path`` the tables of the parser built from the grammar, after their header."""
    text = grammar_text()
    with path.open("wb") as file:
        file.write(tables_header(text))
        build_parser(text).save(file)


# How the terminals of the grammar are called in error messages.
_READABLE = {
    "IDENT": "a name",
    "QUOTED": "a name",
    "STAR": "'*'",
    "_COMMA": "','",
    "_MINUS": "'-'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_SLASH": "'/'",
    "$END": "the end of the expression",
}
_ORDER = ("a name", "'*'", "'-'", "'('", "'/'", "','", "')'", "the end of the expression")


def parse_syntax(text: str, limits: Limits) -> Selection:
    """The items of ``text``; raises ``ProjectionSyntaxError`` or ``ProjectionLimitError``."""
    if len(text) > limits.max_length:
        raise ProjectionLimitError(
            f"the expression is longer than {limits.max_length} characters",
            text,
            limits.max_length,
        )
    try:
        selection: Selection = _parser().parse(text)  # type: ignore[assignment]
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    _check_depth_and_items(text, selection, limits)
    return selection


def _syntax_error(text: str, error: UnexpectedInput) -> ProjectionSyntaxError:
    if isinstance(error, UnexpectedCharacters):
        assert error.pos_in_stream is not None  # the lexer always says where it stopped
        pos = error.pos_in_stream
        # Every character starts some token except a backtick that no closing backtick matches.
        found = "unterminated quoted name" if text[pos] == "`" else f"unexpected {text[pos]!r}"
    elif isinstance(error, UnexpectedToken) and error.token.type != "$END":
        pos, found = _start(error.token), f"unexpected {_describe(error.token)}"
    else:
        pos, found = len(text), "unexpected end of the expression"
    expected = _expected_at(text, pos)
    message = f"{found} at column {pos + 1}"
    if expected:
        message += f": expected {_or_list(expected)}"
    return ProjectionSyntaxError(message, text, pos, expected)


def _expected_at(text: str, pos: int) -> tuple[str, ...]:
    """What could stand at ``pos``, read off the parser state just before the faulty token.

    The state in the error itself can be wrong: LALR may already have reduced on the faulty
    lookahead (``a(b`` then the end reduces the group, leaving only ``)`` acceptable).
    """
    replay = _parser().parse_interactive(text)
    try:
        for token in replay.iter_parse():
            if _start(token) >= pos:
                break
    except UnexpectedInput:
        pass
    terminals = replay.accepts()  # type: ignore[no-untyped-call]
    words = {_READABLE[terminal] for terminal in terminals}
    return tuple(word for word in _ORDER if word in words)


def _describe(token: Token) -> str:
    if token.type in ("IDENT", "QUOTED"):
        return f"name {str(token)!r}"
    return repr(str(token))


def _or_list(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _check_depth_and_items(text: str, selection: Selection, limits: Limits) -> None:
    """Raise at the first name, left to right, that is nested too deep or one name too many."""
    count = 0
    # Each frame: the items of one group level, the next one to visit, and the group's depth.
    stack: list[tuple[Selection, int, int]] = [(selection, 0, 0)]
    while stack:
        items, index, base = stack.pop()
        if index == len(items):
            continue
        item = items[index]
        stack.append((items, index + 1, base))
        for offset, name in enumerate(item.path, start=1):
            count += 1
            if base + offset > limits.max_depth:
                raise ProjectionLimitError(
                    f"names are nested deeper than {limits.max_depth} levels",
                    text,
                    name.pos,
                )
            if count > limits.max_items:
                raise ProjectionLimitError(
                    f"the expression names more than {limits.max_items} fields", text, name.pos
                )
        if item.group is not None:
            stack.append((item.group, 0, base + len(item.path)))
