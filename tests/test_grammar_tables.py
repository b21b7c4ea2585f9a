"""The parser's saved tables: current, loaded, and a parser that behaves as one built by lark.

The fast parser (lark's tables driven by a compact loop) must read every text as lark's own
``Lark.parse`` does through the transformer: the same syntax, or no result where lark raises, and
then the same error, message, position and expected tokens.

Internals reached, as they must be: the parser and the fast parser (``projection._grammar``), and
the tables' files (``projection._tables``).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import lark
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Lark
from lark.exceptions import UnexpectedInput

from projection import ProjectionLimitError, ProjectionSyntaxError, _grammar, _tables
from projection._grammar import Limits, parse_syntax
from tests.strategies import expressions, texts

CASES = Path(__file__).resolve().parent / "cases"

LOADED = "<deserialized>"  # what lark names the source of a parser it loaded


def saved_with() -> tuple[str, str]:
    """The lark version and the digest of grammar and options the shipped tables were saved with."""
    path = _tables.repository_data_file(_tables.TABLES_FILE)
    _, version, digest = path.read_bytes().split(b"\n", 1)[0].decode().split()
    return version, digest


def test_the_saved_tables_are_those_of_the_grammar_and_are_loaded() -> None:
    version, digest = saved_with()
    _, _, expected = _tables.header(_tables.grammar_text(), _grammar.OPTIONS).decode().split()
    assert digest == expected, "the grammar changed: run python grammar/save_tables.py"
    if version != lark.__version__:
        pytest.skip(f"tables saved with lark {version}, lark {lark.__version__} builds its own")
    assert _grammar._parser().source_path == LOADED


def _parser_from(tables: Path | None, monkeypatch: pytest.MonkeyPatch) -> Lark:
    """The parser as it is made when the package's tables file is ``tables`` (None: missing)."""
    data_file = _tables._data_file

    def file(name: str) -> Any:
        if name != _tables.TABLES_FILE:
            return data_file(name)
        return tables if tables is not None else Path("/nonexistent") / name

    monkeypatch.setattr(_tables, "_data_file", file)
    return _grammar._parser.__wrapped__()


def test_tables_are_loaded_only_when_saved_from_this_grammar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = tmp_path / _tables.TABLES_FILE
    text = _tables.grammar_text()
    _tables.save(tables, text, _grammar.OPTIONS, _grammar.build_parser(text))
    assert _parser_from(tables, monkeypatch).source_path == LOADED
    # Saved from another grammar, options or lark: lark builds the tables from the grammar.
    header, rest = tables.read_bytes().split(b"\n", 1)
    tables.write_bytes(header[:-1] + b"0\n" + rest)
    assert _parser_from(tables, monkeypatch).source_path != LOADED
    assert _parser_from(None, monkeypatch).source_path != LOADED


def _outcome(text: str) -> object:
    try:
        return parse_syntax(text, Limits())
    except ProjectionSyntaxError as error:
        return type(error), str(error), error.pos, error.expected
    except ProjectionLimitError as error:
        return type(error), str(error), error.pos


@functools.cache
def _built() -> Lark:
    return _grammar.build_parser(_tables.grammar_text())


@given(text=st.one_of(expressions, texts))
def test_the_parser_behaves_as_one_built_from_the_grammar(text: str) -> None:
    """Syntax, positions and error messages (which replay the parser) all agree."""
    outcome = _outcome(text)  # through the parser in use: the saved tables, loaded
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_grammar, "_parser", _built)
        assert _outcome(text) == outcome


# -- the fast parser against lark's own ---------------------------------------------------------


def _case_expressions() -> list[str]:
    """Every expression of the case tables, of every kind, valid or not."""
    found: set[str] = set()
    for path in sorted(CASES.glob("*.json")):
        for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
            for key in ("expression", "canonical", "left", "right", "union", "composition"):
                if isinstance(case.get(key), str):
                    found.add(case[key])
            for key in ("equal", "not_equal"):
                found.update(case.get(key, []))
    return sorted(found)


def _lark_syntax(parser: Lark, text: str) -> object:
    """What lark's own driver makes of ``text`` through the transformer; None if it raises."""
    try:
        return parser.parse(text)
    except UnexpectedInput:
        return None


def _fast(parser: Lark) -> _grammar._FastParser:
    """A fast parser of its own: the shared one forgets all it learnt when it has learnt too much,
    and then leaves the text it was reading to lark."""
    assert _grammar._fast_parser(parser) is not None, "the grammar is one the fast parser reads"
    return _grammar._FastParser(parser)


def _read(fast: _grammar._FastParser, text: str) -> object:
    """What the fast parser makes of ``text``: its syntax, or None for a syntax error."""
    read = fast.parse(text)
    assert read is not None, "a fresh fast parser leaves nothing this short to lark"
    return None if isinstance(read, _grammar._Fault) else read


def _same_as_lark(text: str) -> None:
    for parser in (_grammar._parser(), _built()):  # the tables loaded and the tables built
        assert _read(_fast(parser), text) == _lark_syntax(parser, text)
    # Errors are described as lark describes them: position, found, expected, message.
    with_fast = _outcome(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_grammar, "_fast_parser", lambda parser: None)
        assert _outcome(text) == with_fast


def test_case_tables_hold_valid_and_invalid_expressions() -> None:
    found = _case_expressions()
    parser = _grammar._parser()
    assert sum(_lark_syntax(parser, text) is None for text in found) >= 30
    assert sum(_lark_syntax(parser, text) is not None for text in found) >= 300


