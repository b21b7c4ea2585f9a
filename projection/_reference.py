"""The reference applier: a mask applied to Python values (grammar/SEMANTICS.md, rules 1 to 10).

This is the oracle every faster path is tested against, written for clarity over speed. Objects
are ``dict``, arrays are ``list``; anything else is a primitive and passes unchanged. Recursion
follows the mask, never the document: arrays nested to any depth are walked with a stack
(``map_nested``, which the fast path shares).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._mask import WHOLE, Mask, Node, kept

__all__ = ["apply", "map_nested"]


def apply(mask: Mask, value: Any, *, case_insensitive: bool = False) -> Any:
    """``value`` projected by ``mask``; the input is never modified, kept values are shared."""
    if mask is WHOLE:
        return value
    assert isinstance(mask, Node)
    return _apply_node(mask, value, case_insensitive)


def _apply_node(node: Node, value: Any, folded: bool) -> Any:
    if isinstance(value, dict):
        return _apply_object(node, value, folded)
    if isinstance(value, list):
        return map_nested(value, lambda element: _apply_node(node, element, folded), _list_items)
    return value


def _apply_object(node: Node, value: dict[str, Any], folded: bool) -> dict[str, Any]:
    return {
        key: apply(mask, value[key], case_insensitive=folded)
        for key, mask in kept(node, value, folded=folded)
    }


def map_nested(
    items: list[Any], function: Callable[[Any], Any], inner: Callable[[Any], list[Any] | None]
) -> list[Any]:
    """``items`` with ``function`` applied to every element, through arrays nested at any depth.

    ``inner(element)`` gives the elements of an element that is an array, None for any other:
    Python lists here, decoded JSON arrays in the fast path. Arrays keep their length, order and
    nesting (rule 6). A stack instead of recursion, so no depth is too deep.
    """
    root: list[Any] = []
    stack: list[tuple[list[Any], int, list[Any]]] = [(items, 0, root)]
    while stack:
        source, index, target = stack.pop()
        while index < len(source):
            element = source[index]
            index += 1
            elements = inner(element)
            if elements is None:
                target.append(function(element))
                continue
            child: list[Any] = []
            target.append(child)
            stack.append((source, index, target))
            source, index, target = elements, 0, child
    return root


def _list_items(value: Any) -> list[Any] | None:
    return value if isinstance(value, list) else None
