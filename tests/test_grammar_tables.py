"""The parser's saved tables: current, loaded, and a parser that behaves as one built by lark."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import lark
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lark import Lark

from projection import ProjectionLimitError, ProjectionSyntaxError, _grammar
from projection._grammar import Limits, parse_syntax
from tests.strategies import expressions, texts

LOADED = "<deserialized>"  # what lark names the source of a parser it loaded


def saved_with() -> tuple[str, str]:
    """The lark version and the digest of grammar and options the shipped tables were saved with."""
    path = _grammar.repository_data_file(_grammar.TABLES_FILE)
    _, version, digest = path.read_bytes().split(b"\n", 1)[0].decode().split()
    return version, digest


def test_the_saved_tables_are_those_of_the_grammar_and_are_loaded() -> None:
    version, digest = saved_with()
    _, _, expected = _grammar.tables_header(_grammar.grammar_text()).decode().split()
    assert digest == expected, "the grammar changed: run python grammar/save_tables.py"
    if version != lark.__version__:
        pytest.skip(f"tables saved with lark {version}, lark {lark.__version__} builds its own")
    assert _grammar._parser().source_path == LOADED


def _parser_from(tables: Path | None, monkeypatch: pytest.MonkeyPatch) -> Lark:
    """The parser as it is made when the package's tables file is ``tables`` (None: missing)."""
    data_file = _grammar._data_file

    def file(name: str) -> Any:
        if name != _grammar.TABLES_FILE:
            return data_file(name)
        return tables if tables is not None else Path("/nonexistent") / name

    monkeypatch.setattr(_grammar, "_data_file", file)
    return _grammar._parser.__wrapped__()


def test_tables_are_loaded_only_when_saved_from_this_grammar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = tmp_path / _grammar.TABLES_FILE
    _grammar.save_tables(tables)
    assert _parser_from(tables, monkeypatch).source_path == LOADED
    # Saved from another grammar, options or lark: lark builds the tables from the grammar.
    header, rest = tables.read_bytes().split(b"\n", 1)
    tables.write_bytes(header[:-1] + b"0\n" + rest)
    assert _parser_from(tables, monkeypatch).source_path != LOADED
    assert _parser_from(None, monkeypatch).source_path != LOADED


def _outcome(text: str) -> object:
    try:
        return parse_syntax(text, Limits())
    except (ProjectionSyntaxError, ProjectionLimitError) as error:
        return type(error), str(error), error.pos


@functools.cache
def _built() -> Lark:
    return _grammar.build_parser(_grammar.grammar_text())


@given(text=st.one_of(expressions, texts))
def test_the_parser_behaves_as_one_built_from_the_grammar(text: str) -> None:
    """Syntax, positions and error messages (which replay the parser) all agree."""
    outcome = _outcome(text)  # through the parser in use: the saved tables, loaded
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_grammar, "_parser", _built)
        assert _outcome(text) == outcome
