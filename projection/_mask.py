"""Syntax to mask: the value every projection denotes, and its algebra (SEMANTICS.md section 2).

A mask is ``DROP``, ``WHOLE`` or a ``Node`` (a default mask plus ordered entries). Masks are
immutable, always simplified, and compare as SEMANTICS.md says: entry order counts only under a
``DROP`` default. ``build`` turns parsed syntax into a mask; ``union`` and ``compose`` are closed
over masks. ``trie`` gathers paths into one trie, walked once: the exclusions ``build`` applies,
and the FieldMask paths of ``_paths``.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, TypeAlias, final

from ._grammar import Item, Name, Selection

__all__ = [
    "DROP",
    "END",
    "WHOLE",
    "Leaf",
    "Mask",
    "MaskTooLargeError",
    "Node",
    "Trie",
    "build",
    "compose",
    "kept",
    "node",
    "trie",
    "union",
]


class Leaf(enum.Enum):
    """The two masks without entries."""

    DROP = "drop"
    WHOLE = "whole"

    def __repr__(self) -> str:
        return self.name


DROP: Final = Leaf.DROP
WHOLE: Final = Leaf.WHOLE


@final
class Node:
    """A mask for an object: ``entries`` for the keys it names, ``default`` for every other key.

    Build nodes with ``node()``, which simplifies; never mutate ``entries``.
    """

    __slots__ = ("_hash", "default", "entries")

    default: Mask
    entries: Mapping[str, Mask]

    def __init__(self, default: Mask, entries: Mapping[str, Mask]) -> None:
        self.default = default
        self.entries = entries
        self._hash: int | None = None  # on first use: parsing alone never needs it

    def __reduce__(self) -> tuple[object, ...]:
        # The cached hash depends on the process's hash seed: rebuild it where the node lands.
        return (Node, (self.default, dict(self.entries)))

    def gives(self, key: str) -> Mask:
        """The mask this node applies to ``key``."""
        return self.entries.get(key, self.default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        if self is other:
            return True
        if hash(self) != hash(other) or self.default != other.default:
            return False
        if self.default is DROP:
            return list(self.entries.items()) == list(other.entries.items())
        return self.entries == other.entries

    def __hash__(self) -> int:
        found = self._hash
        if found is None:
            items = self.entries.items()
            found = hash((self.default, tuple(items) if self.default is DROP else frozenset(items)))
            self._hash = found
        return found

    def __repr__(self) -> str:
        return f"Node({self.default!r}, {dict(self.entries)!r})"


Mask: TypeAlias = Leaf | Node


def node(default: Mask, entries: Iterable[tuple[str, Mask]]) -> Mask:
    """The simplified mask: no entry equal to the default, and an empty WHOLE node is WHOLE."""
    # Later pairs for a key replace earlier ones but keep the key's first position.
    merged = dict(entries)
    if isinstance(default, Node):
        kept = {key: mask for key, mask in merged.items() if mask != default}
    else:  # a leaf equals only itself
        kept = {key: mask for key, mask in merged.items() if mask is not default}
    if default is WHOLE and not kept:
        return WHOLE
    return Node(default, kept)


NOTHING: Final = node(DROP, ())


def kept(level: Node, keys: Iterable[str], *, case_insensitive: bool) -> list[tuple[str, Mask]]:
    """The document ``keys`` that ``level`` keeps, in output order (rule 8), each with its mask.

    A DROP-default node keeps its entries' order; with ``case_insensitive`` names, the several
    spellings of one entry come out together, in document order. Any other node keeps the
    document's order.
    """
    if level.default is not DROP:
        if not level.entries:  # "*(...)": every key, one mask
            return [(key, level.default) for key in keys]
        gives = level.gives
        chosen = ((key, gives(key.casefold() if case_insensitive else key)) for key in keys)
        return [(key, mask) for key, mask in chosen if mask is not DROP]
    if not case_insensitive:
        present = keys if isinstance(keys, (dict, set, frozenset)) else set(keys)
        return [(key, mask) for key, mask in level.entries.items() if key in present]
    spellings: dict[str, list[str]] = {}
    for key in keys:
        spellings.setdefault(key.casefold(), []).append(key)
    return [
        (key, mask) for entry, mask in level.entries.items() for key in spellings.get(entry, ())
    ]


def union(*masks: Mask, max_entries: int | None = None) -> Mask:
    """Keeps every path that any of ``masks`` keeps; entries in the order they first come.

    United in one step: two at a time, n masks would cost n squared. With ``max_entries``,
    ``MaskTooLargeError`` as soon as the entries the union copies (defaults given to the keys
    of other masks) pass it, as ``build`` does.
    """
    return _Builder(case_insensitive=False, max_entries=max_entries).union(masks)


def compose(outer: Mask, inner: Mask) -> Mask:
    """``outer`` applied after ``inner``: what both keep (rule 12)."""
    if outer is DROP or inner is DROP:
        return DROP
    if outer is WHOLE:
        return inner
    if inner is WHOLE:
        return outer
    assert isinstance(outer, Node)
    assert isinstance(inner, Node)
    # Under a DROP default only the outer's entries survive, so its order is the result's order;
    # otherwise the inner's order, which is the one that counts when the inner default is DROP.
    first, second = (outer, inner) if outer.default is DROP else (inner, outer)
    keys = [*first.entries, *(key for key in second.entries if key not in first.entries)]
    return node(
        compose(outer.default, inner.default),
        ((key, compose(outer.gives(key), inner.gives(key))) for key in keys),
    )


class MaskTooLargeError(Exception):
    """Building a mask was stopped: it would hold more entries than it may."""


def build(
    selection: Selection, *, case_insensitive: bool = False, max_entries: int | None = None
) -> Mask:
    """The mask of a parsed selection; ``case_insensitive``, every name folded by ``str.casefold``.

    A mask can hold more than its text names: ``-*/x`` copies ``x`` into every entry, and the
    union of ``*(...)`` groups gives each key every group. With ``max_entries``, building stops
    with ``MaskTooLargeError`` as soon as the entries made pass it, before the work grows with
    the product of the two.
    """
    return _Builder(case_insensitive, max_entries).build(selection)


class _Builder:
    """Builds masks, counting the entries of the nodes it makes against a bound, if any."""

    def __init__(self, case_insensitive: bool, max_entries: int | None) -> None:
        self._case_insensitive = case_insensitive
        self._left = max_entries

    def _folded(self, key: str) -> str:
        return key.casefold() if self._case_insensitive else key

    def _charge(self, entries: int) -> None:
        """Count ``entries`` copied into the mask: what makes it outgrow its text."""
        if self._left is not None:
            self._left -= entries
            if self._left < 0:
                raise MaskTooLargeError

    def build(self, selection: Selection) -> Mask:
        # The mask of each named include, and of a key named several times, all of its masks:
        # they are united at once, since two at a time, n of them would cost n squared.
        includes: dict[str, Mask] = {}
        repeated: dict[str, list[Mask]] = {}
        wildcards: list[Mask] = []
        excludes: list[tuple[Name, ...]] = []
        # Keys an item keeps whole (a bare ``k``): their other items are not built, since the
        # union is WHOLE whatever they give, and their entries would count against the bound
        # only to be thrown away: the bound is on the mask, not on the work.
        whole = {
            self._folded(path[0].key)
            for path, group, exclude in selection
            if not exclude and len(path) == 1 and group is None and path[0].key is not None
        }
        for path, group, exclude in selection:
            if exclude:
                excludes.append(path)
                continue
            key = path[0].key
            if key is not None:
                key = self._folded(key)
            # What an include gives its first name: ``k/rest(G)`` is ``k(rest(G))``.
            mask: Mask
            if key in whole:
                mask = WHOLE
            elif len(path) > 1:
                mask = self.build((Item(path[1:], group, False),))
            elif group is not None:
                mask = self.build(group)
            else:
                mask = WHOLE
            if key is None:
                wildcards.append(mask)
                continue
            if key in includes:
                repeated.setdefault(key, [includes[key]]).append(mask)
            else:
                includes[key] = mask
        for key, masks in repeated.items():
            includes[key] = self.union(masks)
        # A selection with named includes and no "*" keeps only what it names; one without
        # includes keeps everything it does not exclude.
        if wildcards:
            result = node(self.union(wildcards), includes.items())
        elif includes:
            # A DROP default, which no entry equals (a built mask is never DROP): simplified.
            result = Node(DROP, includes)
        else:
            result = WHOLE
        if not excludes:
            return result
        folding = self._case_insensitive
        paths = ([_key(name, folding) for name in path] for path in excludes)
        return self.exclude(result, trie(paths))

    def union(self, masks: Sequence[Mask]) -> Mask:
        """Keeps every path that any of ``masks`` keeps; entries in the order they first come.

        A key a node does not name gets that node's default, so each key's mask is the union of
        the entries naming it and of the defaults of the nodes without it. Equal defaults are
        taken once, and a WHOLE among them settles it: the work grows with the masks, not with
        their number times their keys.
        """
        nodes: list[Node] = []
        for mask in masks:
            if mask is WHOLE:
                return WHOLE
            if isinstance(mask, Node):
                nodes.append(mask)
        if not nodes:
            return DROP
        if len(nodes) == 1:
            return nodes[0]
        # Each open default (not DROP), with the nodes that give it, in order.
        holders: dict[Mask, list[int]] = {}
        for number, each in enumerate(nodes):
            if each.default is not DROP:
                holders.setdefault(each.default, []).append(number)
        gathered: dict[str, list[tuple[int, Mask]]] = {}
        for number, each in enumerate(nodes):
            for key, mask in each.entries.items():
                gathered.setdefault(key, []).append((number, mask))
        entries = []
        for key, named in gathered.items():
            # With the defaults of the nodes that do not name the key, each where it first
            # comes: the union keeps its operands' order. A node skipped here names the key, so
            # the skipping costs no more than the entries themselves.
            sequence = list(named)
            for default, givers in holders.items():
                giver = next((n for n in givers if key not in nodes[n].entries), None)
                if giver is not None:
                    sequence.append((giver, default))
            self._charge(len(sequence) - len(named))
            sequence.sort(key=operator.itemgetter(0))
            entries.append((key, self.union([mask for _, mask in sequence])))
        return node(self.union(list(holders)), entries)

    def exclude(self, mask: Mask, trie: Trie) -> Mask:
        """``mask`` without every path of ``trie``, as if excluded one after another."""
        if mask is DROP:
            return DROP
        target = Node(WHOLE, {}) if mask is WHOLE else mask
        assert isinstance(target, Node)
        every = trie.get(None)
        if every is not None and END in every:
            return NOTHING
        named = [key for key in trie if isinstance(key, str) and key not in target.entries]
        excluded: list[tuple[str, Mask]] = []
        for key in [*target.entries, *named]:
            below = _merged(every, trie.get(key))
            if below is None:
                excluded.append((key, target.entries[key]))
            elif END in below:
                excluded.append((key, DROP))
            else:
                excluded.append((key, self.exclude(target.gives(key), below)))
        default = target.default if every is None else self.exclude(target.default, every)
        made = node(default, excluded)
        if isinstance(made, Node):
            self._charge(len(made.entries))
        return made


def _key(name: Name, case_insensitive: bool) -> str | None:
    if name.key is None or not case_insensitive:
        return name.key
    return name.key.casefold()


# Paths as a trie: a key (None for "*") leads to the paths below it; END marks a path that ends
# there. Exclusions are applied all at once through one: in one walk, the cost is the size of the
# mask times the size of the trie; one at a time, "-*/x" items would each copy every entry again.
Trie: TypeAlias = dict[object, "Trie"]
END: Final = object()


def trie(paths: Iterable[Iterable[str | None]]) -> Trie:
    """``paths`` (each a sequence of keys, None for "*") as a trie, each path ending in ``END``."""
    root: Trie = {}
    for path in paths:
        level = root
        for key in path:
            level = level.setdefault(key, {})
        level[END] = {}
    return root


def _merged(first: Trie | None, second: Trie | None) -> Trie | None:
    """The paths of both tries (either may be None, for no paths)."""
    if first is None or second is None:
        return second if first is None else first
    merged = dict(first)
    for key, below in second.items():
        merged[key] = _merged(merged.get(key), below) or {}
    return merged