@pytest.mark.parametrize("text", _case_expressions())
def test_the_fast_parser_reads_the_case_tables_as_lark_does(text: str) -> None:
    _same_as_lark(text)


@given(text=st.one_of(expressions, texts))
def test_the_fast_parser_reads_any_text_as_lark_does(text: str) -> None:
    _same_as_lark(text)


@given(text=expressions)
def test_the_fast_parser_reads_every_expression_itself(text: str) -> None:
    """Valid text is never left to lark."""
    read = _fast(_grammar._parser()).parse(text)
    assert read is not None
    assert not isinstance(read, _grammar._Fault)


@given(
    text=expressions,
    max_depth=st.integers(1, 6),
    max_items=st.integers(0, 12),
)
def test_depth_and_items_are_checked_as_one_walk_left_to_right(
    text: str, max_depth: int, max_items: int
) -> None:
    """The shortcuts (too short to cross, one quick pass) agree with the walk they skip."""
    limits = Limits(max_depth=max_depth, max_items=max_items)
    selection = parse_syntax(text, Limits())
    try:
        _grammar.check_depth_and_items(text, selection, limits)
    except ProjectionLimitError as error:
        crossed: object = (str(error), error.pos)
    else:
        crossed = None
    walked = _walk(text, selection, limits)
    assert crossed == walked
    assert _grammar._within(selection, limits) == (walked is None)


def _walk(text: str, selection: _grammar.Selection, limits: Limits) -> object:
    """The first name, depth first and left to right, that crosses a limit (SEMANTICS.md, 5)."""
    count = 0

    def visit(items: _grammar.Selection, base: int) -> tuple[str, int] | None:
        nonlocal count
        for item in items:
            for offset, name in enumerate(item.path, start=1):
                count += 1
                if base + offset > limits.max_depth:
                    return f"names are nested deeper than {limits.max_depth} levels", name.pos
                if count > limits.max_items:
                    return f"the expression names more than {limits.max_items} fields", name.pos
            if item.group is not None:
                found = visit(item.group, base + len(item.path))
                if found is not None:
                    return found
        return None

    found = visit(selection, 0)
    if found is None:
        return None
    message, pos = found
    return str(ProjectionLimitError(message, text, pos)), pos


def test_configurations_are_forgotten_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile nesting makes a configuration per token: the fast parser keeps a bounded number,
    and reads the text that passes the bound on a plain stack, as lark does."""
    monkeypatch.setattr(_grammar, "_MAX_CONFIGURATIONS", 40)
    fast = _grammar._FastParser(_grammar._parser())
    deep = "a(" * 30 + "b" + ")" * 30
    assert fast.parse(deep) == _grammar._parser().parse(deep)
    assert fast.configurations <= 40
    assert fast.parse("a(b(c)),d") == _grammar._parser().parse("a(b(c)),d")
    assert fast.configurations <= 40


# Nested deeper than the parser learns (``_DEEPEST`` made 10 below), and shallow enough for
# lark's own description of an error, which copies its stack (recursively, before lark 1.2).
@pytest.mark.parametrize(
    "text",
    [
        "a(" * 40 + "b" + ")" * 40,
        "a(" * 40 + "b" + ")" * 39,  # cut short
        "a(" * 40 + "b" + ")" * 41,  # one too many
        "-a/" * 40 + "b,c",
        "a(" * 30 + "*(" * 10 + ")" * 40,  # an empty group, deep down
        "a(" * 40 + "b" + ")" * 20 + ",`c" + ")" * 20,  # unterminated quote
    ],
)
def test_text_nested_deeper_than_the_parser_learns_is_read_plainly(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """Stacks deeper than ``_DEEPEST`` are met once: not learnt, read plainly, as lark reads
    them, errors described alike."""
    monkeypatch.setattr(_grammar, "_DEEPEST", 10)
    fast = _grammar._FastParser(_grammar._parser())
    assert _read(fast, text) == _lark_syntax(_grammar._parser(), text)
    assert all(c.depth <= 10 for c in _learnt(fast.root))
    _same_as_lark(text)


@given(text=st.one_of(expressions, texts))
def test_any_text_read_plainly_reads_as_lark_does(text: str) -> None:
    """Learning almost nothing, the fast parser reads nearly every text on its plain stack (its
    walks remembered by the top states they look at): the same syntax, the same errors."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_grammar, "_DEEPEST", 2)
        fast = _grammar._FastParser(_grammar._parser())
        for _ in range(2):  # the second time through what the first remembered
            assert _read(fast, text) == _lark_syntax(_grammar._parser(), text)


def _learnt(root: _grammar._Configuration) -> list[_grammar._Configuration]:
    found, stack = [], [root]
    while stack:
        configuration = stack.pop()
        found.append(configuration)
        stack.extend(configuration.above.values())
    return found


@pytest.mark.parametrize(
    ("rule", "changed"),
    [
        ("\nselection:", "\n?selection:"),  # inlined when it has one child
        ("\npath:", "\n!path:"),  # keeps its punctuation
    ],
)
def test_a_grammar_the_fast_parser_cannot_read_is_left_to_lark(rule: str, changed: str) -> None:
    text = _tables.grammar_text().replace(rule, changed)
    assert text != _tables.grammar_text()
    assert _grammar._fast_parser(_grammar.build_parser(text)) is None
