"""The grammar's files: its text, and lark's parse tables for it, saved beside it.

Building the tables from the grammar takes 14 ms of each process's first parse, loading them half
a millisecond, so they ship with the grammar as lark saves them, after a header line: lark's
version and a digest of the grammar and the lark options. ``load`` reads them only when that
header is the one this grammar, these options and this lark would write; otherwise it returns
None and the caller builds the parser. After editing the grammar, save them again:
``python grammar/save_tables.py``. This module knows files and headers, not the grammar's
meaning: ``_grammar`` gives the options and builds the parser.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import lark
from lark import Lark

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["TABLES_FILE", "grammar_text", "header", "load", "repository_data_file", "save"]

_GRAMMAR_FILE: Final = "responsefields.lark"
TABLES_FILE: Final = "responsefields.lalr"


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


def header(text: str, options: Mapping[str, Any]) -> bytes:
    """The first line of the tables saved from the grammar ``text`` and lark ``options``: lark's
    version, a digest of both.

    The transformer is no option here: lark saves it as its class's name.
    """
    source = f"{sorted(options.items())}\n{text}".encode()
    return f"lark {lark.__version__} {hashlib.sha256(source).hexdigest()}\n".encode()


def load(text: str, options: Mapping[str, Any]) -> Lark | None:
    """The parser of the saved tables, if they were saved from ``text`` and ``options`` by this
    lark; None if they were not, or are missing."""
    try:
        with _data_file(TABLES_FILE).open("rb") as file:
            if file.readline() == header(text, options):
                return Lark.load(file)
    except FileNotFoundError:
        pass
    return None


def save(path: Path, text: str, options: Mapping[str, Any], parser: Lark) -> None:
    """Save at ``path`` the tables of ``parser``, built from ``text`` and ``options``, after
    their header."""
    with path.open("wb") as file:
        file.write(header(text, options))
        parser.save(file)
