"""Masks as FieldMask paths and back: ``customerAccount.contacts``, ``*.id``.

A path is dotted segments; a segment holding ``.`` or a backtick, ``*`` itself and the empty
key are quoted in backticks (``quote``, a doubled backtick for one), and a bare ``*`` is every
key. ``paths(node)`` says a mask that keeps whole values under named keys or under ``*`` alone,
depth first in entry order; ``mask(paths)`` is its inverse. What paths cannot say (exclusions,
``*`` beside named keys, an object kept with no key) is a ``ValueError`` both ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ._canonical import quote, text
from ._mask import DROP, END, WHOLE, Mask, Node, Trie, node, trie

__all__ = ["mask", "paths"]

# A FieldMask path segment is quoted when it holds "." or "`", or is "*" (or empty).
_SPECIAL: Final = re.compile(r"^\*\Z|[.`]")


def paths(level: Node) -> list[str]:
    """The paths that say ``level``, depth first in entry order; ``ValueError`` if none can."""
    if level.default is DROP:
        if not level.entries:
            raise ValueError("paths cannot say a projection that keeps an object but no key of it")
        found: list[str] = []
        for key, entry in level.entries.items():
            segment = quote(key, _SPECIAL)
            if entry is WHOLE:
                found.append(segment)
            else:
                assert isinstance(entry, Node)
                found.extend(f"{segment}.{path}" for path in paths(entry))
        return found
    if level.entries or not isinstance(level.default, Node):
        raise ValueError(f"paths cannot say {text(level)!r}: it excludes or mixes '*'")
    return [f"*.{path}" for path in paths(level.default)]


def mask(written: Iterable[str], *, case_insensitive: bool, max_depth: int) -> Mask:
    """The mask keeping exactly the paths ``written``, names folded under ``case_insensitive``.

    ``ValueError`` for no paths, an empty or malformed path, ``*`` beside named paths at one
    level, or a path longer than ``max_depth`` segments; ``TypeError`` for a path not a str.
    """

    def segments() -> Iterable[list[str | None]]:
        for path in written:
            found = _split(path)
            if len(found) > max_depth:
                raise ValueError(f"path {path!r} is deeper than {max_depth} segments")
            if case_insensitive:
                found = [None if key is None else key.casefold() for key in found]
            yield found

    kept = trie(segments())
    if not kept:  # every path has a segment at least
        raise ValueError("from_paths needs at least one path")
    return _included(kept)


def _split(path: str) -> list[str | None]:
    """The segments of one dotted path; ``None`` is an unquoted ``*``."""
    if not isinstance(path, str):
        raise TypeError(f"a path must be str, not {type(path).__name__}")
    segments: list[str | None] = []
    index = 0
    while True:
        if path.startswith("`", index):
            end = index + 1
            chunks: list[str] = []
            while True:
                close = path.find("`", end)
                if close < 0:
                    raise ValueError(f"unterminated quote at {index} in path {path!r}")
                chunks.append(path[end:close])
                if not path.startswith("`", close + 1):
                    break
                chunks.append("`")
                end = close + 2
            segment: str | None = "".join(chunks)
            index = close + 1
            if index < len(path) and path[index] != ".":
                raise ValueError(f"expected '.' at {index} in path {path!r}")
        else:
            dot = path.find(".", index)
            end = len(path) if dot < 0 else dot
            raw = path[index:end]
            if not raw:
                raise ValueError(f"empty segment at {index} in path {path!r}")
            if "`" in raw:
                raise ValueError(f"unexpected '`' inside segment {raw!r} of path {path!r}")
            segment = None if raw == "*" else raw
            index = end
        segments.append(segment)
        if index == len(path):
            return segments
        index += 1  # past the "."
        if index == len(path):
            raise ValueError(f"empty segment at {index} in path {path!r}")


def _included(level: Trie) -> Mask:
    """The mask keeping exactly the paths of ``level``: a path that ends keeps all below it."""
    if END in level:
        return WHOLE
    wildcard = level.get(None)
    named = [(key, _included(below)) for key, below in level.items() if isinstance(key, str)]
    if wildcard is not None and named:
        raise ValueError("'*' cannot stand beside named paths at the same level")
    return node(DROP if wildcard is None else _included(wildcard), named)
