"""The reference applier: a mask applied to Python values (grammar/SEMANTICS.md, rules 1 to 10).

This is the oracle every faster path is tested against, written for clarity over speed. Objects
are ``dict``, arrays are ``list``; anything else is a primitive and passes unchanged. With a
schema, every object's keys come in the schema's order (rule 8). Recursion follows the mask, never
the document: arrays nested to any depth are walked with a stack (``map_nested``, which the fast
path shares).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._mask import WHOLE, Mask, Node, kept
from ._schema import Schema, Scope, arrange, level
from ._schema import root as schema_root

__all__ = ["apply", "map_nested"]


def apply(
    mask: Mask, value: Any, *, case_insensitive: bool = False, schema: Schema | None = None
) -> Any:
    """``value`` projected by ``mask``; the input is never modified, kept values are shared.

    ``schema`` is the Struct type the document is: every object below it that the schema knows
    writes its keys in the schema's order, keys the schema lacks after them (rule 8).
    """
    return _apply(mask, value, case_insensitive, None if schema is None else schema_root(schema))


def _apply(mask: Mask, value: Any, case_insensitive: bool, scope: Scope | None) -> Any:
    if mask is WHOLE:
        return value
    assert isinstance(mask, Node)
    if isinstance(value, dict):
        return _apply_object(mask, value, case_insensitive, scope)
    if isinstance(value, list):
        return map_nested(
            value, lambda element: _apply(mask, element, case_insensitive, scope), _list_items
        )
    return value


def _apply_object(
    node: Node, value: dict[str, Any], case_insensitive: bool, scope: Scope | None
) -> dict[str, Any]:
    pairs = kept(node, value, case_insensitive=case_insensitive)
    if scope is None:
        return {key: _apply(mask, value[key], case_insensitive, None) for key, mask in pairs}
    return {
        key: _apply(mask, value[key], case_insensitive, below)
        for key, mask, below in arrange(pairs, level(scope), case_insensitive, value)
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
