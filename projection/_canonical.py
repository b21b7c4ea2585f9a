"""Mask to text: the canonical expression of a mask, and its measure against the limits.

``text(node)`` prints a node as grammar/SEMANTICS.md section 4 says: no white space, names quoted
only where section 1 requires it, entries in order under a DROP default and sorted otherwise. The
text is made of pieces (``pieces``), each saying whether it is a name, so that ``excess`` can
measure it against the limits of section 5 and stop where it passes them, without printing it.
``quote`` is the one backtick quoting of the package: FieldMask paths quote with it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from ._errors import ProjectionLimitError
from ._grammar import Limits, Selection
from ._mask import DROP, WHOLE, Mask, Node
from ._schema import Schema

__all__ = ["excess", "limit_error", "pieces", "quote", "text"]

# SEMANTICS.md section 1: a name is quoted when it is empty, starts with "-", or holds one of these.
_SPECIAL: Final = re.compile(r"^-|[,()/*`\x20\t\r\n]")


def quote(name: str, special: re.Pattern[str] = _SPECIAL) -> str:
    """``name`` as written: bare, unless it is empty or ``special`` finds something in it; then
    in backticks, each backtick in it doubled. ``special`` defaults to the expression language's
    rule; FieldMask paths give their own."""
    if name and not special.search(name):
        return name
    return "`" + name.replace("`", "``") + "`"


def text(node: Node) -> str:
    """The comma list that denotes ``node`` (the canonical text)."""
    return "".join(piece for piece, _ in pieces(node))


def pieces(node: Node) -> Iterator[tuple[str, bool]]:
    """The canonical text of ``node`` in pieces, each saying whether it is a name."""
    if node.default is DROP:
        if not node.entries:
            yield "-", False
            yield "*", True
            return
        for number, (key, mask) in enumerate(node.entries.items()):
            if number:
                yield ",", False
            yield from _include_pieces(key, mask)
        return
    if node.default is WHOLE:
        exclusions = _exclusion_paths(node)
        if exclusions is not None:
            for number, path in enumerate(exclusions):
                yield ("-" if number == 0 else ",-"), False
                for depth, key in enumerate(path):
                    if depth:
                        yield "/", False
                    yield quote(key), True
            return
        yield "*", True
    else:
        assert isinstance(node.default, Node)
        yield "*", True
        yield "(", False
        yield from pieces(node.default)
        yield ")", False
    for key in sorted(node.entries):
        mask = node.entries[key]
        yield ",", False
        if mask is DROP:
            yield "-", False
            yield quote(key), True
        else:
            yield from _include_pieces(key, mask)


def _include_pieces(key: str, mask: Mask) -> Iterator[tuple[str, bool]]:
    yield quote(key), True
    if isinstance(mask, Node):
        yield "(", False
        yield from pieces(mask)
        yield ")", False


def _exclusion_paths(node: Node) -> list[tuple[str, ...]] | None:
    """Sorted paths of a WHOLE-default node that only excludes, or None if it does more."""
    paths: list[tuple[str, ...]] = []
    for key in sorted(node.entries):
        mask = node.entries[key]
        if mask is DROP:
            paths.append((key,))
            continue
        if not (isinstance(mask, Node) and mask.default is WHOLE):
            return None
        inner = _exclusion_paths(mask)
        if inner is None:
            return None
        paths.extend((key, *path) for path in inner)
    return paths


# -- the canonical text against the limits ----------------------------------------------------


def excess(
    expression: str,
    mask: Mask,
    *,
    case_insensitive: bool,
    schema: Schema | None,
    limits: Limits,
) -> str | None:
    """What of the canonical text of ``expression``'s ``mask`` passes ``limits``; None if nothing.

    ``-*/x`` copies ``x`` into every entry, exclusions print as whole paths and ``a/b`` as
    ``a(b)``: the canonical text can outgrow the expression. Held to the same limits, it always
    parses back with the same options. Measured, never printed, and read only until it passes a
    limit, so that refusing costs no more than accepting.
    """
    if not isinstance(mask, Node) or _surely_fits(expression, case_insensitive, schema, limits):
        return None
    characters = names = 0
    for piece, is_name in pieces(mask):
        characters += len(piece)
        names += is_name
        if characters > limits.max_length:
            return f"more than {limits.max_length} characters"
        if names > limits.max_items:
            return f"more than {limits.max_items} names"
    return None


def _surely_fits(
    expression: str, case_insensitive: bool, schema: Schema | None, limits: Limits
) -> bool:
    """Whether the canonical text of ``expression``'s mask is surely within ``limits``, unmeasured.

    Without a schema, and with no "-" or "*" in the expression (so no exclusions, which print
    whole paths and copy through "*", and no "*" whose group merges into named entries), the
    canonical text is the expression with each "a/b" written "a(b)", names case-folded under
    ``case_insensitive``, quotes and white space only where needed and the items of one key
    merged into one: at most one character longer per "/", and no more names (already counted).
    """
    if schema is not None or "-" in expression or "*" in expression:
        return False
    # Case folding never makes a character that needs quoting (it maps letters to letters).
    length = len(expression.casefold()) if case_insensitive else len(expression)
    return length + expression.count("/") <= limits.max_length


def limit_error(expression: str, syntax: Selection, excess: str) -> ProjectionLimitError:
    """The refusal of ``expression``, whose canonical text stands for ``excess``."""
    return ProjectionLimitError(
        f"the expression stands for {excess} in canonical form, more than the limit",
        expression,
        _crossing_item(syntax),
    )


def _crossing_item(selection: Selection) -> int:
    """Where the item starts that makes the canonical text outgrow the expression.

    The first item that copies names into others, if there is one: an exclusion through ``*``
    (``-*/x`` copies ``x`` into every entry) or a ``*(...)`` group (its names go to every key
    beside it). Otherwise the exclusion nested deepest in groups, whose path the text repeats in
    full for every name it excludes there; otherwise the first path (``a/b`` prints as
    ``a(b)``). The first of each kind, left to right.
    """
    deepest = (-1, 0)  # (depth, pos) of the deepest exclusion so far
    copying: list[int] = []
    paths: list[int] = []
    stack: list[tuple[Selection, int]] = [(selection, 0)]
    while stack:
        items, depth = stack.pop()
        for item in items:
            start = item.path[0].pos
            if item.exclude:
                if any(name.key is None for name in item.path[:-1]):
                    copying.append(start)
                if depth > deepest[0] or (depth == deepest[0] and start < deepest[1]):
                    deepest = (depth, start)
            elif item.group is not None and item.path[-1].key is None:
                copying.append(start)
            if len(item.path) > 1:
                paths.append(start)
            if item.group is not None:
                stack.append((item.group, depth + len(item.path)))
    if copying:
        return min(copying)
    return deepest[1] if deepest[0] >= 0 else min(paths, default=0)
